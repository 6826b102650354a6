"""The pre-go-live clean-up: scan for duplicate groups, merge, undo."""

import pytest

from crm.audit.models import AuditEntry
from crm.customers.models import Contact, Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "sales", "sales2", "manager")}


def test_scan_groups_overlapping_duplicates(tenant_a, people, api_for, new_customer):
    a = new_customer(tenant_a, people["sales"], "星河电子有限公司")
    b = new_customer(tenant_a, people["sales2"], "星河电子（苏州）有限公司", phone="0512-6666 8888")
    c = new_customer(tenant_a, people["sales2"], "另一个名字", phone="+86 512 6666 8888")
    lone = new_customer(tenant_a, people["sales"], "独一无二公司")
    response = api_for(tenant_a, people["admin"]).get("/api/v1/customers/duplicates")
    assert response.status_code == 200
    groups = response.json()["groups"]
    mine = [g for g in groups if a.pk in [c_["id"] for c_ in g["customers"]]]
    assert len(mine) == 1
    assert sorted(c_["id"] for c_ in mine[0]["customers"]) == sorted([a.pk, b.pk, c.pk])
    assert mine[0]["reasons"] == ["name", "phone"]
    assert all(lone.pk not in [c_["id"] for c_ in g["customers"]] for g in groups)


def test_scan_and_merge_are_for_company_wide_roles(tenant_a, people, api_for, new_customer):
    a = new_customer(tenant_a, people["sales"], "甲方公司")
    b = new_customer(tenant_a, people["sales"], "甲方有限公司")
    sales = api_for(tenant_a, people["sales"])
    assert sales.get("/api/v1/customers/duplicates").status_code == 403
    assert sales.post("/api/v1/customers/merge", {"survivor_id": a.pk, "merged_id": b.pk},
                      format="json").status_code == 403


def test_merge_moves_contacts_and_activities_fills_gaps_and_undo_restores(
        tenant_a, people, api_for, new_customer, in_tenant, credit_code):
    from crm.activities.models import Activity
    from crm.activities.services import activity_log
    from crm.customers.services import contact_create

    code = credit_code()
    survivor = new_customer(tenant_a, people["sales"], "宏图软件有限公司", tags=["重点"])
    duplicate = new_customer(tenant_a, people["sales2"], "宏图软件公司", phone="021-5555 0000",
                             credit_code=code, tags=["展会"])
    with in_tenant(tenant_a):
        contact = contact_create(actor=people["sales2"], customer_id=duplicate.pk, data={"name": "李工"})
        activity = activity_log(actor=people["sales2"], customer_id=duplicate.pk, kind="call",
                                subject="电话回访")
        from crm.activities.models import Task
        from crm.activities.services import task_create

        task = task_create(actor=people["sales2"], title="寄样品", customer_id=duplicate.pk)
    api = api_for(tenant_a, people["admin"])
    merged = api.post("/api/v1/customers/merge", {"survivor_id": survivor.pk, "merged_id": duplicate.pk},
                      format="json")
    assert merged.status_code == 201, merged.json()
    merge_id = merged.json()["id"]
    with in_tenant(tenant_a):
        s = Customer.objects.get(pk=survivor.pk)
        assert s.phone == "021-5555 0000" and s.credit_code == code and s.tags == ["重点", "展会"]
        assert Customer.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk
        assert Contact.objects.get(pk=contact.pk).customer_id == survivor.pk
        assert Activity.objects.get(pk=activity.pk).customer_id == survivor.pk
        assert Task.objects.get(pk=task.pk).customer_id == survivor.pk
        assert AuditEntry.objects.filter(action="merge", object_id=str(survivor.pk)).exists()
    assert api.get(f"/api/v1/customers/{duplicate.pk}/").status_code == 404  # merged away
    again = api.post("/api/v1/customers/merge", {"survivor_id": survivor.pk, "merged_id": duplicate.pk},
                     format="json")
    assert again.status_code in (400, 404)

    undone = api.post(f"/api/v1/customers/merges/{merge_id}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    with in_tenant(tenant_a):
        s = Customer.objects.get(pk=survivor.pk)
        d = Customer.objects.get(pk=duplicate.pk)
        assert s.phone == "" and s.credit_code is None and s.tags == ["重点"]
        assert d.merged_into_id is None and d.credit_code == code
        assert Contact.objects.get(pk=contact.pk).customer_id == duplicate.pk
        assert Activity.objects.get(pk=activity.pk).customer_id == duplicate.pk
        assert Task.objects.get(pk=task.pk).customer_id == duplicate.pk
    assert api.post(f"/api/v1/customers/merges/{merge_id}/undo").status_code == 200  # idempotent
    assert api.post("/api/v1/customers/merges/999999/undo").status_code == 404


def test_merge_with_itself_or_an_unknown_id_is_refused(tenant_a, people, api_for, new_customer):
    a = new_customer(tenant_a, people["sales"], "自己公司")
    api = api_for(tenant_a, people["admin"])
    assert api.post("/api/v1/customers/merge", {"survivor_id": a.pk, "merged_id": a.pk},
                    format="json").status_code == 400
    assert api.post("/api/v1/customers/merge", {"survivor_id": a.pk, "merged_id": 999999},
                    format="json").status_code == 404


def test_review_page_merges_and_undoes(tenant_a, people, web_as, new_customer, in_tenant):
    keep = new_customer(tenant_a, people["sales"], "页面合并有限公司")
    dup = new_customer(tenant_a, people["sales2"], "页面合并公司")
    web = web_as(tenant_a, people["admin"])
    page = web.get("/customers/duplicates/").content.decode()
    assert f'data-testid="merge-{dup.pk}-into-{keep.pk}"' in page
    assert web.post("/customers/duplicates/merge/", {"survivor_id": keep.pk, "merged_id": dup.pk}).status_code == 302
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=dup.pk).merged_into_id == keep.pk
        from crm.customers.models import MergeRecord

        merge_id = MergeRecord.objects.get(merged=dup).pk
    assert web.post(f"/customers/duplicates/merges/{merge_id}/undo/").status_code == 302
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=dup.pk).merged_into_id is None
    assert web_as(tenant_a, people["sales"]).get("/customers/duplicates/").status_code == 403


def test_merge_moves_the_deals_of_the_duplicate_and_undo_moves_them_back(
        tenant_a, people, api_for, new_customer, in_tenant):
    """Every app's records of a customer follow a merge (crm.customers.links): here the sales
    app's opportunities and quotes; the undo moves exactly those back."""
    import datetime

    from django.utils import timezone

    from crm.sales.models import Opportunity, Quote
    from crm.sales.services import opportunity_create, quote_create

    survivor = new_customer(tenant_a, people["sales"], "东方仪器有限公司")
    duplicate = new_customer(tenant_a, people["sales"], "东方仪器公司")
    with in_tenant(tenant_a):
        later = timezone.localdate() + datetime.timedelta(days=30)
        deal = opportunity_create(actor=people["sales"], data={
            "customer_id": duplicate.pk, "name": "年度采购", "amount": "50000", "expected_close_date": later})
        quote = quote_create(actor=people["sales"], data={"customer_id": duplicate.pk, "valid_until": later})
        survivor_deal = opportunity_create(actor=people["sales"], data={
            "customer_id": survivor.pk, "name": "续约", "amount": "1000", "expected_close_date": later})
    api = api_for(tenant_a, people["admin"])
    merged = api.post("/api/v1/customers/merge", {"survivor_id": survivor.pk, "merged_id": duplicate.pk},
                      format="json")
    assert merged.status_code == 201, merged.json()
    with in_tenant(tenant_a):
        assert Opportunity.objects.get(pk=deal.pk).customer_id == survivor.pk
        assert Quote.objects.get(pk=quote.pk).customer_id == survivor.pk
        assert Opportunity.objects.get(pk=deal.pk).version == deal.version + 1
        assert AuditEntry.objects.filter(action="move", object_id=str(deal.pk),
                                         content_type__model="opportunity").exists()
    assert api.post(f"/api/v1/customers/merges/{merged.json()['id']}/undo").status_code == 200
    with in_tenant(tenant_a):
        assert Opportunity.objects.get(pk=deal.pk).customer_id == duplicate.pk
        assert Quote.objects.get(pk=quote.pk).customer_id == duplicate.pk
        assert Opportunity.objects.get(pk=survivor_deal.pk).customer_id == survivor.pk  # its own stays
