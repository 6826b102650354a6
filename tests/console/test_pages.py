"""Console pages: the tenants list (search, filters, sorting, pages, counts), the tenant page
(domains, subscription, usage from the tenant's schema, history, operator log), the dashboard's
figures and the operator log with its filters."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import StripeEvent, Subscription
from console import selectors, views
from console.models import OperatorLogEntry
from crm.customers.models import Customer
from crm.org.models import User
from tenants.models import Tenant
from tests.billing.factories import subscription_make

pytestmark = pytest.mark.django_db


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-tenant="([^"]+)"', html)


def _get(client, url, status=200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


# -- the tenants list ------------------------------------------------------------------------
def test_tenant_list_search_and_filters(console, tenant_a, tenant_b):
    client, _operator = console
    page = _get(client, "/console/tenants/")
    assert {"alpha", "beta"} <= set(_rows(page)) and "__template__" not in page
    assert _rows(_get(client, "/console/tenants/?mode=project")) == ["beta"]
    assert "alpha" in _rows(_get(client, "/console/tenants/?q=ALPHA"))
    assert _rows(_get(client, "/console/tenants/?q=admin@beta.test")) == ["beta"]
    assert _rows(_get(client, f"/console/tenants/?q={tenant_b.slug}.localhost")) == ["beta"]
    assert _rows(_get(client, "/console/tenants/?status=suspended")) == []
    Tenant.objects.filter(pk=tenant_b.pk).update(status="suspended")
    assert _rows(_get(client, "/console/tenants/?status=suspended")) == ["beta"]
    # plan
    subscription_make(tenant_a, plan="professional", status="active")
    assert "alpha" in _rows(_get(client, "/console/tenants/?plan=professional"))
    assert "alpha" not in _rows(_get(client, "/console/tenants/?plan=standard"))
    # created (a range of days)
    today = timezone.localdate()
    Tenant.objects.filter(pk=tenant_a.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
    recent = _rows(_get(client, f"/console/tenants/?created_from={today - datetime.timedelta(days=7)}"))
    assert "beta" in recent and "alpha" not in recent
    old = _rows(_get(client, f"/console/tenants/?created_from={today - datetime.timedelta(days=45)}"
                             f"&created_to={today - datetime.timedelta(days=35)}"))
    assert old == ["alpha"]
    # last activity
    Tenant.objects.filter(pk=tenant_a.pk).update(last_activity_at=timezone.now() - datetime.timedelta(days=2))
    Tenant.objects.filter(pk=tenant_b.pk).update(last_activity_at=None)
    assert "alpha" in _rows(_get(client, "/console/tenants/?activity=7"))
    assert "beta" not in _rows(_get(client, "/console/tenants/?activity=7"))
    never = _rows(_get(client, "/console/tenants/?activity=never"))
    assert "beta" in never and "alpha" not in never
    idle = _rows(_get(client, "/console/tenants/?activity=idle30"))
    assert "beta" in idle and "alpha" not in idle


def test_tenant_list_sorts_pages_and_counts(console, tenant_a, tenant_b, monkeypatch):
    client, _operator = console
    names = _rows(_get(client, "/console/tenants/?sort=name&q=测试有限公司"))
    assert names == ["alpha", "beta"]
    assert _rows(_get(client, "/console/tenants/?sort=-name&q=测试有限公司")) == ["beta", "alpha"]
    Tenant.objects.filter(pk=tenant_a.pk).update(last_activity_at=timezone.now())
    Tenant.objects.filter(pk=tenant_b.pk).update(last_activity_at=timezone.now() - datetime.timedelta(days=1))
    assert _rows(_get(client, "/console/tenants/?sort=-activity&q=测试有限公司")) == ["alpha", "beta"]
    assert _rows(_get(client, "/console/tenants/?sort=activity&q=测试有限公司")) == ["beta", "alpha"]

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    first = _get(client, "/console/tenants/?sort=name&q=测试有限公司")
    assert _rows(first) == ["alpha"] and "第 1 / 2 页" in first and "共 2 个租户" in first
    # the next page keeps the sort and the search
    assert re.search(r'href="\?[^"]*sort=name[^"]*page=2|href="\?[^"]*page=2[^"]*sort=name', first), first
    assert _rows(_get(client, "/console/tenants/?sort=name&q=测试有限公司&page=2")) == ["beta"]
    counts = re.search(r'data-testid="status-counts">(.*?)</p>', first, re.S).group(1)
    active = Tenant.objects.real().filter(status="active").count()
    assert f"正常 {active}" in counts


@pytest.mark.parametrize("query, message", [
    ("created_from=yesterday", "有效的日期"),
    ("status=bogus", "bogus"),
    ("sort=password", "password"),
    ("created_from=2026-05-02&created_to=2026-05-01", "结束日期不能早于开始日期"),
])
def test_tenant_list_bad_filters_are_a_400_with_the_reason(console, query, message):
    client, _operator = console
    page = _get(client, f"/console/tenants/?{query}", status=400)
    assert message in page and 'data-testid="filter-errors"' in page


def test_tenant_list_queries_do_not_grow_with_tenants(console, tenant_a, tenant_b, django_assert_max_num_queries,
                                                     unique_slug):
    from tenants.services import tenant_request

    client, _operator = console
    for i in range(8):
        tenant_request(name=f"批量公司{i}", slug=unique_slug("bulk"), mode="standard",
                       admin_email=f"b{i}@bulk.cn", admin_name="b")
    with django_assert_max_num_queries(12):
        page = _get(client, "/console/tenants/")
    assert len(_rows(page)) >= 10


# -- the tenant page ---------------------------------------------------------------------------
def test_tenant_page_shows_subscription_usage_and_history(console, tenant_a, in_tenant):
    client, operator = console
    subscription_make(tenant_a, plan="standard", status="past_due", customer="cus_TEST1",
                      subscription="sub_TEST1", past_due_since=timezone.now())
    seen = timezone.now() - datetime.timedelta(hours=3)
    with in_tenant(tenant_a):
        User.objects.filter(email="sales@alpha.example.com").update(last_login=seen)
        customers = Customer.objects.count()
        staff = User.objects.filter(kind="staff", is_active=True).count()
    page = _get(client, f"/console/tenants/{tenant_a.pk}/")
    assert "alpha.localhost" in page and "主域名" in page
    assert "cus_TEST1" in page and "sub_TEST1" in page and "逾期未付" in page
    usage = re.search(r'data-testid="usage">(.*?)</div>\s*</div>', page, re.S).group(1)
    assert f"<dd>{staff} / 10" in usage  # the standard plan's seats
    assert timezone.localtime(seen).strftime("%Y-%m-%d %H:%M") in usage
    rows = re.search(r'data-testid="row-counts">(.*?)</table>', page, re.S).group(1)
    assert re.search(rf"<td>客户</td><td class=\"num\">{customers}</td>", rows), rows
    assert re.search(r'data-testid="storage">[0-9.]+\s*(KB|MB|GB)', page)
    assert 'data-kind="provisioned"' in page  # provisioning history
    assert 'data-kind="billing_status_changed"' in page  # billing history (the subscription's start)


def test_tenant_usage_counts_rows_exactly_when_small_and_estimates_when_large(tenant_a, monkeypatch):
    usage = selectors.tenant_usage(tenant_a)
    assert usage.staff_active > 0 and usage.storage_bytes > 0
    assert all(not estimated for _label, _n, estimated in usage.rows)
    monkeypatch.setattr(selectors, "EXACT_COUNT_BELOW", -1)  # every table "large"
    estimated = selectors.tenant_usage(tenant_a)
    assert all(flag for _label, _n, flag in estimated.rows)


def test_tenant_page_of_a_tenant_without_a_schema(console, unique_slug):
    from tenants.services import tenant_request

    client, _operator = console
    tenant = tenant_request(name="待支付公司", slug=unique_slug("pay"), mode="standard",
                            admin_email="p@pay.cn", admin_name="p", awaiting_payment=True, plan_code="standard")
    page = _get(client, f"/console/tenants/{tenant.pk}/")
    assert "还没有数据库空间" in page and "待支付" in page
    assert 'data-testid="support-link"' not in page
    assert _get(client, "/console/tenants/999999/", status=404)


# -- the dashboard -----------------------------------------------------------------------------
def test_dashboard_figures(console, tenant_a, tenant_b):
    client, _operator = console
    before = selectors.dashboard_figures()
    now = timezone.now()
    subscription_make(tenant_a, plan="standard", status="active", interval="month",
                      customer="cus_a", subscription="sub_a")
    subscription_make(tenant_b, plan="professional", status="active", interval="year",
                      customer="cus_b", subscription="sub_b")
    after = selectors.dashboard_figures()
    assert after["mrr"] - before["mrr"] == Decimal("990.00") + (Decimal("29900") / 12).quantize(Decimal("0.01"))
    assert after["paying"] - before["paying"] == 2
    # churn: beta's subscription existed 40 days ago and was cancelled 5 days ago
    Subscription.objects.filter(tenant=tenant_b).update(
        status="cancelled", cancelled_at=now - datetime.timedelta(days=5))
    Subscription.objects.filter(tenant__in=[tenant_a, tenant_b]).update(created_at=now - datetime.timedelta(days=40))
    churn = selectors.dashboard_figures()
    assert churn["churned"] - before["churned"] == 1
    assert churn["churn_base"] >= 2 and churn["churn_rate"] == (
        Decimal(churn["churned"]) * 100 / churn["churn_base"]).quantize(Decimal("0.1"))
    # failed payments: events of the last 30 days and past-due subscriptions
    for i, days in enumerate((3, 45)):
        StripeEvent.objects.create(event_id=f"evt_fail_{i}_{tenant_a.pk}", type="invoice.payment_failed",
                                   created=now - datetime.timedelta(days=days), tenant=tenant_a,
                                   payload={}, customer_id="cus_a")
    Subscription.objects.filter(tenant=tenant_a).update(status="past_due", past_due_since=now)
    figures = selectors.dashboard_figures()
    assert figures["failed_payments"] - before["failed_payments"] == 1
    assert tenant_a.pk in [s.tenant_id for s in figures["past_due"]]

    page = _get(client, "/console/")
    assert "¥" in page and 'data-testid="signups"' in page and 'data-mode="project"' in page
    assert tenant_a.name in re.search(r'data-testid="past-due">(.*?)</div>', page, re.S).group(1)
    assert f"evt_fail_0_{tenant_a.pk}" in page and f"evt_fail_1_{tenant_a.pk}" not in page


def test_the_dashboard_lists_the_stripe_events_that_need_an_operator(console, tenant_a):
    client, _operator = console
    now = timezone.now()
    for event_id, status in (("evt_flag", "flagged"), ("evt_fail", "failed"), ("evt_ok", "processed"),
                             ("evt_ign", "ignored")):
        StripeEvent.objects.create(event_id=event_id, type="customer.subscription.created", created=now,
                                   payload={}, status=status, customer_id="cus_x", error=f"{status} because")
    area = re.search(r'data-testid="events-attention">(.*?)</div>', _get(client, "/console/"), re.S).group(1)
    assert 'data-event="evt_flag"' in area and 'data-event="evt_fail"' in area
    assert "evt_ok" not in area and "evt_ign" not in area and "flagged because" in area


def test_dashboard_signups_per_week_and_active_by_mode_and_plan(console, tenant_a, tenant_b):
    figures = selectors.dashboard_figures()
    assert len(figures["signups"]) == 12
    weeks = [w for w, _n, _pct in figures["signups"]]
    assert all(w.weekday() == 0 for w in weeks) and weeks == sorted(weeks)
    this_week = weeks[-1]
    Tenant.objects.filter(pk=tenant_b.pk).update(created_at=timezone.now() - datetime.timedelta(weeks=3))
    moved = selectors.dashboard_figures()
    counts = {w: n for w, n, _pct in moved["signups"]}
    before = {w: n for w, n, _pct in figures["signups"]}
    three_weeks_ago = this_week - datetime.timedelta(weeks=3)
    assert counts[three_weeks_ago] == before[three_weeks_ago] + 1
    modes = {key: n for key, n in ((row["primary"], row["n"]) for row in moved["by_mode"])}
    assert modes.get("standard", 0) >= 1 and modes.get("project", 0) >= 1
    Tenant.objects.filter(pk=tenant_b.pk).update(status="suspended")
    after = selectors.dashboard_figures()
    assert {r["primary"]: r["n"] for r in after["by_mode"]}.get("project", 0) == modes["project"] - 1
    plans = {code: n for code, _name, n in after["by_plan"]}
    assert sum(plans.values()) == after["active_total"]


# -- the operator log ----------------------------------------------------------------------------
def test_operator_log_page_filters(console, tenant_a, tenant_b):
    client, operator = console
    client.post(f"/console/tenants/{tenant_a.pk}/domain-add/", {"domain": "log-a.example.com"})
    client.post(f"/console/tenants/{tenant_b.pk}/domain-add/", {"domain": "log-b.example.com"})
    page = _get(client, "/console/log/")
    assert "log-a.example.com" in page and "log-b.example.com" in page and "登录" in page
    by_tenant = _get(client, f"/console/log/?tenant={tenant_a.slug}")
    assert "log-a.example.com" in by_tenant and "log-b.example.com" not in by_tenant
    assert "log-b.example.com" in _get(client, f"/console/log/?tenant={tenant_b.pk}")
    only_logins = _get(client, "/console/log/?action=login")
    assert 'data-action="login"' in only_logins and 'data-action="domain_added"' not in only_logins
    assert "log-a" in _get(client, f"/console/log/?operator={operator.email.upper()}")
    assert "log-a" not in _get(client, "/console/log/?operator=someone-else@qiao.cn")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert "log-a" not in _get(client, f"/console/log/?date_from={tomorrow}")
    assert "log-a" in _get(client, f"/console/log/?date_to={tomorrow}")
    _get(client, "/console/log/?date_from=nope", status=400)
    _get(client, "/console/log/?action=bogus", status=400)
    # the tenant page carries its own part of the log
    tenant_page = _get(client, f"/console/tenants/{tenant_a.pk}/")
    log = re.search(r'data-testid="tenant-log">(.*?)</div>', tenant_page, re.S).group(1)
    assert "log-a.example.com" in log and "log-b.example.com" not in log
    assert OperatorLogEntry.objects.filter(action="domain_added", ip="127.0.0.1").count() == 2


def test_every_console_page_renders_in_english_too(console, tenant_a):
    client, _operator = console
    client.cookies["qiao_language"] = "en"
    for url in ["/console/", "/console/tenants/", "/console/tenants/new/", f"/console/tenants/{tenant_a.pk}/",
                f"/console/tenants/{tenant_a.pk}/support/", "/console/log/"]:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Language"] == "en", url
