"""Ownership: transfers, the leaver handover, the shared pool (release, claim, limits)."""

import datetime

import pytest
from django.utils import timezone

from crm.audit.models import AuditEntry
from crm.customers.models import Customer, OwnershipChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "sales", "sales2", "manager", "exec", "secretary")}


def test_handover_shares_a_leavers_customers_among_colleagues_in_one_step(
        tenant_a, people, api_for, new_customer, in_tenant):
    book = [new_customer(tenant_a, people["sales"], f"交接客户{i}") for i in range(5)]
    api = api_for(tenant_a, people["exec"])
    response = api.post("/api/v1/customers/handover", {
        "from_owner_id": people["sales"].pk, "to_owner_ids": [people["sales2"].pk, people["manager"].pk],
        "note": "张伟离职"}, format="json")
    assert response.status_code == 200 and response.json() == {"moved": 5}
    with in_tenant(tenant_a):
        owners = [Customer.objects.get(pk=c.pk).owner_id for c in book]
        assert owners.count(people["sales2"].pk) == 3 and owners.count(people["manager"].pk) == 2
        changes = OwnershipChange.objects.filter(customer__in=book, reason="handover")
        assert changes.count() == 5 and len({c.batch for c in changes}) == 1
        assert all(c.note == "张伟离职" and c.actor_id == people["exec"].pk for c in changes)
        assert AuditEntry.objects.filter(action="handover", content_type__model="customer").count() == 5
    history = api.get(f"/api/v1/customers/{book[0].pk}/owners").json()
    assert [h["reason"] for h in history] == ["handover", "created"]


def test_handover_needs_a_scope_wider_than_own(tenant_a, people, api_for, new_customer):
    new_customer(tenant_a, people["sales2"], "不能交接")
    response = api_for(tenant_a, people["sales"]).post("/api/v1/customers/handover", {
        "from_owner_id": people["sales2"].pk, "to_owner_ids": [people["sales"].pk]}, format="json")
    assert response.status_code == 403


def test_regional_manager_hands_over_only_within_the_region(tenant_a, people, api_for, new_customer, in_tenant):
    in_region = new_customer(tenant_a, people["sales"], "北京区域客户")   # 北京 under 华北
    outside = new_customer(tenant_a, people["sales2"], "上海区域客户")    # 华东
    api = api_for(tenant_a, people["manager"])
    refused = api.post("/api/v1/customers/transfer", {"customer_ids": [in_region.pk, outside.pk],
                                                      "to_owner_id": people["manager"].pk}, format="json")
    assert refused.status_code == 400 and "customer_ids" in refused.json()
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=in_region.pk).owner_id == people["sales"].pk  # nothing moved
    not_mine = api.post("/api/v1/customers/transfer", {"customer_ids": [in_region.pk],
                                                       "to_owner_id": people["sales2"].pk}, format="json")
    assert not_mine.status_code == 400 and "to_owner" in not_mine.json()  # sales2 is outside 华北
    ok = api.post("/api/v1/customers/transfer", {"customer_ids": [in_region.pk],
                                                 "to_owner_id": people["manager"].pk}, format="json")
    assert ok.status_code == 200 and ok.json() == {"moved": 1}


def test_a_salesperson_may_pass_their_own_customer_to_a_colleague_in_scope_only(
        tenant_a, people, api_for, new_customer):
    mine = new_customer(tenant_a, people["sales"], "我的客户")
    api = api_for(tenant_a, people["sales"])
    response = api.post("/api/v1/customers/transfer", {"customer_ids": [mine.pk],
                                                       "to_owner_id": people["sales2"].pk}, format="json")
    assert response.status_code == 400  # an "own" scope covers nobody else


def _age(tenant, in_tenant, customer, days):
    with in_tenant(tenant):
        Customer.objects.filter(pk=customer.pk).update(
            last_activity_at=timezone.now() - datetime.timedelta(days=days))


def test_pool_run_warns_then_releases_and_the_last_owner_waits(tenant_a, people, api_for, new_customer, in_tenant):
    from crm.customers.services import customer_touch, pool_run

    stale = new_customer(tenant_a, people["sales"], "久未跟进公司")
    soon = new_customer(tenant_a, people["sales"], "快到期公司")
    fresh = new_customer(tenant_a, people["sales"], "刚跟进公司")
    _age(tenant_a, in_tenant, stale, 31)
    _age(tenant_a, in_tenant, soon, 25)
    with in_tenant(tenant_a):
        result = pool_run()
        assert result.released == 1
        assert result.warned == [(people["sales"].pk, soon.pk)]
        assert pool_run().warned == []  # warned once
        released = Customer.objects.get(pk=stale.pk)
        assert released.owner_id is None and released.released_from_id == people["sales"].pk
        assert Customer.objects.get(pk=fresh.pk).owner_id == people["sales"].pk
        customer_touch(customer_id=soon.pk)
        assert Customer.objects.get(pk=soon.pk).pool_warned_at is None  # a follow-up resets the clock
    sales = api_for(tenant_a, people["sales"])
    assert sales.get(f"/api/v1/customers/{stale.pk}/").status_code == 404  # no longer theirs
    pool_ids = [c["id"] for c in sales.get("/api/v1/customers/pool/").json()["results"]]
    assert stale.pk in pool_ids
    blocked = sales.post(f"/api/v1/customers/pool/{stale.pk}/claim")
    assert blocked.status_code == 400 and "customer" in blocked.json()
    claimed = api_for(tenant_a, people["manager"]).post(f"/api/v1/customers/pool/{stale.pk}/claim")
    assert claimed.status_code == 200 and claimed.json()["owner"] == people["manager"].pk
    assert sales.post(f"/api/v1/customers/pool/{stale.pk}/claim").status_code == 404  # no longer in the pool


def test_claims_stop_at_the_roles_daily_limit(tenant_a, people, api_for, new_customer, in_tenant):
    from crm.customers.services import customer_release, customer_settings_update

    with in_tenant(tenant_a):
        customer_settings_update(actor=people["admin"], claim_limits={"salesperson": 2})
    from crm.org.models import Region

    with in_tenant(tenant_a):
        beijing = Region.objects.get(pk=people["sales"].region_id)
    pool = [new_customer(tenant_a, people["manager"], f"公海客户{i}", region=beijing) for i in range(3)]
    with in_tenant(tenant_a):
        for c in pool:
            customer_release(actor=people["manager"], customer_id=c.pk)
    api = api_for(tenant_a, people["sales"])
    assert api.post(f"/api/v1/customers/pool/{pool[0].pk}/claim").status_code == 200
    assert api.post(f"/api/v1/customers/pool/{pool[1].pk}/claim").status_code == 200
    third = api.post(f"/api/v1/customers/pool/{pool[2].pk}/claim")
    assert third.status_code == 400 and "2" in third.json()["customer"][0]
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=pool[2].pk).owner_id is None


def test_pool_is_limited_to_the_claimers_region(tenant_a, people, api_for, new_customer, in_tenant):
    from crm.customers.services import customer_release

    shanghai = new_customer(tenant_a, people["sales2"], "上海公海客户")
    with in_tenant(tenant_a):
        customer_release(actor=people["sales2"], customer_id=shanghai.pk, note="不再跟进")
    beijing_sales = api_for(tenant_a, people["sales"])
    assert shanghai.pk not in [c["id"] for c in beijing_sales.get("/api/v1/customers/pool/").json()["results"]]
    assert beijing_sales.post(f"/api/v1/customers/pool/{shanghai.pk}/claim").status_code == 404
    everyone = api_for(tenant_a, people["exec"]).get("/api/v1/customers/pool/").json()["results"]
    assert shanghai.pk in [c["id"] for c in everyone]


def test_pool_settings_are_validated_and_admin_only(tenant_a, people, in_tenant):
    from django.core.exceptions import PermissionDenied, ValidationError

    from crm.customers.services import customer_settings_update

    with in_tenant(tenant_a):
        with pytest.raises(PermissionDenied):
            customer_settings_update(actor=people["sales"], release_after_days=5)
        with pytest.raises(ValidationError):
            customer_settings_update(actor=people["admin"], release_after_days=5, warn_before_days=7)


def test_pool_task_runs_in_every_tenant(tenant_a, tenant_b, people, new_customer, in_tenant):
    from tenants.tasks import tenants_fan_out_task

    stale = new_customer(tenant_a, people["sales"], "任务释放公司")
    _age(tenant_a, in_tenant, stale, 40)
    assert tenants_fan_out_task.apply(args=("customers.pool_run",)).get() >= 2
    with in_tenant(tenant_a):
        assert Customer.objects.get(pk=stale.pk).owner_id is None
