"""Customers through the API: create and edit with duplicate control, scopes, contacts."""

import pytest

from crm.audit.models import AuditEntry
from crm.customers.models import Contact, Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "sales", "sales2", "manager", "exec", "service")}


def test_salesperson_creates_a_customer_they_own(tenant_a, people, api_for, credit_code, in_tenant):
    api = api_for(tenant_a, people["sales"])
    code = credit_code()
    response = api.post("/api/v1/customers/", {"name": "北京合众思壮科技股份有限公司", "credit_code": code.lower(),
                                               "phone": "010-6552 9988", "tags": ["GPS", "GPS", "重点"]},
                        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == people["sales"].pk and body["credit_code"] == code
    assert body["tags"] == ["GPS", "重点"] and body["stage"] == "prospect"
    with in_tenant(tenant_a):
        customer = Customer.objects.get(pk=body["id"])
        assert customer.department_id == people["sales"].department_id
        assert customer.ownership_changes.get().reason == "created"
        assert AuditEntry.objects.filter(content_type__model="customer", object_id=str(customer.pk), action="create").exists()


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "credit_code": "91350100M000100Y44"}, "credit_code"),
    ({"name": "x", "credit_code": "123"}, "credit_code"),
    ({"name": "x", "phone": "abc-def"}, "phone"),
    ({"name": "x", "email": "not-mail"}, "email"),
    ({"name": "x", "stage": "married"}, "stage"),
    ({"name": "x", "region_id": 999999}, "region_id"),
    ({"name": "x", "custom": {"nope": 1}}, "custom.nope"),
])
def test_bad_input_is_400_naming_the_field_and_nothing_is_written(tenant_a, people, api_for, in_tenant,
                                                                   payload, field):
    with in_tenant(tenant_a):
        before = Customer.objects.count()
    response = api_for(tenant_a, people["sales"]).post("/api/v1/customers/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    with in_tenant(tenant_a):
        assert Customer.objects.count() == before


def test_identical_credit_code_is_refused_even_with_override(tenant_a, people, api_for, credit_code, new_customer):
    code = credit_code()
    new_customer(tenant_a, people["sales2"], "上海远景贸易有限公司", credit_code=code)
    api = api_for(tenant_a, people["sales"])
    response = api.post("/api/v1/customers/", {"name": "另一个名字", "credit_code": code,
                                               "duplicate_override": True}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_credit_code"
    assert response.json()["existing"]["owner"] == people["sales2"].full_name


def test_likely_duplicates_are_returned_before_saving_and_the_override_is_recorded(
        tenant_a, people, api_for, new_customer, in_tenant):
    existing = new_customer(tenant_a, people["sales2"], "华为技术有限公司", phone="0755-2878 0808")
    api = api_for(tenant_a, people["sales"])
    response = api.post("/api/v1/customers/", {"name": "华为技术（深圳）有限公司"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "possible_duplicates"
    candidate = response.json()["candidates"][0]
    assert candidate["id"] == existing.pk and candidate["matched_on"] == ["name"]
    assert candidate["visible"] is False and "phone" not in candidate  # not the salesperson's to see
    by_phone = api.post("/api/v1/customers/", {"name": "完全不同", "phone": "+86 755 28780808"}, format="json")
    assert by_phone.status_code == 409 and by_phone.json()["candidates"][0]["matched_on"] == ["phone"]
    with in_tenant(tenant_a):
        assert Customer.objects.filter(name="华为技术（深圳）有限公司").count() == 0
    forced = api.post("/api/v1/customers/", {"name": "华为技术（深圳）有限公司", "duplicate_override": True,
                                             "override_reason": "深圳分公司单独结算"}, format="json")
    assert forced.status_code == 201
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(content_type__model="customer", object_id=str(forced.json()["id"]),
                                       action="create")
        assert str(existing.pk) in entry.note and "深圳分公司单独结算" in entry.note


def test_scopes_on_list_and_detail(tenant_a, tenant_b, people, api_for, new_customer, user_in):
    mine = new_customer(tenant_a, people["sales"], "北京甲公司")  # region 北京 (under 华北)
    theirs = new_customer(tenant_a, people["sales2"], "上海乙公司")  # region 上海 (华东)
    sales = api_for(tenant_a, people["sales"])
    ids = [c["id"] for c in sales.get("/api/v1/customers/").json()["results"]]
    assert mine.pk in ids and theirs.pk not in ids
    assert sales.get(f"/api/v1/customers/{theirs.pk}/").status_code == 404
    assert sales.patch(f"/api/v1/customers/{theirs.pk}/", {"notes": "x"}, format="json").status_code == 404
    manager_ids = [c["id"] for c in api_for(tenant_a, people["manager"]).get("/api/v1/customers/").json()["results"]]
    assert mine.pk in manager_ids and theirs.pk not in manager_ids
    exec_ids = [c["id"] for c in api_for(tenant_a, people["exec"]).get("/api/v1/customers/").json()["results"]]
    assert {mine.pk, theirs.pk} <= set(exec_ids)
    other_tenant = api_for(tenant_b, user_in(tenant_b, "admin"))
    assert all(c["name"] not in ("北京甲公司", "上海乙公司")
               for c in other_tenant.get("/api/v1/customers/").json()["results"])


def test_list_filters_and_cursor_pages(tenant_a, people, api_for, new_customer):
    for i in range(7):
        new_customer(tenant_a, people["sales"], f"分页测试{i}号公司", stage="lead" if i % 2 else "prospect",
                     tags=["展会"] if i < 3 else [])
    api = api_for(tenant_a, people["sales"])
    first = api.get("/api/v1/customers/?limit=3").json()
    assert len(first["results"]) == 3 and first["next"]
    second = api.get(first["next"]).json()
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}
    leads = api.get("/api/v1/customers/?stage=lead").json()["results"]
    assert leads and all(c["stage"] == "lead" for c in leads)
    tagged = api.get("/api/v1/customers/?tag=展会").json()["results"]
    assert len(tagged) == 3
    assert api.get("/api/v1/customers/?updated_after=yesterday").status_code == 400
    assert api.get("/api/v1/customers/?owner=abc").json()["results"] == []


def test_list_query_count_is_flat(tenant_a, people, api_for, new_customer, django_assert_max_num_queries):
    for i in range(25):
        new_customer(tenant_a, people["sales2"], f"查询计数{i}")
    api = api_for(tenant_a, people["exec"])
    with django_assert_max_num_queries(10):
        assert len(api.get("/api/v1/customers/?limit=50").json()["results"]) >= 25


def test_edit_with_a_stale_version_is_412(tenant_a, people, api_for, new_customer):
    customer = new_customer(tenant_a, people["sales"], "版本测试公司")
    api = api_for(tenant_a, people["sales"])
    ok = api.patch(f"/api/v1/customers/{customer.pk}/", {"industry": "制造业", "version": customer.version},
                   format="json")
    assert ok.status_code == 200 and ok.json()["version"] == customer.version + 1
    stale = api.patch(f"/api/v1/customers/{customer.pk}/", {"industry": "零售"}, format="json",
                      HTTP_IF_MATCH=str(customer.version))
    assert stale.status_code == 412


def test_custom_fields_are_typed(tenant_a, people, api_for, in_tenant):
    from crm.customers.services import custom_field_define

    with in_tenant(tenant_a):
        custom_field_define(actor=people["admin"], code="employees", label_zh="员工人数", label_en="Employees",
                            type="number")
        custom_field_define(actor=people["admin"], code="tier", label_zh="客户分层", label_en="Tier",
                            type="choice", choices=["金", "银"])
    api = api_for(tenant_a, people["sales"])
    bad = api.post("/api/v1/customers/", {"name": "字段测试", "custom": {"employees": "很多", "tier": "铜"}},
                   format="json")
    assert bad.status_code == 400 and {"custom.employees", "custom.tier"} <= set(bad.json())
    good = api.post("/api/v1/customers/", {"name": "字段测试", "custom": {"employees": "120", "tier": "金"}},
                    format="json")
    assert good.status_code == 201 and good.json()["custom"] == {"employees": "120", "tier": "金"}


def test_contact_moves_keep_history_on_both_sides(tenant_a, people, api_for, new_customer, in_tenant):
    old = new_customer(tenant_a, people["sales"], "旧东家有限公司")
    new = new_customer(tenant_a, people["sales"], "新东家有限公司")
    api = api_for(tenant_a, people["sales"])
    created = api.post("/api/v1/contacts/", {"customer_id": old.pk, "name": "王采购", "title": "采购经理",
                                             "phones": ["139 1234 5678"], "emails": ["Wang@Old.cn"]},
                       format="json")
    assert created.status_code == 201, created.json()
    contact_id = created.json()["id"]
    moved = api.patch(f"/api/v1/contacts/{contact_id}/", {"customer_id": new.pk, "title": "采购总监"},
                      format="json")
    assert moved.status_code == 200
    jobs = moved.json()["employments"]
    assert [(j["customer"], j["title"], j["ended_at"] is None) for j in jobs] == [
        (new.pk, "采购总监", True), (old.pk, "采购经理", False)]
    with in_tenant(tenant_a):
        from crm.customers.selectors import customer_past_contacts

        past = list(customer_past_contacts(customer=old))
        assert [p.contact.name for p in past] == ["王采购"]
        assert Contact.objects.get(pk=contact_id).emails == ["wang@old.cn"]
    other = api_for(tenant_a, people["sales2"])
    assert other.get(f"/api/v1/contacts/{contact_id}/").status_code == 404
    assert other.post("/api/v1/contacts/", {"customer_id": new.pk, "name": "x"}, format="json").status_code == 400
