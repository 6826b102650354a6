"""The staff web pages of customers: lists, the 360° page, the duplicate flow in the form,
contacts that move, the shared pool, the handover, one-click search and the dashboard."""

import pytest

from crm.audit.models import AuditEntry
from crm.customers.models import Contact, Customer, CustomerSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "sales", "sales2", "manager")}


@pytest.fixture
def as_(tenant_a, people, web_as):
    return lambda key: web_as(tenant_a, people[key])


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# -- access -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/customers/", "/customers/contacts/", "/customers/pool/",
                                  "/customers/search/?q=x", "/customers/dashboard/", "/customers/new/"])
def test_every_page_needs_sign_in(web, path):
    response = web.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_salesperson_cannot_open_a_colleagues_customer(tenant_a, people, as_, new_customer, in_tenant):
    theirs = new_customer(tenant_a, people["sales2"], "上海别人家贸易有限公司")
    with in_tenant(tenant_a):
        contact = Contact.objects.create(customer=theirs, name="别人的联系人")
    web = as_("sales")
    for path in (f"/customers/{theirs.pk}/", f"/customers/{theirs.pk}/edit/",
                 f"/customers/{theirs.pk}/contacts/new/", f"/customers/contacts/{contact.pk}/edit/"):
        assert web.get(path).status_code == 404, path
    assert web.post(f"/customers/{theirs.pk}/release/").status_code == 404
    assert "上海别人家贸易" not in page_of(web.get("/customers/"))
    # the owner opens it
    assert "上海别人家贸易" in page_of(as_("sales2").get(f"/customers/{theirs.pk}/"))


# -- the list ---------------------------------------------------------------------------------------
def test_list_filters_pages_by_keyset_and_shows_the_empty_state(tenant_a, people, as_, new_customer,
                                                                monkeypatch):
    from crm.customers import views

    for i in range(3):
        new_customer(tenant_a, people["sales"], f"列表测试{i}号商贸有限公司", stage="lead")
    new_customer(tenant_a, people["sales"], "阶段不同的客户公司", stage="vip")
    web = as_("sales")
    page = page_of(web.get("/customers/?stage=lead"))
    assert page.count("列表测试") == 3 and "阶段不同的客户公司" not in page
    # newest updated first
    assert page.index("列表测试2号") < page.index("列表测试1号") < page.index("列表测试0号")

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = web.get("/customers/?stage=lead")
    assert first.context["next_url"] and "after=" in first.context["next_url"]
    names = [c.name for c in first.context["customers"]]
    second = web.get("/customers/" + first.context["next_url"])
    names += [c.name for c in second.context["customers"]]
    assert second.context["next_url"] is None
    assert names == [f"列表测试{i}号商贸有限公司" for i in (2, 1, 0)]

    empty = page_of(web.get("/customers/?stage=lost"))
    assert 'data-testid="customers-empty"' in empty and "没有符合筛选条件的客户" in empty
    bad = page_of(web.get("/customers/?updated_after=yesterday"))
    assert "时间格式" in bad


def test_saved_views_are_kept_for_the_user(tenant_a, people, as_):
    web = as_("sales")
    response = web.post("/customers/views/save/", {"name": "我的VIP", "query": "stage=vip&after=9.9&x=1"})
    assert response.status_code == 302 and response["Location"] == "/customers/?stage=vip"
    page = page_of(web.get("/customers/"))
    assert "我的VIP" in page and 'href="/customers/?stage=vip"' in page
    assert "我的VIP" not in page_of(as_("sales2").get("/customers/"))
    assert "我的VIP" in page_of(as_("sales").get("/customers/"))  # kept across sign-ins (stored per user)
    assert web.post("/customers/views/save/", {"name": " ", "query": ""}, follow=True).status_code == 200
    web.post("/customers/views/delete/", {"name": "我的VIP"})
    assert "我的VIP" not in page_of(web.get("/customers/"))


def test_manager_transfers_selected_customers(tenant_a, people, as_, new_customer, in_tenant):
    a = new_customer(tenant_a, people["sales"], "批量转移甲公司")
    b = new_customer(tenant_a, people["sales"], "批量转移乙公司")
    assert "bulk-transfer" not in page_of(as_("sales").get("/customers/"))
    web = as_("manager")
    assert 'data-testid="bulk-transfer"' in page_of(web.get("/customers/"))
    response = web.post("/customers/transfer/", {"customer_ids": [a.pk, b.pk], "to_owner": people["manager"].pk},
                        follow=True)
    assert "已转移 2 个客户" in page_of(response)
    with in_tenant(tenant_a):
        assert set(Customer.objects.filter(pk__in=[a.pk, b.pk]).values_list("owner_id", flat=True)) == {
            people["manager"].pk}
    assert as_("sales").post("/customers/transfer/", {"customer_ids": [a.pk], "to_owner": people["sales"].pk}
                             ).status_code == 403


# -- the 360° page -----------------------------------------------------------------------------------
def test_customer_page_shows_profile_contacts_owner_history_and_trail(tenant_a, people, as_, new_customer):
    customer = new_customer(tenant_a, people["sales"], "三百六十度测试有限公司", phone="010-8888 1234",
                            tags=["重点"])
    web = as_("sales")
    web.post(f"/customers/{customer.pk}/contacts/new/", {"name": "王经理", "title": "采购经理",
                                                         "phones": "138 0000 1111", "is_active": "on"})
    page = page_of(web.get(f"/customers/{customer.pk}/"))
    for text in ("三百六十度测试有限公司", "010-8888 1234", "重点", "王经理", "采购经理", 'data-testid="owner-history"',
                 "新建", 'data-testid="audit-trail"', 'data-testid="customer-release"', 'data-testid="customer-edit"'):
        assert text in page, text


def test_activity_timeline_is_included_only_when_its_template_exists(tenant_a, people, as_, new_customer,
                                                                     monkeypatch):
    from crm.customers import views

    customer = new_customer(tenant_a, people["sales"], "时间线测试公司")
    monkeypatch.setattr(views, "TIMELINE_TEMPLATE", "activities/_no_such_template.html")
    assert as_("sales").get(f"/customers/{customer.pk}/").context["show_timeline"] is False
    monkeypatch.setattr(views, "TIMELINE_TEMPLATE", "audit/_trail.html")
    assert as_("sales").get(f"/customers/{customer.pk}/").context["show_timeline"] is True


# -- create and edit: the duplicate flow --------------------------------------------------------------
def form_data(**values):
    return {"kind": "company", "stage": "prospect", **values}


def test_possible_duplicates_are_shown_and_an_override_needs_a_reason(tenant_a, people, as_, new_customer,
                                                                      in_tenant):
    new_customer(tenant_a, people["sales2"], "华为技术有限公司", phone="0755-2878 0808")
    web = as_("sales")
    page = page_of(web.post("/customers/new/", form_data(name="华为技术（深圳）有限公司")))
    assert 'data-testid="duplicate-candidates"' in page
    assert "华为技术有限公司" in page and people["sales2"].full_name in page and "不是重复，仍然保存" in page
    with in_tenant(tenant_a):
        assert not Customer.objects.filter(name="华为技术（深圳）有限公司").exists()

    no_reason = page_of(web.post("/customers/new/", form_data(name="华为技术（深圳）有限公司", duplicate_override="on")))
    assert "请说明为什么这不是重复客户" in no_reason
    with in_tenant(tenant_a):
        assert not Customer.objects.filter(name="华为技术（深圳）有限公司").exists()

    saved = web.post("/customers/new/", form_data(name="华为技术（深圳）有限公司", duplicate_override="on",
                                                  override_reason="深圳分公司单独结算"))
    assert saved.status_code == 302
    with in_tenant(tenant_a):
        customer = Customer.objects.get(name="华为技术（深圳）有限公司")
        assert saved["Location"] == f"/customers/{customer.pk}/" and customer.owner_id == people["sales"].pk
        entry = AuditEntry.objects.get(content_type__model="customer", object_id=str(customer.pk), action="create")
        assert "深圳分公司单独结算" in entry.note


def test_credit_code_taken_names_the_existing_customer(tenant_a, people, as_, new_customer, credit_code, in_tenant):
    code = credit_code()
    new_customer(tenant_a, people["sales2"], "信用代码已占用有限公司", credit_code=code)
    page = page_of(as_("sales").post("/customers/new/", form_data(name="全新名字", credit_code=code,
                                                                 duplicate_override="on", override_reason="x")))
    assert "信用代码已占用有限公司" in page and "不能重复创建" in page
    bad = page_of(as_("sales").post("/customers/new/", form_data(name="坏代码", credit_code="123")))
    assert "无效" in bad
    with in_tenant(tenant_a):
        assert not Customer.objects.filter(name__in=["全新名字", "坏代码"]).exists()


def test_edit_with_a_stale_version_says_someone_else_changed_it(tenant_a, people, as_, new_customer, in_tenant):
    from crm.customers.services import customer_update

    customer = new_customer(tenant_a, people["sales"], "并发编辑测试公司")
    web = as_("sales")
    form = web.get(f"/customers/{customer.pk}/edit/").context["form"]
    assert form.initial["version"] == customer.version
    with in_tenant(tenant_a):
        customer_update(actor=people["sales"], customer_id=customer.pk, data={"industry": "别人改的"})
    page = page_of(web.post(f"/customers/{customer.pk}/edit/", form_data(name="并发编辑测试公司", industry="我改的",
                                                                         version=customer.version)))
    assert "已被他人修改" in page
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=customer.pk).industry == "别人改的"
    ok = web.post(f"/customers/{customer.pk}/edit/", form_data(name="并发编辑测试公司", industry="我改的",
                                                               version=customer.version + 1))
    assert ok.status_code == 302


def test_custom_fields_are_rendered_by_type_and_saved(tenant_a, people, as_, in_tenant):
    from crm.customers.services import custom_field_define

    with in_tenant(tenant_a):
        custom_field_define(actor=people["admin"], code="founded", label_zh="成立日期", label_en="Founded", type="date")
        custom_field_define(actor=people["admin"], code="size", label_zh="规模", label_en="Size", type="choice",
                            choices=["小", "中", "大"])
        custom_field_define(actor=people["admin"], code="staff", label_zh="员工数", label_en="Staff", type="number")
    web = as_("sales")
    page = page_of(web.get("/customers/new/"))
    assert 'type="date" name="custom__founded"' in page
    assert '<select name="custom__size"' in page and 'type="number" name="custom__staff"' in page
    response = web.post("/customers/new/", form_data(name="自定义字段测试公司", custom__founded="2001-05-01",
                                                     custom__size="中", custom__staff="120"))
    assert response.status_code == 302
    with in_tenant(tenant_a):
        customer = Customer.objects.get(name="自定义字段测试公司")
        assert customer.custom == {"founded": "2001-05-01", "size": "中", "staff": "120"}
    assert "成立日期" in page_of(web.get(f"/customers/{customer.pk}/"))


# -- contacts -------------------------------------------------------------------------------------------
def test_a_contact_who_moves_keeps_history_on_both_sides(tenant_a, people, as_, new_customer, in_tenant):
    old = new_customer(tenant_a, people["sales"], "老东家有限公司")
    new = new_customer(tenant_a, people["sales"], "新东家有限公司")
    web = as_("sales")
    web.post(f"/customers/{old.pk}/contacts/new/", {"name": "跳槽的李四", "title": "技术总监", "is_active": "on"})
    with in_tenant(tenant_a):
        contact = Contact.objects.get(name="跳槽的李四")
    assert "跳槽的李四" in page_of(web.get("/customers/contacts/"))
    response = web.post(f"/customers/contacts/{contact.pk}/edit/", {
        "customer": new.pk, "name": "跳槽的李四", "title": "CTO", "is_active": "on", "version": contact.version})
    assert response.status_code == 302 and response["Location"] == f"/customers/{new.pk}/"
    old_page = page_of(web.get(f"/customers/{old.pk}/"))
    assert 'data-testid="past-contacts"' in old_page and "跳槽的李四" in old_page and "新东家有限公司" in old_page
    new_page = page_of(web.get(f"/customers/{new.pk}/"))
    assert "跳槽的李四" in new_page and "曾任职于" in new_page and "老东家有限公司" in new_page
    history = page_of(web.get(f"/customers/contacts/{contact.pk}/edit/"))
    assert "老东家有限公司" in history and "新东家有限公司" in history


# -- the shared pool and the handover --------------------------------------------------------------------
def test_release_then_claim_through_the_pages_with_the_reclaim_block_and_limit(tenant_a, people, as_,
                                                                                new_customer, in_tenant):
    customer = new_customer(tenant_a, people["sales"], "公海流转测试公司")
    sales = as_("sales")
    released = sales.post(f"/customers/{customer.pk}/release/", follow=True)
    assert "已把“公海流转测试公司”释放到公海" in page_of(released)
    pool_page = page_of(sales.get("/customers/pool/"))
    assert "公海流转测试公司" in pool_page and f'data-testid="claim-{customer.pk}"' in pool_page
    blocked = page_of(sales.post(f"/customers/pool/{customer.pk}/claim/", follow=True))
    assert "之后才能再次领取" in blocked
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=customer.pk).owner_id is None
        CustomerSettings.objects.update_or_create(id=1, defaults={"claim_limits": {"regional_manager": 0}})
    manager = as_("manager")
    limited = page_of(manager.post(f"/customers/pool/{customer.pk}/claim/", follow=True))
    assert "达到角色上限" in limited
    with in_tenant(tenant_a):
        CustomerSettings.objects.filter(id=1).update(claim_limits={})
    claimed = manager.post(f"/customers/pool/{customer.pk}/claim/")
    assert claimed.status_code == 302 and claimed["Location"] == f"/customers/{customer.pk}/"
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=customer.pk).owner_id == people["manager"].pk
    # claiming what is not in the pool (or not visible) is a 404
    assert manager.post(f"/customers/pool/{customer.pk}/claim/").status_code == 404


def test_handover_moves_every_customer_of_a_person_and_reports_the_count(tenant_a, people, as_, new_customer,
                                                                         in_tenant):
    for i in range(3):
        new_customer(tenant_a, people["sales"], f"交接测试{i}号有限公司")
    with in_tenant(tenant_a):
        total = Customer.objects.live().filter(owner=people["sales"]).count()
    assert as_("sales").get("/customers/handover/").status_code == 403
    web = as_("admin")
    assert 'data-testid="handover-form"' in page_of(web.get("/customers/handover/"))
    response = web.post("/customers/handover/", {"from_owner": people["sales"].pk,
                                                 "to_owners": [people["sales2"].pk, people["manager"].pk],
                                                 "note": "张伟离职"}, follow=True)
    assert f"已移交 {total} 个客户" in page_of(response)
    with in_tenant(tenant_a):
        assert not Customer.objects.live().filter(owner=people["sales"]).exists()
        assert Customer.objects.filter(name__startswith="交接测试", owner=people["sales2"]).exists()
        assert Customer.objects.filter(name__startswith="交接测试", owner=people["manager"]).exists()
    same = page_of(web.post("/customers/handover/", {"from_owner": people["sales2"].pk,
                                                     "to_owners": [people["sales2"].pk]}))
    assert "接收人不能是交出客户的人本人" in same


# -- search and the dashboard ------------------------------------------------------------------------
def test_search_partial_groups_customers_and_contacts_within_scope(tenant_a, people, as_, new_customer, in_tenant):
    mine = new_customer(tenant_a, people["sales"], "北京合众思壮科技股份有限公司", phone="010-6552 9988")
    new_customer(tenant_a, people["sales2"], "上海合众物流有限公司")
    as_("sales").post(f"/customers/{mine.pk}/contacts/new/", {"name": "合众小王", "is_active": "on"})
    web = as_("sales")
    partial = page_of(web.get("/customers/search/", {"q": "合众"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and 'data-testid="search-results"' in partial
    assert "北京合众思壮" in partial and "合众小王" in partial and "上海合众物流" not in partial
    assert partial.index("北京合众思壮") < partial.index("合众小王")
    assert "北京合众思壮" in page_of(web.get("/customers/search/", {"q": "hzsz"}, HTTP_HX_REQUEST="true"))
    assert "北京合众思壮" in page_of(web.get("/customers/search/", {"q": "6552"}, HTTP_HX_REQUEST="true"))
    none = page_of(web.get("/customers/search/", {"q": "不存在的名字"}, HTTP_HX_REQUEST="true"))
    assert "没有找到" in none
    empty = page_of(web.get("/customers/search/", {"q": ""}, HTTP_HX_REQUEST="true"))
    assert empty.strip().endswith('data-testid="search-results"></div>')
    full = page_of(web.get("/customers/search/", {"q": "合众"}))
    assert "<html" in full and "北京合众思壮" in full


def test_top_bar_has_the_search_box_for_signed_in_staff(as_, web):
    page = page_of(as_("sales").get("/customers/"))
    assert 'data-testid="top-search"' in page and 'hx-get="/customers/search/"' in page
    assert 'delay:200ms' in page
    assert 'data-testid="top-search"' not in page_of(web.get("/login/"))


def test_dashboard_draws_charts_of_what_the_user_may_see(tenant_a, people, as_, new_customer, in_tenant):
    new_customer(tenant_a, people["sales"], "仪表盘测试甲公司", stage="lead")
    new_customer(tenant_a, people["sales2"], "仪表盘测试乙公司", stage="vip")
    response = as_("sales").get("/customers/dashboard/")
    page = page_of(response)
    assert page.count("<svg") == 2 and "https://" not in page.replace("http://www.w3.org/2000/svg", "")
    with in_tenant(tenant_a):
        mine = Customer.objects.live().filter(owner=people["sales"]).count()
    assert response.context["total"] == mine
    assert "线索" in page


def test_list_page_query_count_does_not_grow_with_rows(tenant_a, people, as_, new_customer,
                                                       django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web = as_("manager")
    new_customer(tenant_a, people["sales"], "查询次数测试首家公司", tags=["a"])
    web.get("/customers/")  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as one_row:
        web.get("/customers/")
    for i in range(6):
        new_customer(tenant_a, people["sales"], f"查询次数测试{i}号公司", tags=["a", "b"])
    with django_assert_max_num_queries(len(one_row.captured_queries)):
        page = page_of(web.get("/customers/"))
    assert page.count("选择 查询次数测试") == 7  # one checkbox per row
    assert len(one_row.captured_queries) <= 30  # SET search_path precedes each query
