"""Console actions on a tenant: each has its effect, is written to the operator log and to the
tenant's history (TenantEvent), and bad input is a 4xx with a clear message and no effect."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from billing.models import Subscription
from console.models import OperatorLogEntry
from tenants.models import Domain, Tenant, TenantEvent
from tenants.services import tenant_request, tenant_set_status
from tests.billing.factories import subscription_make
from tests.billing.fake_stripe import fake_stripe  # noqa: F401  (fixture)
from tests.conftest import host_of
from tests.console.helpers import public_client

pytestmark = pytest.mark.django_db


def _log(tenant, action=None):
    qs = OperatorLogEntry.objects.filter(tenant=tenant)
    return list(qs.filter(action=action)) if action else list(qs)


def _events(tenant, kind):
    return list(TenantEvent.objects.filter(tenant=tenant, kind=kind).order_by("at", "id"))


def _post(client, tenant, action, data=None, **extra):
    return client.post(f"/console/tenants/{tenant.pk}/{action}/", data or {}, **extra)


# -- suspend, resume, close -----------------------------------------------------------------------
def test_suspend_needs_a_reason_then_makes_the_tenant_read_only(console, tenant_a, web_as, user_in,
                                                                   django_capture_on_commit_callbacks):
    client, operator = console
    response = _post(client, tenant_a, "suspend", {"reason": "  "})
    assert response.status_code == 400 and "请说明暂停的原因" in response.content.decode()
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active" and not _log(tenant_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, tenant_a, "suspend", {"reason": "合同纠纷，等待法务确认"},
                         REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302 and response["Location"] == f"/console/tenants/{tenant_a.pk}/"
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.status == "suspended" and tenant.status_reason == "合同纠纷，等待法务确认"
    [entry] = _log(tenant_a, "tenant_suspended")
    assert entry.operator_id == operator.pk and entry.operator_email == operator.email
    assert entry.reason == "合同纠纷，等待法务确认" and entry.ip == "203.0.113.9"
    assert entry.detail == {"from": "active", "to": "suspended"}
    [event] = _events(tenant_a, "status_changed")
    assert (event.actor, event.from_status, event.to_status) == (operator.email, "active", "suspended")
    page = client.get(response["Location"]).content.decode()
    assert "已暂停租户" in page and "合同纠纷" in page
    # the tenant is now read-only for its users
    staff = web_as(tenant_a, user_in(tenant_a, "admin"))
    assert staff.post("/staff/invite/", {"email": "x@alpha.test", "full_name": "x"}).status_code == 423

    # suspending again is refused with a message, and nothing is logged twice
    assert _post(client, tenant_a, "suspend", {"reason": "again"}).status_code == 400
    assert len(_log(tenant_a, "tenant_suspended")) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, tenant_a, "resume", {"reason": "已解决"})
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"
    assert _log(tenant_a, "tenant_resumed")[0].reason == "已解决"
    assert [e.to_status for e in _events(tenant_a, "status_changed")] == ["suspended", "active"]


def test_close_needs_a_reason_and_the_slug_typed(console, tenant_b):
    client, operator = console
    for data, message in [({"reason": "客户要求注销", "confirm": "wrong"}, "请输入子域名"),
                          ({"reason": "", "confirm": tenant_b.slug}, "请说明关闭的原因"),
                          ({"reason": "客户要求注销"}, "请输入子域名")]:
        response = _post(client, tenant_b, "close", data)
        assert response.status_code == 400 and message in response.content.decode(), data
    assert Tenant.objects.get(pk=tenant_b.pk).status == "active" and not _log(tenant_b)

    response = _post(client, tenant_b, "close", {"reason": "客户要求注销", "confirm": tenant_b.slug.upper()})
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant_b.pk).status == "closed"
    assert _log(tenant_b, "tenant_closed")[0].reason == "客户要求注销"
    assert _events(tenant_b, "status_changed")[0].to_status == "closed"
    # closed is final
    response = _post(client, tenant_b, "resume", {})
    assert response.status_code == 400 and "不能从" in response.content.decode()


def test_closing_a_paying_tenant_ends_its_stripe_subscription(console, tenant_b, fake_stripe):  # noqa: F811
    """No charge after closing: the Stripe subscription ends at once, the local one is closed (out
    of MRR, no dunning); with Stripe unreachable nothing is closed and the operator is told."""
    from tests.billing.fake_stripe import PRICE_IDS, subscription_obj

    client, _operator = console
    subscription_make(tenant_b, plan="standard", customer="cus_B", subscription="sub_B", stripe_status="active")
    fake_stripe.stripe_down()
    down = _post(client, tenant_b, "close", {"reason": "客户要求注销", "confirm": tenant_b.slug})
    assert down.status_code == 503 and Tenant.objects.get(pk=tenant_b.pk).status == "active"
    assert Subscription.objects.get(tenant=tenant_b).status == "active" and not _log(tenant_b, "tenant_closed")

    fake_stripe.reset()
    fake_stripe.on("DELETE", "/v1/subscriptions/sub_B",
                   subscription_obj("sub_B", customer="cus_B", price=PRICE_IDS["standard_month"], status="canceled"))
    response = _post(client, tenant_b, "close", {"reason": "客户要求注销", "confirm": tenant_b.slug})
    assert response.status_code == 302
    [call] = fake_stripe.requests("DELETE", "/v1/subscriptions/sub_B")
    assert call.idempotency_key == f"sub-{Subscription.objects.get(tenant=tenant_b).pk}-end-sub_B"
    sub = Subscription.objects.get(tenant=tenant_b)
    assert (sub.status, sub.stripe_status) == ("closed", "canceled")
    tenant = Tenant.objects.get(pk=tenant_b.pk)
    assert tenant.status == "closed" and tenant.status_reason == "客户要求注销"  # the operator's reason


def test_unknown_action_or_tenant(console, tenant_a):
    client, _operator = console
    assert _post(client, tenant_a, "explode", {}).status_code == 404
    assert client.post("/console/tenants/999999/suspend/", {"reason": "x"}).status_code == 404
    assert client.get(f"/console/tenants/{tenant_a.pk}/suspend/").status_code == 405


def test_actions_need_the_csrf_token(console, tenant_a):
    _client, operator = console
    strict = public_client(enforce_csrf_checks=True)
    strict.cookies = _client.cookies
    assert _post(strict, tenant_a, "suspend", {"reason": "x"}).status_code == 403
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"


# -- plan and trial ----------------------------------------------------------------------------
def test_change_plan_without_stripe_is_recorded(console, tenant_a):
    client, operator = console
    subscription_make(tenant_a, plan="standard", status="active")
    response = _post(client, tenant_a, "plan", {"plan": "professional", "interval": "year", "reason": "升级试点"})
    assert response.status_code == 302
    sub = Subscription.objects.get(tenant=tenant_a)
    assert (sub.plan.code, sub.interval) == ("professional", "year")
    assert Tenant.objects.get(pk=tenant_a.pk).plan_code == "professional"
    [entry] = _log(tenant_a, "plan_changed")
    assert entry.detail == {"from": "standard", "to": "professional", "interval": "year"}
    assert entry.reason == "升级试点"
    assert _events(tenant_a, "plan_changed")[-1].actor == operator.email


@pytest.mark.parametrize("data, message", [
    ({"plan": "nope", "interval": "month"}, "套餐不存在"),
    ({"plan": "professional", "interval": "week"}, "按月或按年"),
    ({"plan": "trial", "interval": "month"}, "不能切换到"),
])
def test_change_plan_bad_input(console, tenant_a, data, message):
    client, _operator = console
    subscription_make(tenant_a, plan="standard", status="active")
    response = _post(client, tenant_a, "plan", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert Subscription.objects.get(tenant=tenant_a).plan.code == "standard"
    assert not _log(tenant_a, "plan_changed")


def test_change_plan_when_stripe_is_down_is_a_message_not_a_500(console, tenant_a, fake_stripe):  # noqa: F811
    client, _operator = console
    subscription_make(tenant_a, plan="standard", status="active", customer="cus_a", subscription="sub_a")
    fake_stripe.stripe_down()
    response = _post(client, tenant_a, "plan", {"plan": "professional", "interval": "month"})
    assert response.status_code == 503
    assert "支付服务暂时无法连接" in response.content.decode()
    assert Subscription.objects.get(tenant=tenant_a).plan.code == "standard"
    assert not _log(tenant_a, "plan_changed")


def test_extend_trial(console, tenant_a):
    client, operator = console
    sub = subscription_make(tenant_a, plan="trial", status="trialing", trial_days=2)
    before = sub.trial_ends_at
    response = _post(client, tenant_a, "trial", {"days": "10", "reason": "客户在走采购流程"})
    assert response.status_code == 302
    sub.refresh_from_db()
    assert (sub.trial_ends_at - before).days == 10
    [entry] = _log(tenant_a, "trial_extended")
    assert entry.detail["days"] == 10 and entry.reason == "客户在走采购流程"
    assert _events(tenant_a, "trial_extended")[0].actor == operator.email


@pytest.mark.parametrize("days", ["0", "-3", "91", "abc", ""])
def test_extend_trial_bad_days(console, tenant_a, days):
    client, _operator = console
    sub = subscription_make(tenant_a, plan="trial", status="trialing", trial_days=2)
    response = _post(client, tenant_a, "trial", {"days": days})
    assert response.status_code == 400 and "延长天数须在 1 到" in response.content.decode()
    assert Subscription.objects.get(pk=sub.pk).trial_ends_at == sub.trial_ends_at
    assert not _log(tenant_a, "trial_extended")


def test_extend_trial_of_a_paid_tenant_is_refused(console, tenant_a):
    client, _operator = console
    subscription_make(tenant_a, plan="standard", status="active")
    response = _post(client, tenant_a, "trial", {"days": "5"})
    assert response.status_code == 400 and "不在试用期" in response.content.decode()


# -- domains ------------------------------------------------------------------------------------
def test_add_and_remove_a_custom_domain(console, tenant_a, settings):
    client, operator = console
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "crm.alpha-corp.cn"]  # deployments allow them
    cache.set("tenant-by-host:crm.alpha-corp.cn", {}, 60)  # a lookup cached as unknown before
    response = _post(client, tenant_a, "domain-add", {"domain": " CRM.Alpha-Corp.CN. "})
    assert response.status_code == 302
    row = Domain.objects.get(domain="crm.alpha-corp.cn")
    assert row.tenant_id == tenant_a.pk and not row.is_primary
    assert Domain.objects.get(tenant=tenant_a, is_primary=True).domain == host_of(tenant_a)
    assert _log(tenant_a, "domain_added")[0].detail == {"domain": "crm.alpha-corp.cn"}
    assert _events(tenant_a, "domain_added")[0].detail == {"domain": "crm.alpha-corp.cn"}
    # the tenant now answers on it
    from django.test import Client

    assert Client(HTTP_HOST="crm.alpha-corp.cn").get("/login/").status_code == 200
    page = client.get(f"/console/tenants/{tenant_a.pk}/").content.decode()
    assert "crm.alpha-corp.cn" in page and 'data-testid="domain-not-served"' not in page
    # a deployment whose ALLOWED_HOSTS does not cover it: the console says so
    settings.ALLOWED_HOSTS = [h for h in settings.ALLOWED_HOSTS if h != "crm.alpha-corp.cn"]
    page = client.get(f"/console/tenants/{tenant_a.pk}/").content.decode()
    assert page.count('data-testid="domain-not-served"') == 1 and "ALLOWED_HOSTS" in page

    response = _post(client, tenant_a, "domain-remove", {"domain_id": row.pk})
    assert response.status_code == 302
    assert not Domain.objects.filter(domain="crm.alpha-corp.cn").exists()
    assert _events(tenant_a, "domain_removed")[0].detail == {"domain": "crm.alpha-corp.cn"}
    assert _log(tenant_a, "domain_removed")[0].operator_email == operator.email


@pytest.mark.parametrize("domain, message", [
    ("", "请输入域名"),
    ("https://crm.example.com/", "只填写主机名"),
    ("crm.example.com:8443", "只填写主机名"),
    ("localhost", "平台域名"),
    ("evil.localhost", "平台域名"),
    ("10.0.0.1", "IP 地址"),
    ("nodot", "不是有效的域名"),
    ("-bad-.example.com", "不是有效的域名"),
    ("under_score.example.com", "不是有效的域名"),
    ("a" * 64 + ".example.com", "不是有效的域名"),
])
def test_add_domain_refuses_bad_hostnames(console, tenant_a, domain, message):
    client, _operator = console
    count = Domain.objects.count()
    response = _post(client, tenant_a, "domain-add", {"domain": domain})
    assert response.status_code == 400 and message in response.content.decode()
    assert Domain.objects.count() == count and not _log(tenant_a, "domain_added")


def test_a_domain_is_unique_across_tenants(console, tenant_a, tenant_b):
    client, _operator = console
    assert _post(client, tenant_a, "domain-add", {"domain": "shared.example.com"}).status_code == 302
    response = _post(client, tenant_b, "domain-add", {"domain": "Shared.Example.com"})
    assert response.status_code == 400 and "已被其他租户" in response.content.decode()
    response = _post(client, tenant_a, "domain-add", {"domain": "shared.example.com"})
    assert response.status_code == 400 and "已经属于这个租户" in response.content.decode()
    response = _post(client, tenant_b, "domain-add", {"domain": host_of(tenant_a)})
    assert response.status_code == 400
    assert Domain.objects.get(domain="shared.example.com").tenant_id == tenant_a.pk


def test_the_primary_domain_and_other_tenants_domains_cannot_be_removed(console, tenant_a, tenant_b):
    client, _operator = console
    primary = Domain.objects.get(tenant=tenant_a, is_primary=True)
    response = _post(client, tenant_a, "domain-remove", {"domain_id": primary.pk})
    assert response.status_code == 400 and "不能移除主域名" in response.content.decode()
    _post(client, tenant_b, "domain-add", {"domain": "beta-only.example.com"})
    other = Domain.objects.get(domain="beta-only.example.com")
    response = _post(client, tenant_a, "domain-remove", {"domain_id": other.pk})
    assert response.status_code == 400 and "没有该域名" in response.content.decode()
    assert _post(client, tenant_a, "domain-remove", {"domain_id": "x"}).status_code == 400
    assert Domain.objects.filter(pk__in=[primary.pk, other.pk]).count() == 2


def test_the_idna_form_of_a_chinese_domain_is_stored(console, tenant_a):
    client, _operator = console
    assert _post(client, tenant_a, "domain-add", {"domain": "客户.中国"}).status_code == 302
    assert Domain.objects.filter(tenant=tenant_a, domain="xn--ubt06m.xn--fiqs8s").exists()


# -- provisioning --------------------------------------------------------------------------------
@pytest.fixture
def failed_tenant(tenant_env, unique_slug):
    tenant = tenant_request(name="开通失败公司", slug=unique_slug("fail"), mode="standard",
                            admin_email="boss@fail.cn", admin_name="Boss")
    tenant_set_status(tenant_id=tenant.pk, status="failed", reason="template missing")
    Tenant.objects.filter(pk=tenant.pk).update(provisioning_error="ProvisioningError: template missing")
    return Tenant.objects.get(pk=tenant.pk)


def test_rerun_a_failed_provisioning(console, failed_tenant, django_capture_on_commit_callbacks):
    client, operator = console
    page = client.get(f"/console/tenants/{failed_tenant.pk}/").content.decode()
    assert "重新开通" in page and "template missing" in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, failed_tenant, "provision")
    assert response.status_code == 302
    assert Tenant.objects.get(pk=failed_tenant.pk).status == "provisioning"
    assert len(callbacks) == 1  # the provisioning task, queued once the request commits
    [event] = _events(failed_tenant, "provisioning_retried")
    assert (event.actor, event.from_status, event.to_status) == (operator.email, "failed", "provisioning")
    assert _log(failed_tenant, "provisioning_retried")[0].detail["previous_error"].startswith("ProvisioningError")
    # only a failed provisioning can be re-run
    response = _post(client, failed_tenant, "provision")
    assert response.status_code == 400 and "只有开通失败的租户" in response.content.decode()
    assert len(_events(failed_tenant, "provisioning_retried")) == 1


# -- creating a tenant ------------------------------------------------------------------------------
def test_create_a_tenant_from_the_console(console, unique_slug, django_capture_on_commit_callbacks):
    client, operator = console
    slug = unique_slug("web")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/console/tenants/new/", {
            "name": "网页开通公司", "slug": slug, "mode": "keyaccount", "language": "en",
            "admin_name": "Boss", "admin_email": "boss@web.cn", "admin_password": "Boss-pass-2026"})
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug=slug)
    assert tenant.status == "provisioning" and tenant.language == "en" and len(callbacks) == 1
    assert _log(tenant, "tenant_created")[0].operator_email == operator.email
    panel = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="provisioning"' in panel


def test_create_form_reports_a_taken_slug(console, tenant_a):
    client, _operator = console
    response = client.post("/console/tenants/new/", {
        "name": "重名", "slug": "alpha", "mode": "standard", "language": "zh-hans",
        "admin_name": "x", "admin_email": "x@x.cn", "admin_password": "Boss-pass-2026"})
    assert response.status_code == 400 and "已被占用" in response.content.decode()
    assert not OperatorLogEntry.objects.filter(action="tenant_created").exists()
