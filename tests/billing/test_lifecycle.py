"""The billing lifecycle with time travel: trial end -> past due -> suspended (read-only over
HTTP) -> paid -> active; cancel -> read-only during retention -> closed. Every move is recorded,
the tenant admins are told (banner and email), and the tenant's status follows."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import Subscription
from billing.tasks import dunning_run_task
from tenants.models import Tenant, TenantEvent
from tenants.services import tenant_set_status

from .factories import subscription_make
from .fake_stripe import (
    PRICE_IDS,
    checkout_session_obj,
    event_obj,
    invoice_obj,
    post_webhook,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


def sub_of(tenant):
    return Subscription.objects.select_related("plan").get(tenant_id=tenant.pk)


def tenant_of(tenant):
    return Tenant.objects.get(pk=tenant.pk)


def moves(tenant):
    return list(TenantEvent.objects.filter(tenant=tenant, kind="billing_status_changed")
                .exclude(from_status="").order_by("pk").values_list("from_status", "to_status", "actor"))


@pytest.fixture
def admin_web(tenant_a, web_as, user_in):
    return web_as(tenant_a, user_in(tenant_a, "admin"))


def test_trial_end_past_due_suspended_then_paid(tenant_a, admin_web, fake_stripe,
                                                django_capture_on_commit_callbacks):
    start = timezone.now()
    subscription_make(tenant_a, plan="trial", status="trialing", trial_ends_at=start + timedelta(days=2))
    page = admin_web.get("/").content.decode()
    assert "试用将于" in page  # within 3 days of the end: the tenant admin is warned

    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=start + timedelta(days=1)) == {
            "past_due": 0, "suspended": 0, "cancelled": 0, "closed": 0, "trial_reminders": 1,
            "events_requeued": 0, "unpaid_signups_closed": 0}
    # two days before its end the admins are told, once
    assert sub_of(tenant_a).status == "trialing"
    trial_end = timezone.localtime(start + timedelta(days=2)).date().isoformat()
    assert [m.subject for m in mail.outbox] == [f"【Qiao】{tenant_a.name} 的试用将于 {trial_end} 结束"]
    assert mail.outbox[0].to == ["admin@alpha.test"] and "套餐与账单" in mail.outbox[0].body
    notice = TenantEvent.objects.get(tenant=tenant_a, kind="billing_notice")
    assert notice.detail["notice"] == "trial_ending" and notice.actor == "system"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=start + timedelta(days=1, hours=2))["trial_reminders"] == 0
    assert len(mail.outbox) == 1
    mail.outbox.clear()

    # the trial ends: past due, still working, a banner with the suspension date, an email
    ended = start + timedelta(days=2, hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        dunning_run_task.delay(ended.isoformat())
    sub = sub_of(tenant_a)
    assert sub.status == "past_due" and sub.past_due_since == ended
    assert tenant_of(tenant_a).status == "active"
    suspend_on = timezone.localtime(ended + timedelta(days=7)).date().isoformat()
    page = admin_web.get("/").content.decode()
    assert "付款逾期" in page and suspend_on in page
    assert [m.subject for m in mail.outbox] == [f"【Qiao】{tenant_a.name} 的试用已结束"]  # not reminded again
    assert mail.outbox[0].to == ["admin@alpha.test"] and suspend_on in mail.outbox[0].body
    assert admin_web.post("/staff/invite/", {}).status_code != 423

    # within the grace period nothing moves; after it the space is read-only
    with django_capture_on_commit_callbacks(execute=True):
        services.dunning_run(now=ended + timedelta(days=6, hours=23))
        assert sub_of(tenant_a).status == "past_due"
        services.dunning_run(now=ended + timedelta(days=7, hours=1))
    assert sub_of(tenant_a).status == "suspended"
    tenant = tenant_of(tenant_a)
    assert tenant.status == "suspended" and "欠费" in tenant.status_reason
    page = admin_web.get("/")
    assert page.status_code == 200 and "欠费" in page.content.decode()  # reads work, with the reason
    refused = admin_web.post("/staff/invite/", {})
    assert refused.status_code == 423 and "只能查看" in refused.content.decode()
    assert "已暂停" in mail.outbox[-1].subject

    # a second run does nothing more
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=ended + timedelta(days=8))["suspended"] == 0
    assert len(mail.outbox) == 2

    # the admin pays through Checkout: active again, writes accepted
    session = checkout_session_obj("cs_test_T", tenant_id=tenant_a.pk, customer="cus_T", subscription="sub_T")
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_T", session)
    fake_stripe.on("GET", "/v1/subscriptions/sub_T",
                   subscription_obj("sub_T", customer="cus_T", price=PRICE_IDS["standard_month"]))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(Client(HTTP_HOST="localhost"),
                            event_obj("checkout.session.completed", session)).status_code == 200
    sub = sub_of(tenant_a)
    assert (sub.status, sub.plan.code, sub.stripe_subscription_id) == ("active", "standard", "sub_T")
    assert sub.past_due_since is None and sub.suspended_at is None
    tenant = tenant_of(tenant_a)
    assert (tenant.status, tenant.plan_code) == ("active", "standard")
    assert admin_web.post("/staff/invite/", {}).status_code != 423
    assert "付款逾期" not in admin_web.get("/").content.decode()
    assert moves(tenant_a) == [("trialing", "past_due", "system"), ("past_due", "suspended", "system"),
                               ("suspended", "active", "stripe")]
    assert [e for e in TenantEvent.objects.filter(tenant=tenant_a, kind="status_changed")
            .order_by("pk").values_list("from_status", "to_status")] == [("active", "suspended"),
                                                                         ("suspended", "active")]


def test_cancel_then_read_only_during_retention_then_closed(tenant_a, admin_web, fake_stripe,
                                                            django_capture_on_commit_callbacks):
    now = int(time.time())
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A", stripe_status="active")
    fake_stripe.on("POST", "/v1/subscriptions/sub_A", subscription_obj(
        "sub_A", customer="cus_A", price=PRICE_IDS["standard_month"], cancel_at_period_end=True,
        period_start=now - 86400, period_end=now + 86400))
    services.subscription_cancel(tenant=tenant_a, actor="admin@alpha.test")
    assert sub_of(tenant_a).cancel_at_period_end is True and tenant_of(tenant_a).status == "active"
    assert "订阅将于" in admin_web.get("/").content.decode()

    # the period ends; Stripe deletes the subscription
    ended = subscription_obj("sub_A", customer="cus_A", status="canceled", price=PRICE_IDS["standard_month"],
                             ended_at=now, canceled_at=now)
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", ended)
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(Client(HTTP_HOST="localhost"), event_obj("customer.subscription.deleted", ended))
    sub = sub_of(tenant_a)
    assert sub.status == "cancelled" and sub.closes_at == sub.cancelled_at + timedelta(days=30)
    closes_on = timezone.localtime(sub.closes_at).date().isoformat()
    tenant = tenant_of(tenant_a)
    assert tenant.status == "suspended"
    assert tenant.status_reason.startswith("已取消") and f"数据保留至 {closes_on}" in tenant.status_reason
    page = admin_web.get("/")
    assert page.status_code == 200 and closes_on in page.content.decode()
    assert admin_web.post("/staff/invite/", {}).status_code == 423
    assert any("订阅已取消" in m.subject for m in mail.outbox)

    with django_capture_on_commit_callbacks(execute=True):
        services.dunning_run(now=sub.closes_at - timedelta(hours=1))
        assert tenant_of(tenant_a).status == "suspended"
        assert services.dunning_run(now=sub.closes_at + timedelta(hours=1))["closed"] == 1
    assert sub_of(tenant_a).status == "closed" and sub_of(tenant_a).closed_at is not None
    assert tenant_of(tenant_a).status == "closed"
    assert admin_web.get("/").status_code == 410
    assert moves(tenant_a)[-2:] == [("active", "cancelled", "stripe"), ("cancelled", "closed", "system")]


def test_a_trial_cancelled_ends_at_its_end_without_past_due(tenant_a, fake_stripe,
                                                            django_capture_on_commit_callbacks):
    start = timezone.now()
    subscription_make(tenant_a, plan="trial", status="trialing", trial_ends_at=start + timedelta(days=5))
    services.subscription_cancel(tenant=tenant_a, actor="admin@alpha.test")
    assert fake_stripe.calls == [] and sub_of(tenant_a).status == "trialing"
    with django_capture_on_commit_callbacks(execute=True):
        services.dunning_run(now=start + timedelta(days=5, minutes=5))
    sub = sub_of(tenant_a)
    assert sub.status == "cancelled" and sub.cancelled_at == start + timedelta(days=5)
    assert tenant_of(tenant_a).status == "suspended"


def test_trial_extension_revives_an_ended_trial(tenant_a, django_capture_on_commit_callbacks):
    start = timezone.now()
    subscription_make(tenant_a, plan="trial", status="trialing", trial_ends_at=start - timedelta(days=10))
    with django_capture_on_commit_callbacks(execute=True):
        services.dunning_run(now=start - timedelta(days=9))
        services.dunning_run(now=start)
    assert sub_of(tenant_a).status == "suspended" and tenant_of(tenant_a).status == "suspended"
    for bad in (0, -3, 91, "x"):
        with pytest.raises(ValidationError) as exc:
            services.trial_extend(tenant=tenant_a, days=bad, actor="ops@qiao.cn")
        assert "days" in exc.value.message_dict
    sub = services.trial_extend(tenant=tenant_a, days=14, actor="ops@qiao.cn")
    assert sub.status == "trialing" and sub.trial_ends_at > start + timedelta(days=13)
    assert tenant_of(tenant_a).status == "active"
    event = TenantEvent.objects.get(tenant=tenant_a, kind="trial_extended")
    assert event.actor == "ops@qiao.cn" and event.detail["days"] == 14


def test_trial_extension_refused_for_a_paying_tenant(tenant_a):
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A")
    with pytest.raises(ValidationError):
        services.trial_extend(tenant=tenant_a, days=7, actor="ops@qiao.cn")
    assert not TenantEvent.objects.filter(tenant=tenant_a, kind="trial_extended").exists()


def test_a_payment_does_not_lift_an_operator_suspension(tenant_a, fake_stripe, django_capture_on_commit_callbacks):
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A")
    tenant_set_status(tenant_id=tenant_a.pk, status="suspended", reason="违反服务条款", actor="ops@qiao.cn")
    fake_stripe.on("GET", "/v1/invoices/in_1", invoice_obj("in_1", customer="cus_A", subscription="sub_A"))
    fake_stripe.on("GET", "/v1/subscriptions/sub_A",
                   subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"]))
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(Client(HTTP_HOST="localhost"),
                     event_obj("invoice.paid", invoice_obj("in_1", customer="cus_A", subscription="sub_A")))
    tenant = tenant_of(tenant_a)
    assert tenant.status == "suspended" and tenant.status_reason == "违反服务条款"


def test_billing_never_replaces_nor_lifts_an_operator_suspension(tenant_a, fake_stripe,
                                                                 django_capture_on_commit_callbacks):
    """The operator suspends for abuse while the tenant is past due: the dunning run's
    suspension leaves the operator's reason, and the payment that follows does not lift it."""
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A",
                      status="past_due", stripe_status="past_due", past_due_since=timezone.now())
    tenant_set_status(tenant_id=tenant_a.pk, status="suspended", reason="违反服务条款", actor="ops@qiao.cn")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=timezone.now() + timedelta(days=8))["suspended"] == 1
    assert sub_of(tenant_a).status == "suspended"
    assert tenant_of(tenant_a).status_reason == "违反服务条款"  # not replaced by 欠费暂停
    fake_stripe.on("GET", "/v1/invoices/in_1", invoice_obj("in_1", customer="cus_A", subscription="sub_A"))
    fake_stripe.on("GET", "/v1/subscriptions/sub_A",
                   subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"]))
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(Client(HTTP_HOST="localhost"),
                     event_obj("invoice.paid", invoice_obj("in_1", customer="cus_A", subscription="sub_A")))
    assert sub_of(tenant_a).status == "active"  # billing is settled ...
    tenant = tenant_of(tenant_a)
    assert tenant.status == "suspended" and tenant.status_reason == "违反服务条款"  # ... the operator's stands
    # while billing's own suspension is lifted by the payment (the timeline test above)


def test_stripe_past_due_is_suspended_after_the_grace_period_too(tenant_a, fake_stripe,
                                                                 django_capture_on_commit_callbacks):
    subscription_make(tenant_a, plan="professional", customer="cus_A", subscription="sub_A",
                      status="past_due", stripe_status="past_due", past_due_since=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.dunning_run(now=timezone.now() + timedelta(days=8))
    assert sub_of(tenant_a).status == "suspended" and tenant_of(tenant_a).status == "suspended"
    assert fake_stripe.calls == []


def test_banners_only_for_tenant_admins(tenant_a, web_as, user_in):
    subscription_make(tenant_a, plan="standard", status="past_due", past_due_since=timezone.now())
    assert "付款逾期" in web_as(tenant_a, user_in(tenant_a, "admin")).get("/").content.decode()
    assert "付款逾期" not in web_as(tenant_a, user_in(tenant_a, "sales")).get("/").content.decode()


def test_new_tenants_get_their_subscription_when_provisioned(tenant_env, unique_slug):
    from tenants.services import tenant_create

    trial = tenant_create(name="试用公司", slug=unique_slug("tri"), mode="standard", admin_email="a@tri.cn",
                          admin_name="甲", admin_password="Secret-pass-9")
    sub = sub_of(trial)
    assert (sub.status, sub.plan.code) == ("trialing", "trial")
    assert sub.trial_ends_at == trial.provisioned_at + timedelta(days=14)
    demo = tenant_create(name="演示公司", slug=unique_slug("demo"), mode="standard", admin_email="a@demo.cn",
                         admin_name="乙", admin_password="Secret-pass-9", demo=True)
    sub = sub_of(demo)
    assert (sub.status, sub.plan.code, sub.stripe_subscription_id) == ("active", "enterprise", "")
    assert tenant_of(demo).plan_code == "enterprise"


def test_existing_tenants_get_one_lazily(tenant_a):
    Subscription.objects.filter(tenant=tenant_a).delete()
    Tenant.objects.filter(pk=tenant_a.pk).update(plan_code="professional")
    sub = services.subscription_for(tenant_a)
    assert (sub.status, sub.plan.code) == ("active", "professional")  # complimentary
    assert services.subscription_for(tenant_a).pk == sub.pk
    assert Subscription.objects.filter(tenant=tenant_a).count() == 1


def test_a_tenant_from_before_billing_on_the_trial_plan_starts_its_trial_now(tenant_a):
    """Provisioned 90 days before billing existed: its trial runs from its first billing use,
    so the next hourly run does not make it past due."""
    Subscription.objects.filter(tenant=tenant_a).delete()
    Tenant.objects.filter(pk=tenant_a.pk).update(plan_code="trial",
                                                 provisioned_at=timezone.now() - timedelta(days=90))
    sub = services.subscription_for(tenant_a)
    assert sub.status == "trialing"
    assert abs((sub.trial_ends_at - timezone.now()) - timedelta(days=14)) < timedelta(minutes=1)
    assert services.dunning_run()["past_due"] == 0 and sub_of(tenant_a).status == "trialing"


def test_an_unpaid_sign_up_is_closed_after_a_day_and_its_subdomain_freed(tenant_env):
    """A paid sign-up whose Checkout never completed (Stripe's session lives 24 hours) is closed
    by the hourly run after 25 hours: its history stays, its subdomain can be signed up again."""
    from tenants.enums import TenantStatus
    from tenants.models import Domain
    from tenants.services import tenant_request, tenant_slug_validate

    tenant = tenant_request(name="未付款公司", slug="unpaid-co", mode="standard", admin_email="boss@unpaid.cn",
                            admin_name="老板", admin_password="Strong-pass-2026", plan_code="standard",
                            awaiting_payment=True, extra={"interval": "month"})
    created = Tenant.objects.get(pk=tenant.pk).created_at
    assert services.dunning_run(now=created + timedelta(hours=24))["unpaid_signups_closed"] == 0
    with pytest.raises(ValidationError):
        tenant_slug_validate("unpaid-co")  # still reserved while the Checkout session may complete
    assert services.dunning_run(now=created + timedelta(hours=26))["unpaid_signups_closed"] == 1
    closed = Tenant.objects.get(pk=tenant.pk)
    assert closed.status == TenantStatus.CLOSED and closed.provisioning_payload == {}
    assert closed.slug == f"unpaid-co--unpaid-{tenant.pk}" and closed.schema_name == f"t_unpaid_co__unpaid_{tenant.pk}"
    assert not Domain.objects.filter(tenant=closed).exists()
    assert tenant_slug_validate("unpaid-co") == "unpaid-co"  # free again
    event = TenantEvent.objects.filter(tenant=closed).first()
    assert event.to_status == "closed" and event.detail["released_slug"] == "unpaid-co"
    assert services.dunning_run(now=created + timedelta(hours=27))["unpaid_signups_closed"] == 0


def test_a_trial_extension_gets_its_own_reminder(tenant_a, django_capture_on_commit_callbacks):
    start = timezone.now()
    subscription_make(tenant_a, plan="trial", status="trialing", trial_ends_at=start + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=start)["trial_reminders"] == 1
    services.trial_extend(tenant=tenant_a, days=10, actor="ops@qiao.cn")
    assert sub_of(tenant_a).trial_reminded_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dunning_run(now=start + timedelta(days=2))["trial_reminders"] == 0  # 9 days left
        assert services.dunning_run(now=start + timedelta(days=9))["trial_reminders"] == 1
    assert [m.subject.startswith(f"【Qiao】{tenant_a.name} 的试用将于") for m in mail.outbox] == [True, True]
