"""The tenant admin's integrations API: endpoints (secret shown once), rotation, ping, the
delivery log (filters, cursor pages, attempts) with replay, ERP clients (token shown once,
revoke), the inbound log; 403 for everyone else, 404 across tenants, typed OpenAPI schema."""

from __future__ import annotations

import pytest

from crm.integrations.enums import DeliveryStatus, WebhookEventType
from crm.integrations.services import webhook_emit

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"
CLIENTS = "/api/v1/erp-clients/"


@pytest.fixture
def admin_api(tenant_a, people, api_for):
    return api_for(tenant_a, people["admin"])


def test_endpoint_lifecycle_through_the_api(tenant_a, in_tenant, admin_api, receiver,
                                            django_capture_on_commit_callbacks):
    created = admin_api.post(ENDPOINTS, {"url": "https://erp.example.com/qiao", "description": "用友",
                                         "events": ["order.approved", "customer.updated"]}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and created["Cache-Control"] == "no-store"
    assert body["events"] == ["order.approved", "customer.updated"] and body["version"] == 1
    endpoint_id = body["id"]
    listed = admin_api.get(ENDPOINTS).json()
    assert [e["id"] for e in listed] == [endpoint_id] and "secret" not in listed[0]
    detail = admin_api.get(f"{ENDPOINTS}{endpoint_id}/").json()
    assert "secret" not in detail and detail["url"] == "https://erp.example.com/qiao"
    edited = admin_api.patch(f"{ENDPOINTS}{endpoint_id}/", {"events": ["*"], "version": 1}, format="json")
    assert edited.status_code == 200 and edited.json()["events"] == ["*"] and edited.json()["version"] == 2
    stale = admin_api.patch(f"{ENDPOINTS}{endpoint_id}/", {"description": "x"}, format="json",
                            HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    bad = admin_api.patch(f"{ENDPOINTS}{endpoint_id}/", {"url": "http://erp.example.com/x"}, format="json")
    assert bad.status_code == 400 and "https" in bad.json()["url"][0]
    unknown = admin_api.post(ENDPOINTS, {"url": "https://erp.example.com/y", "events": ["order.eaten"]},
                             format="json")
    assert unknown.status_code == 400 and "events" in unknown.json()
    rotated = admin_api.post(f"{ENDPOINTS}{endpoint_id}/rotate-secret", {"keep_previous_hours": 2}, format="json")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    with django_capture_on_commit_callbacks(execute=True):
        ping = admin_api.post(f"{ENDPOINTS}{endpoint_id}/ping")
    assert ping.status_code == 202 and ping.json()["event_type"] == "ping"
    assert ping.json()["status"] == DeliveryStatus.PENDING  # queued; sent once the request commits
    assert len(receiver.requests) == 1
    sent = admin_api.get(f"{DELIVERIES}{ping.json()['id']}/").json()
    assert sent["status"] == DeliveryStatus.SUCCEEDED and sent["attempt_log"][0]["trigger"] == "manual"
    gone = admin_api.delete(f"{ENDPOINTS}{endpoint_id}/")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert admin_api.get(f"{ENDPOINTS}999999/").status_code == 404


def test_the_delivery_log_filters_pages_shows_attempts_and_replays(
        tenant_a, in_tenant, admin_api, make_endpoint, receiver, django_capture_on_commit_callbacks,
        django_assert_max_num_queries):
    first = make_endpoint(events=["*"])
    second = make_endpoint(events=[WebhookEventType.CUSTOMER_UPDATED])
    receiver.answer(*[(500, "err")] * 3)
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            webhook_emit(event_type=WebhookEventType.ORDER_APPROVED, payload={"id": i})
        webhook_emit(event_type=WebhookEventType.CUSTOMER_UPDATED, payload={"id": 1})
    everything = admin_api.get(DELIVERIES).json()
    assert len(everything["results"]) == 5 and everything["next_cursor"] is None
    ids = [d["id"] for d in everything["results"]]
    assert ids == sorted(ids, reverse=True)
    failed = admin_api.get(DELIVERIES, {"status": "failed"}).json()["results"]
    assert len(failed) == 3 and {d["event_type"] for d in failed} == {"order.approved"}
    assert len(admin_api.get(DELIVERIES, {"endpoint": second.pk}).json()["results"]) == 1
    assert len(admin_api.get(DELIVERIES, {"event_type": "customer.updated"}).json()["results"]) == 2
    page = admin_api.get(DELIVERIES, {"limit": 2}).json()
    assert len(page["results"]) == 2 and page["next_cursor"] == page["results"][-1]["id"]
    rest = admin_api.get(DELIVERIES, {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [d["id"] for d in rest["results"]] == ids[2:4]
    with django_assert_max_num_queries(12):
        admin_api.get(DELIVERIES)
    for bad in ({"status": "lost"}, {"event_type": "x"}, {"endpoint": "abc"}, {"cursor": "-1"}):
        response = admin_api.get(DELIVERIES, bad)
        assert response.status_code == 400 and set(bad) & set(response.json()), response.json()
    failed_id = failed[0]["id"]
    detail = admin_api.get(f"{DELIVERIES}{failed_id}/").json()
    assert detail["event"]["type"] == "order.approved" and detail["endpoint_url"] == first.url
    assert [a["status_code"] for a in detail["attempt_log"]] == [500]
    assert detail["attempt_log"][0]["response_excerpt"] == "err"
    with django_capture_on_commit_callbacks(execute=True):
        replayed = admin_api.post(f"{DELIVERIES}{failed_id}/replay")
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    after = admin_api.get(f"{DELIVERIES}{failed_id}/").json()
    assert after["status"] == "succeeded" and len(after["attempt_log"]) == 2
    newest = after["attempt_log"][0]
    assert newest["trigger"] == "manual" and newest["requested_by"]["full_name"]


def test_erp_clients_through_the_api(tenant_a, admin_api, make_client, erp_api):
    created = admin_api.post(CLIENTS, {"name": "金蝶", "scopes": ["stock_levels"]}, format="json")
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    token = created.json()["token"]
    assert token.startswith(created.json()["token_prefix"])
    assert erp_api(token).get("/api/v1/erp/me").status_code == 200
    listed = admin_api.get(CLIENTS).json()
    assert listed[0]["name"] == "金蝶" and "token" not in listed[0]
    assert admin_api.post(CLIENTS, {"name": "x", "scopes": ["everything"]}, format="json").status_code == 400
    assert admin_api.post(CLIENTS, {"name": "", "scopes": ["payments"]}, format="json").status_code == 400
    revoked = admin_api.post(f"{CLIENTS}{created.json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False and revoked.json()["revoked_at"]
    assert erp_api(token).get("/api/v1/erp/me").status_code == 401
    client, other = make_client(name="旧系统")
    erp_api(other).post("/api/v1/erp/payments", {"amount": "1.00"}, format="json")  # no external_id: 400, not stored
    inbound = admin_api.get("/api/v1/inbound-messages/", {"client": client.pk}).json()
    assert inbound == {"results": [], "next_cursor": None}
    assert admin_api.get("/api/v1/inbound-messages/", {"kind": "invoice"}).status_code == 400


def test_the_inbound_log_lists_what_the_erp_sent(tenant_a, admin_api, make_client, erp_api):
    client, token = make_client()
    erp_api(token).post("/api/v1/erp/stock-levels", {"items": [
        {"external_id": "IN-1", "sku": "NOPE", "warehouse": "NOPE", "on_hand": "1"}]}, format="json")
    log = admin_api.get("/api/v1/inbound-messages/", {"client": client.pk}).json()["results"]
    assert [(m["external_id"], m["kind"], m["status"]) for m in log] == [("IN-1", "stock_level", "rejected")]
    assert log[0]["client_name"] == client.name and "sku" in log[0]["result"]["errors"]
    assert admin_api.get("/api/v1/inbound-messages/", {"status": "applied", "client": client.pk}
                         ).json()["results"] == []


@pytest.mark.parametrize("key", ["sales", "manager", "secretary", "finance", "warehouse", "exec"])
def test_everyone_but_the_integration_manager_gets_403(tenant_a, people, api_for, make_endpoint, key):
    endpoint = make_endpoint()
    api = api_for(tenant_a, people[key])
    for method, path in (("get", ENDPOINTS), ("post", ENDPOINTS), ("get", f"{ENDPOINTS}{endpoint.pk}/"),
                         ("post", f"{ENDPOINTS}{endpoint.pk}/ping"), ("get", DELIVERIES), ("get", CLIENTS),
                         ("post", CLIENTS), ("get", "/api/v1/inbound-messages/")):
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
    assert "系统集成" in api.get(ENDPOINTS).json()["detail"]


def test_another_tenant_sees_none_of_it(tenant_a, tenant_b, in_tenant, user_in, api_for, make_endpoint, receiver,
                                        django_capture_on_commit_callbacks, make_client):
    endpoint = make_endpoint()
    with in_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        webhook_emit(event_type=WebhookEventType.ORDER_SHIPPED, payload={"id": 1})
    with in_tenant(tenant_a):
        delivery_id = endpoint.deliveries.get().pk
    client, _token = make_client()
    beta = api_for(tenant_b, user_in(tenant_b, "admin"))
    assert beta.get(ENDPOINTS).json() == [] and beta.get(DELIVERIES).json()["results"] == []
    assert beta.get(CLIENTS).json() == []
    for path in (f"{ENDPOINTS}{endpoint.pk}/", f"{DELIVERIES}{delivery_id}/", f"{CLIENTS}{client.pk}/"):
        assert beta.get(path).status_code == 404
    for path in (f"{DELIVERIES}{delivery_id}/replay", f"{ENDPOINTS}{endpoint.pk}/ping",
                 f"{ENDPOINTS}{endpoint.pk}/rotate-secret", f"{CLIENTS}{client.pk}/revoke"):
        assert beta.post(path).status_code == 404
    assert beta.delete(f"{ENDPOINTS}{endpoint.pk}/").status_code == 404
    assert len(receiver.requests) == 1


def test_the_openapi_schema_describes_the_integrations(tenant_a, api_for, people):
    schema = api_for(tenant_a, people["admin"]).get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/webhook-endpoints/", "/api/v1/webhook-deliveries/{delivery_id}/replay",
                 "/api/v1/erp-clients/", "/api/v1/erp/stock-levels", "/api/v1/erp/shipments"):
        assert path in paths, path
    assert paths["/api/v1/erp/stock-levels"]["post"]["security"] == [{"erpToken": []}]
