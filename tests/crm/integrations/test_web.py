"""The integrations pages of the tenant admin: endpoints (secret shown once, rotate,
deactivate, ping), the delivery log (filters, cursor, attempts inline, replay), ERP clients
(token shown once, revoke), the inbound log and the help page; 403 for other staff."""

from __future__ import annotations

import re

import pytest

from crm.integrations.enums import WebhookEventType
from crm.integrations.models import ErpClient, WebhookDelivery, WebhookEndpoint
from crm.integrations.services import webhook_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(tenant_a, people, web_as):
    return web_as(tenant_a, people["admin"])


def _secret_in(page: str) -> str:
    match = re.search(r'data-testid="secret">([^<]+)<', page)
    assert match, "the secret is shown"
    return match.group(1)


def test_pages_render_for_the_admin_and_are_403_for_other_staff(tenant_a, people, web_as, admin_web,
                                                                 make_endpoint):
    endpoint = make_endpoint()
    for path in ("/integrations/", "/integrations/deliveries/", "/integrations/inbound/", "/integrations/help/",
                 f"/integrations/endpoints/{endpoint.pk}/"):
        response = admin_web.get(path)
        assert response.status_code == 200, path
        assert 'data-nav' in response.content.decode()  # the staff shell (base.html)
    help_page = admin_web.get("/integrations/help/").content.decode()
    assert "Qiao-Signature" in help_page and "hmac.compare_digest" in help_page and "erp/stock-levels" in help_page
    for key in ("sales", "manager", "finance"):
        web = web_as(tenant_a, people[key])
        assert web.get("/integrations/").status_code == 403
        assert web.get("/integrations/deliveries/").status_code == 403
        assert web.post("/integrations/endpoints/new", {"url": "https://erp.example.com/x",
                                                        "events": ["*"]}).status_code == 403
    assert web_as(tenant_a).get("/integrations/").status_code == 302  # to the sign-in page


def test_adding_an_endpoint_shows_its_secret_once(tenant_a, in_tenant, admin_web):
    empty = admin_web.get("/integrations/").content.decode()
    assert 'data-testid="endpoints-empty"' in empty and 'value="customer.updated"' in empty
    refused = admin_web.post("/integrations/endpoints/new", {"url": "http://erp.example.com/x", "events": ["*"]})
    assert refused.status_code == 400 and "https" in refused.content.decode()
    response = admin_web.post("/integrations/endpoints/new", {
        "url": "https://erp.example.com/qiao", "description": "用友 U8",
        "events": ["order.approved", "customer.updated"]})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    with in_tenant(tenant_a):
        endpoint = WebhookEndpoint.objects.get(url="https://erp.example.com/qiao")
    assert _secret_in(page) == endpoint.secret
    assert endpoint.events == ["order.approved", "customer.updated"] and endpoint.description == "用友 U8"
    for path in ("/integrations/", f"/integrations/endpoints/{endpoint.pk}/"):
        later = admin_web.get(path).content.decode()
        assert endpoint.secret not in later and "https://erp.example.com/qiao" in later


def test_edit_rotate_deactivate_and_ping_an_endpoint(tenant_a, in_tenant, admin_web, make_endpoint, receiver,
                                                     django_capture_on_commit_callbacks):
    endpoint = make_endpoint(description="旧说明")
    edited = admin_web.post(f"/integrations/endpoints/{endpoint.pk}/", {
        "url": endpoint.url, "description": "新说明", "events": ["order.shipped"], "version": "1"})
    assert edited.status_code == 302
    stale = admin_web.post(f"/integrations/endpoints/{endpoint.pk}/", {
        "url": endpoint.url, "description": "再改", "events": ["*"], "version": "1"})
    assert stale.status_code == 400 and "已被他人修改" in stale.content.decode()
    rotated = admin_web.post(f"/integrations/endpoints/{endpoint.pk}/rotate-secret")
    assert rotated.status_code == 200 and rotated["Cache-Control"] == "no-store"
    with in_tenant(tenant_a):
        endpoint.refresh_from_db()
    assert _secret_in(rotated.content.decode()) == endpoint.secret and endpoint.description == "新说明"
    assert endpoint.previous_secret
    with django_capture_on_commit_callbacks(execute=True):
        ping = admin_web.post(f"/integrations/endpoints/{endpoint.pk}/ping")
    assert ping.status_code == 302 and "/integrations/deliveries/" in ping["Location"]
    delivery_page = admin_web.get(ping["Location"]).content.decode()
    assert 'data-testid="attempt-row"' in delivery_page and "200" in delivery_page
    assert len(receiver.requests) == 1
    off = admin_web.post(f"/integrations/endpoints/{endpoint.pk}/active", {"active": "0"}, follow=True)
    assert 'data-testid="endpoint-inactive"' in off.content.decode()
    assert 'data-testid="endpoint-ping"' not in off.content.decode()
    detail = admin_web.get(f"/integrations/endpoints/{endpoint.pk}/").content.decode()
    assert detail.count('data-testid="endpoint-audit"') >= 4  # create, update, rotate, ping, deactivate


def test_the_delivery_log_filters_expands_attempts_and_replays(tenant_a, in_tenant, admin_web, make_endpoint,
                                                              receiver, django_capture_on_commit_callbacks,
                                                              django_assert_max_num_queries):
    endpoint = make_endpoint()
    receiver.answer((500, "ERP 维护中"))
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        webhook_emit(event_type=WebhookEventType.ORDER_APPROVED, payload={"id": 1})
        webhook_emit(event_type=WebhookEventType.CUSTOMER_UPDATED, payload={"id": 2})
    with in_tenant(tenant_a):
        failed = WebhookDelivery.objects.get(status="failed")
    page = admin_web.get("/integrations/deliveries/").content.decode()
    assert page.count('data-testid="delivery-row"') == 2
    only_failed = admin_web.get("/integrations/deliveries/?status=failed").content.decode()
    assert only_failed.count('data-testid="delivery-row"') == 1 and "订单已审批" in only_failed
    assert admin_web.get(f"/integrations/deliveries/?endpoint={endpoint.pk}&event_type=customer.updated"
                         ).content.decode().count('data-testid="delivery-row"') == 1
    bad = admin_web.get("/integrations/deliveries/?status=lost")
    assert bad.status_code == 400 and 'data-testid="filter-error"' in bad.content.decode()
    attempts = admin_web.get(f"/integrations/deliveries/{failed.pk}/attempts", HTTP_HX_REQUEST="true")
    assert attempts.status_code == 200 and "ERP 维护中" in attempts.content.decode()
    assert "<html" not in attempts.content.decode()
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        for i in range(60):
            webhook_emit(event_type=WebhookEventType.ORDER_SHIPPED, payload={"id": i})
    with django_assert_max_num_queries(20):
        first = admin_web.get("/integrations/deliveries/").content.decode()
    assert first.count('data-testid="delivery-row"') == 50 and 'data-testid="deliveries-more"' in first
    cursor = re.search(r'\?cursor=(\d+)', first).group(1)
    second = admin_web.get(f"/integrations/deliveries/?cursor={cursor}").content.decode()
    assert second.count('data-testid="delivery-row"') == 12
    with django_capture_on_commit_callbacks(execute=True):
        replay = admin_web.post(f"/integrations/deliveries/{failed.pk}/replay")
    assert replay.status_code == 302
    detail = admin_web.get(f"/integrations/deliveries/{failed.pk}/").content.decode()
    assert detail.count('data-testid="attempt-row"') == 2 and "手动" in detail
    assert 'data-testid="delivery-payload"' in detail


def test_erp_clients_token_shown_once_revoke_and_the_inbound_log(tenant_a, in_tenant, admin_web, erp_api):
    refused = admin_web.post("/integrations/erp-clients/new", {"name": "", "scopes": ["payments"]})
    assert refused.status_code == 400
    response = admin_web.post("/integrations/erp-clients/new", {"name": "用友 U8", "scopes": ["stock_levels"]})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="token">([^<]+)<', response.content.decode()).group(1)
    with in_tenant(tenant_a):
        client = ErpClient.objects.get(name="用友 U8")
    assert client.scopes == ["stock_levels"]
    overview = admin_web.get("/integrations/").content.decode()
    assert token not in overview and client.token_prefix in overview
    erp_api(token).post("/api/v1/erp/stock-levels", {"items": [
        {"external_id": "W-1", "sku": "NOPE", "warehouse": "NOPE", "on_hand": "1"}]}, format="json")
    log = admin_web.get(f"/integrations/inbound/?client={client.pk}").content.decode()
    assert log.count('data-testid="inbound-row"') == 1 and "W-1" in log and "NOPE" in log
    assert admin_web.get("/integrations/inbound/?status=applied").content.decode().count(
        'data-testid="inbound-row"') == 0
    revoke = admin_web.post(f"/integrations/erp-clients/{client.pk}/revoke")
    assert revoke.status_code == 302
    assert erp_api(token).get("/api/v1/erp/me").status_code == 401


def test_pages_of_another_tenant_are_404(tenant_a, tenant_b, user_in, web_as, make_endpoint):
    endpoint = make_endpoint()
    beta = web_as(tenant_b, user_in(tenant_b, "admin"))
    assert beta.get(f"/integrations/endpoints/{endpoint.pk}/").status_code == 404
    assert beta.post(f"/integrations/endpoints/{endpoint.pk}/ping").status_code == 404
    assert endpoint.url not in beta.get("/integrations/").content.decode()


def test_the_pages_speak_english_too(tenant_a, people, web_as, in_tenant, make_endpoint):
    from crm.org.services import user_set_language

    with in_tenant(tenant_a):
        user_set_language(user=people["admin"], language="en")
    make_endpoint()
    web = web_as(tenant_a, people["admin"])
    page = web.get("/integrations/").content.decode()
    assert "Webhook endpoints" in page and "ERP API clients" in page
    assert "Webhook deliveries" in web.get("/integrations/deliveries/").content.decode()
