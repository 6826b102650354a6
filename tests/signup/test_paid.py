"""Sign-up for a paid plan: Stripe Checkout through the real SDK over the fake HTTP client
(tests/billing/fake_stripe.py), the tenant waiting for payment, the return from Checkout
(synced, idempotent), and Stripe being down at either end."""

from __future__ import annotations

import pytest

from billing.models import Subscription
from tenants.models import Tenant, TenantEvent
from tests.billing.fake_stripe import checkout_session_obj, customer_obj, subscription_obj

pytestmark = pytest.mark.django_db

CHECKOUT_URL = "https://checkout.stripe.test/c/pay/cs_test_signup"


@pytest.fixture
def stripe_ok(fake_stripe):
    fake_stripe.on("POST", "/v1/customers", lambda call: customer_obj("cus_signup", email=call.params["email"]))
    fake_stripe.on("POST", "/v1/checkout/sessions", lambda call: checkout_session_obj(
        "cs_test_signup", tenant_id=int(call.params["client_reference_id"]), customer="cus_signup",
        status="open", payment_status="unpaid", url=CHECKOUT_URL,
        plan=call.params["metadata"]["plan"], interval=call.params["metadata"]["interval"]))
    return fake_stripe


def _paid_signup(public, signup_data, slug, **overrides):
    data = signup_data(slug, plan="standard", interval="year", **overrides)
    return public.post("/signup/", data), data


def _progress_path(fake) -> str:
    success = fake.last("POST", "/v1/checkout/sessions").params["success_url"]
    return success.removeprefix("http://localhost").split("?")[0]


def _paid_on_return(fake, tenant):
    fake.on("GET", "/v1/checkout/sessions/cs_test_signup", checkout_session_obj(
        "cs_test_signup", tenant_id=tenant.pk, customer="cus_signup", subscription="sub_signup",
        status="complete", payment_status="paid", url=CHECKOUT_URL, interval="year"))
    fake.on("GET", "/v1/subscriptions/sub_signup", subscription_obj(
        "sub_signup", customer="cus_signup", price="price_standard_year", interval="year"))


def test_paid_signup_waits_for_payment_and_goes_to_checkout(public, signup_data, unique_slug, stripe_ok):
    slug = unique_slug("paid")
    response, _ = _paid_signup(public, signup_data, slug)
    assert response.status_code == 302 and response["Location"] == CHECKOUT_URL
    tenant = Tenant.objects.get(slug=slug)
    assert tenant.status == "awaiting_payment" and tenant.plan_code == "standard"
    assert tenant.provisioning_payload["interval"] == "year"
    assert TenantEvent.objects.get(tenant=tenant, kind="provisioning_requested").to_status == "awaiting_payment"

    call = stripe_ok.last("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "subscription"
    assert call.params["line_items"] == [{"price": "price_standard_year", "quantity": "1"}]
    assert call.params["client_reference_id"] == str(tenant.pk)
    progress = _progress_path(stripe_ok)
    assert progress.startswith("/signup/progress/") and str(tenant.pk) != progress.split("/")[3]
    assert call.params["success_url"] == f"http://localhost{progress}?session_id={{CHECKOUT_SESSION_ID}}"
    assert call.params["cancel_url"] == f"http://localhost{progress}"
    assert call.idempotency_key and call.stripe_version
    assert stripe_ok.last("POST", "/v1/customers").params["email"] == f"boss@{slug}.cn"

    # Back from Checkout without paying (cancel_url): waiting for payment, a button to pay.
    page = public.get(progress).content.decode()
    assert 'data-status="awaiting_payment"' in page and "正在等待付款" in page
    assert f'action="{progress}checkout/"' in page and "/login/" not in page


def test_return_from_checkout_syncs_and_provisions_once(public, signup_data, unique_slug, stripe_ok,
                                                        django_capture_on_commit_callbacks):
    slug = unique_slug("paidok")
    _paid_signup(public, signup_data, slug)
    tenant = Tenant.objects.get(slug=slug)
    progress = _progress_path(stripe_ok)
    _paid_on_return(stripe_ok, tenant)

    with django_capture_on_commit_callbacks(execute=True):
        back = public.get(progress, {"session_id": "cs_test_signup"})
    assert back.status_code == 200
    assert stripe_ok.last("GET", "/v1/checkout/sessions/cs_test_signup")
    tenant.refresh_from_db()
    assert tenant.status == "active"
    sub = Subscription.objects.get(tenant=tenant)
    assert sub.plan.code == "standard" and sub.stripe_subscription_id == "sub_signup"
    assert sub.stripe_customer_id == "cus_signup"

    page = public.get(progress).content.decode()
    assert "开通完成" in page and f'href="http://{slug}.localhost/login/"' in page

    # The same return again (a reload, or the webhook got there first): nothing happens twice.
    checkouts = len(stripe_ok.requests("POST", "/v1/checkout/sessions"))
    with django_capture_on_commit_callbacks(execute=True):
        assert public.get(progress, {"session_id": "cs_test_signup"}).status_code == 200
    assert TenantEvent.objects.filter(tenant=tenant, kind="provisioned").count() == 1
    assert len(stripe_ok.requests("POST", "/v1/checkout/sessions")) == checkouts


def test_unpaid_session_on_return_keeps_waiting(public, signup_data, unique_slug, stripe_ok):
    slug = unique_slug("unpaid")
    _paid_signup(public, signup_data, slug)
    tenant = Tenant.objects.get(slug=slug)
    stripe_ok.on("GET", "/v1/checkout/sessions/cs_test_signup", checkout_session_obj(
        "cs_test_signup", tenant_id=tenant.pk, customer="cus_signup", status="open", payment_status="unpaid"))
    page = public.get(_progress_path(stripe_ok), {"session_id": "cs_test_signup"}).content.decode()
    assert "正在等待付款" in page and 'hx-trigger="every 5s"' in page
    tenant.refresh_from_db()
    assert tenant.status == "awaiting_payment"


@pytest.mark.parametrize("session_id", ["../../v1/customers", "pi_123", "cs_" + "x" * 400, "cs_a b"])
def test_malformed_session_ids_are_not_sent_to_stripe(public, signup_data, unique_slug, stripe_ok, session_id):
    _paid_signup(public, signup_data, unique_slug("badsess"))
    progress = _progress_path(stripe_ok)
    response = public.get(progress, {"session_id": session_id})
    assert response.status_code == 200 and "正在等待付款" in response.content.decode()
    assert not stripe_ok.requests("GET", "/v1/checkout/sessions*")


def test_stripe_down_at_checkout_keeps_the_signup_and_lets_the_user_retry(
        public, signup_data, unique_slug, stripe_ok):
    slug = unique_slug("down")
    stripe_ok.stripe_down()
    response, data = _paid_signup(public, signup_data, slug)
    assert response.status_code == 503
    page = response.content.decode()
    assert 'data-testid="billing-unavailable"' in page and "子域名为你保留" in page
    tenant = Tenant.objects.get(slug=slug)
    assert tenant.status == "awaiting_payment"  # kept, waiting; the subdomain stays reserved
    progress = page.split('data-testid="progress-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert progress.startswith("/signup/progress/")

    # A double click meanwhile lands on the progress page, not on a second tenant.
    again = public.post("/signup/", data)
    assert again.status_code == 302 and again["Location"] == progress
    assert Tenant.objects.filter(slug=slug).count() == 1

    # Stripe is back: the retry button opens Checkout.
    stripe_ok.stripe_down(False)
    retry = public.post(f"{progress}checkout/")
    assert retry.status_code == 302 and retry["Location"] == CHECKOUT_URL
    tenant.refresh_from_db()
    assert tenant.status == "awaiting_payment"


def test_stripe_down_on_return_says_so_and_keeps_polling(public, signup_data, unique_slug, stripe_ok):
    slug = unique_slug("downback")
    _paid_signup(public, signup_data, slug)
    progress = _progress_path(stripe_ok)
    stripe_ok.stripe_down()
    response = public.get(progress, {"session_id": "cs_test_signup"})
    assert response.status_code == 503
    page = response.content.decode()
    assert 'data-testid="billing-error"' in page and 'hx-trigger="every 5s"' in page
    assert Tenant.objects.get(slug=slug).status == "awaiting_payment"


def test_a_double_submit_of_a_paid_signup_opens_one_checkout(public, signup_data, unique_slug, stripe_ok):
    slug = unique_slug("paidtwice")
    data = signup_data(slug, plan="standard", interval="month")
    first, second = public.post("/signup/", data), public.post("/signup/", data)
    assert first["Location"] == second["Location"] == CHECKOUT_URL
    assert Tenant.objects.filter(slug=slug).count() == 1
    assert len(stripe_ok.requests("POST", "/v1/checkout/sessions")) == 1


def test_retry_checkout_for_a_tenant_not_awaiting_payment_goes_to_progress(
        public, signup_data, unique_slug, stripe_ok):
    response = public.post("/signup/", signup_data(unique_slug("trialretry")))
    progress = response["Location"]
    retry = public.post(f"{progress}checkout/")
    assert retry.status_code == 302 and retry["Location"] == progress
    assert not stripe_ok.requests("POST", "/v1/checkout/sessions")
    assert public.get(f"{progress}checkout/").status_code == 405
    assert public.post("/signup/progress/forged/checkout/").status_code == 404
