"""The ERP's side of the interface: token authentication (its own, not staff tokens), scopes,
stock levels through crm.catalog, shipments and payments through registered handlers (501
until one is), and idempotency by external id (same data: the first result again; other
data: 409)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm.catalog import services as catalog_services
from crm.integrations import services
from crm.integrations.enums import InboundKind, InboundStatus
from crm.integrations.inbound import register_inbound_handler, unregister_inbound_handler
from crm.integrations.models import ErpClient, InboundMessage

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)
STOCK = "/api/v1/erp/stock-levels"
SHIPMENTS = "/api/v1/erp/shipments"
PAYMENTS = "/api/v1/erp/payments"


@pytest.fixture
def goods(tenant_a, in_tenant, people):
    """Two products and a warehouse of alpha, made through the catalog services."""
    n = next(_serial)
    with in_tenant(tenant_a):
        admin = people["admin"]
        products = [catalog_services.product_create(actor=admin, data={
            "sku": f"ERP-T{n}-{i}", "name": f"ERP 测试产品 {n}-{i}", "list_price": "100.00"}) for i in (1, 2)]
        warehouse = catalog_services.warehouse_create(actor=admin, data={"code": f"WH-ERP{n}", "name": f"ERP 仓 {n}"})
        catalog_services.stock_receive(actor=admin, warehouse_id=warehouse.pk, product_id=products[0].pk,
                                       quantity="10")
    return {"products": products, "warehouse": warehouse}


def on_hand(in_tenant, tenant, product, warehouse) -> Decimal:
    from crm.catalog.selectors import stock_for_product

    with in_tenant(tenant):
        from crm.org.models import User

        admin = User.objects.get(email=f"admin@{tenant.slug}.test")
        levels = {lvl.warehouse_id: lvl.on_hand for lvl in stock_for_product(actor=admin, product_id=product.pk)}
    return levels.get(warehouse.pk, Decimal("0"))


def row(goods, external_id, on_hand_value, product=0, **extra):
    return {"external_id": external_id, "sku": goods["products"][product].sku.lower(),
            "warehouse": goods["warehouse"].code, "on_hand": on_hand_value, **extra}


@pytest.fixture
def shipments():
    """A shipment handler as the orders app would register it, for this test only."""
    calls = []

    def apply_shipment(payload, *, context):
        calls.append((payload, context))
        if payload.get("order") == "missing":
            raise ValidationError({"order": "订单 missing 不存在。"})
        if payload.get("later"):
            return None
        return {"shipment_id": 900 + len(calls), "order": payload.get("order")}

    from crm.integrations.inbound import inbound_handler_get

    installed = inbound_handler_get(InboundKind.SHIPMENT)  # the orders app's
    register_inbound_handler(InboundKind.SHIPMENT, apply_shipment)
    yield calls
    if installed is not None:
        register_inbound_handler(InboundKind.SHIPMENT, installed)
    else:
        unregister_inbound_handler(InboundKind.SHIPMENT)


# -- authentication and scopes ---------------------------------------------------------------------------
def test_only_a_valid_erp_token_gets_in(tenant_a, tenant_b, people, make_client, erp_api, api_for, web_as,
                                        in_tenant):
    client, token = make_client(name="金蝶云星空")
    me = erp_api(token).get("/api/v1/erp/me")
    assert me.status_code == 200 and me.json() == {"id": client.pk, "name": "金蝶云星空",
                                                   "scopes": ["stock_levels", "shipments", "payments"]}
    with in_tenant(tenant_a):
        client.refresh_from_db()
        assert client.last_used_at is not None and client.token_hash != token and token not in client.token_hash
    anonymous = erp_api("x")
    anonymous.credentials()
    for api in (anonymous, erp_api("qerp_not-a-real-token"), erp_api(token[:-1] + "x"),
                erp_api(token, tenant=tenant_b)):  # a token of alpha means nothing on beta
        response = api.get("/api/v1/erp/me")
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"].startswith("Bearer")
    # staff credentials are not ERP credentials
    staff = api_for(tenant_a, people["admin"])
    assert staff.get("/api/v1/auth/me").status_code == 200
    refused = staff.get("/api/v1/erp/me")
    assert refused.status_code == 401 and "ERP" in refused.json()["detail"]
    staff_key = staff._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert erp_api(staff_key).get("/api/v1/erp/me").status_code == 401
    assert web_as(tenant_a, people["admin"]).post(STOCK, {"items": []}, content_type="application/json"
                                                  ).status_code == 401
    # and the ERP token is not a staff token
    assert erp_api(token).get("/api/v1/auth/me").status_code == 401
    assert erp_api(token).get("/api/v1/customers/").status_code == 401
    assert erp_api(token).get("/api/v1/webhook-endpoints/").status_code == 401


def test_a_revoked_token_stops_working_at_once(tenant_a, in_tenant, people, make_client, erp_api, goods):
    client, token = make_client()
    api = erp_api(token)
    assert api.get("/api/v1/erp/me").status_code == 200
    with in_tenant(tenant_a):
        services.erp_client_revoke(actor=people["admin"], client_id=client.pk)
    assert api.get("/api/v1/erp/me").status_code == 401
    assert api.post(STOCK, {"items": [row(goods, "R-1", "3")]}, format="json").status_code == 401


def test_each_endpoint_needs_its_scope(make_client, erp_api, goods):
    _client, token = make_client(scopes=["shipments"])
    api = erp_api(token)
    refused = api.post(STOCK, {"items": [row(goods, "S-1", "1")]}, format="json")
    assert refused.status_code == 403 and "回传库存" in refused.json()["detail"]
    assert api.post(PAYMENTS, {"external_id": "P-1"}, format="json").status_code == 403


# -- stock levels ----------------------------------------------------------------------------------------------
def test_stock_levels_set_on_hand_and_a_retry_returns_the_first_result(tenant_a, in_tenant, make_client, erp_api,
                                                                         goods):
    client, token = make_client()
    api = erp_api(token)
    product, other, warehouse = goods["products"][0], goods["products"][1], goods["warehouse"]
    body = {"items": [row(goods, "CNT-1", "25.5", note="月末盘点"), row(goods, "CNT-2", "4", product=1)]}
    first = api.post(STOCK, body, format="json")
    assert first.status_code == 200, first.json()
    data = first.json()
    assert (data["applied"], data["rejected"]) == (2, 0)
    one = data["results"][0]
    assert one["status"] == "applied" and not one["replayed"] and one["external_id"] == "CNT-1"
    assert one["result"]["sku"] == product.sku and one["result"]["previous_on_hand"] == "10"
    assert one["result"]["on_hand"] == "25.5" and one["result"]["changed"] is True
    assert on_hand(in_tenant, tenant_a, product, warehouse) == Decimal("25.5")
    assert on_hand(in_tenant, tenant_a, other, warehouse) == Decimal("4")
    with in_tenant(tenant_a):
        from crm.catalog.models import StockMovement

        movement = StockMovement.objects.get(pk=one["result"]["movement_id"])
        assert movement.kind == "adjustment" and movement.on_hand_delta == Decimal("15.5")
        assert "CNT-1" in movement.note and client.name in movement.note and "月末盘点" in movement.note
    again = api.post(STOCK, body, format="json")
    assert again.status_code == 200
    assert [r["replayed"] for r in again.json()["results"]] == [True, True]
    assert again.json()["results"][0]["result"] == one["result"]
    with in_tenant(tenant_a):
        assert StockMovement.objects.filter(product=product, kind="adjustment").count() == 1
        assert InboundMessage.objects.get(client=client, external_id="CNT-1").receipts == 2


def test_the_same_external_id_with_other_data_is_409_and_nothing_is_applied(tenant_a, in_tenant, make_client,
                                                                             erp_api, goods):
    _client, token = make_client()
    api = erp_api(token)
    product, warehouse = goods["products"][0], goods["warehouse"]
    assert api.post(STOCK, {"items": [row(goods, "CNT-9", "7")]}, format="json").status_code == 200
    conflict = api.post(STOCK, {"items": [row(goods, "CNT-10", "1", product=1), row(goods, "CNT-9", "8")]},
                        format="json")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "conflict" and conflict.json()["external_ids"] == ["CNT-9"]
    assert on_hand(in_tenant, tenant_a, product, warehouse) == Decimal("7")
    assert on_hand(in_tenant, tenant_a, goods["products"][1], warehouse) == Decimal("0")  # CNT-10 not applied
    with in_tenant(tenant_a):
        assert not InboundMessage.objects.filter(external_id="CNT-10").exists()


def test_a_refused_row_does_not_hold_up_the_others_and_may_be_sent_again(tenant_a, in_tenant, make_client,
                                                                         erp_api, goods):
    _client, token = make_client()
    api = erp_api(token)
    body = {"items": [row(goods, "L-1", "3"), {**row(goods, "L-2", "5"), "sku": "NO-SUCH-SKU"},
                      {**row(goods, "L-3", "5"), "warehouse": "NOWHERE"}]}
    response = api.post(STOCK, body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["applied"], data["rejected"]) == (1, 2)
    by_id = {r["external_id"]: r for r in data["results"]}
    assert "NO-SUCH-SKU" in by_id["L-2"]["result"]["errors"]["sku"][0]
    assert "NOWHERE" in by_id["L-3"]["result"]["errors"]["warehouse"][0]
    fixed = api.post(STOCK, {"items": [row(goods, "L-2", "5", product=1)]}, format="json")
    assert fixed.status_code == 200 and fixed.json()["results"][0]["status"] == "applied"
    assert on_hand(in_tenant, tenant_a, goods["products"][1], goods["warehouse"]) == Decimal("5")
    same = api.post(STOCK, {"items": [row(goods, "L-1", "3")]}, format="json").json()["results"][0]
    assert same["replayed"] and same["result"]["changed"] is True  # the first result, not "unchanged"


def test_a_count_equal_to_the_stock_changes_nothing(tenant_a, in_tenant, make_client, erp_api, goods):
    _client, token = make_client()
    result = erp_api(token).post(STOCK, {"items": [row(goods, "EQ-1", "10.000")]}, format="json").json()
    assert result["results"][0]["status"] == "applied"
    assert result["results"][0]["result"]["changed"] is False
    assert result["results"][0]["result"]["movement_id"] is None


@pytest.mark.parametrize("body, field", [
    ({"items": []}, "items"),
    ({"rows": []}, "items"),
    ({"items": [{"external_id": "X-1", "sku": "A", "warehouse": "W", "on_hand": "-1"}]}, "items"),
    ({"items": [{"external_id": "X-1", "sku": "A", "warehouse": "W", "on_hand": "1.2345"}]}, "items"),
    ({"items": [{"external_id": "has space", "sku": "A", "warehouse": "W", "on_hand": "1"}]}, "external_id"),
    ({"items": [{"sku": "A", "warehouse": "W", "on_hand": "1"}]}, "items"),
])
def test_malformed_stock_levels_are_400_naming_the_field(make_client, erp_api, body, field):
    _client, token = make_client()
    response = erp_api(token).post(STOCK, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_more_than_500_rows_are_refused(make_client, erp_api):
    _client, token = make_client()
    rows = [{"external_id": f"B-{i}", "sku": "A", "warehouse": "W", "on_hand": "1"} for i in range(501)]
    assert erp_api(token).post(STOCK, {"items": rows}, format="json").status_code == 400


# -- shipments and payments --------------------------------------------------------------------------------------
@pytest.fixture
def no_shipment_handler():
    """As before the orders and finance apps register their handlers (shipments, payments)."""
    from crm.integrations.inbound import inbound_handler_get

    installed = {kind: inbound_handler_get(kind) for kind in (InboundKind.SHIPMENT, InboundKind.PAYMENT)}
    for kind in installed:
        unregister_inbound_handler(kind)
    yield
    for kind, handler in installed.items():
        if handler is not None:
            register_inbound_handler(kind, handler)


def test_kinds_without_a_handler_answer_501_and_store_nothing(tenant_a, in_tenant, make_client, erp_api,
                                                              no_shipment_handler):
    _client, token = make_client()
    api = erp_api(token)
    for path, word in ((SHIPMENTS, "发货"), (PAYMENTS, "收款")):
        response = api.post(path, {"external_id": "E-1", "amount": "10.00"}, format="json")
        assert response.status_code == 501
        assert response.json()["code"] == "not_implemented" and word in response.json()["detail"]
    with in_tenant(tenant_a):
        assert not InboundMessage.objects.exists()


def test_a_registered_handler_applies_messages_idempotently(tenant_a, in_tenant, make_client, erp_api, shipments):
    client, token = make_client()
    api = erp_api(token)
    message = {"external_id": "SHP-2026-001", "order": "SO-1", "carrier": "顺丰", "tracking": "SF123",
               "lines": [{"sku": "HZ-G970II", "quantity": "2"}]}
    first = api.post(SHIPMENTS, message, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["status"] == "applied" and first.json()["replayed"] is False
    assert first.json()["result"] == {"shipment_id": 901, "order": "SO-1"}
    [(payload, context)] = shipments
    assert payload == message and context.external_id == "SHP-2026-001" and context.client_id == client.pk
    assert "Idempotent-Replayed" not in first
    again = api.post(SHIPMENTS, message, format="json")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["result"] == first.json()["result"] and again.json()["replayed"] is True
    assert len(shipments) == 1  # not applied twice
    changed = api.post(SHIPMENTS, {**message, "tracking": "SF999"}, format="json")
    assert changed.status_code == 409 and changed.json()["external_ids"] == ["SHP-2026-001"]
    assert len(shipments) == 1
    with in_tenant(tenant_a):
        stored = InboundMessage.objects.get(client=client, kind="shipment", external_id="SHP-2026-001")
        assert stored.status == InboundStatus.APPLIED and stored.receipts == 2 and stored.payload == message


def test_a_refused_message_is_422_stored_and_may_be_fixed_under_the_same_id(tenant_a, in_tenant, make_client,
                                                                             erp_api, shipments):
    _client, token = make_client()
    api = erp_api(token)
    refused = api.post(SHIPMENTS, {"external_id": "SHP-9", "order": "missing"}, format="json")
    assert refused.status_code == 422
    assert refused.json()["status"] == "rejected" and "missing" in refused.json()["result"]["errors"]["order"][0]
    with in_tenant(tenant_a):
        assert InboundMessage.objects.get(external_id="SHP-9").status == InboundStatus.REJECTED
    fixed = api.post(SHIPMENTS, {"external_id": "SHP-9", "order": "SO-9"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["status"] == "applied"
    with in_tenant(tenant_a):
        stored = InboundMessage.objects.get(external_id="SHP-9")
        assert stored.status == InboundStatus.APPLIED and stored.receipts == 2 and stored.payload["order"] == "SO-9"


def test_a_handler_may_accept_now_and_settle_later(tenant_a, in_tenant, make_client, erp_api, shipments):
    _client, token = make_client()
    api = erp_api(token)
    accepted = api.post(SHIPMENTS, {"external_id": "SHP-L", "later": True}, format="json")
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    again = api.post(SHIPMENTS, {"external_id": "SHP-L", "later": True}, format="json")
    assert again.status_code == 202 and again.json()["replayed"] is True and len(shipments) == 1
    with in_tenant(tenant_a):
        services.inbound_message_settle(message_id=accepted.json()["message_id"], result={"shipment_id": 5})
    done = api.post(SHIPMENTS, {"external_id": "SHP-L", "later": True}, format="json")
    assert done.status_code == 200 and done.json()["result"] == {"shipment_id": 5}


@pytest.mark.parametrize("body", [{"order": "SO-1"}, {"external_id": ""}, {"external_id": "a b"},
                                  {"external_id": "x" * 101}])
def test_messages_need_a_valid_external_id(make_client, erp_api, shipments, body):
    _client, token = make_client()
    response = erp_api(token).post(SHIPMENTS, body, format="json")
    assert response.status_code == 400 and "external_id" in response.json()
    assert shipments == []


def test_a_body_that_is_not_a_json_object_is_400(make_client, erp_api, shipments):
    _client, token = make_client()
    api = erp_api(token)
    assert api.post(SHIPMENTS, [{"external_id": "A"}], format="json").status_code == 400
    assert api.post(SHIPMENTS, "external_id=A", content_type="application/x-www-form-urlencoded"
                    ).status_code == 415


def test_handlers_are_registered_per_known_kind_only():
    with pytest.raises(ValueError):
        register_inbound_handler("invoice", lambda payload, *, context: {})
    with pytest.raises(TypeError):
        register_inbound_handler(InboundKind.PAYMENT, "not callable")


def test_erp_clients_keep_only_a_hash_of_their_token(tenant_a, in_tenant, make_client):
    client, token = make_client(scopes=["payments", "stock_levels", "payments"])
    assert token.startswith("qerp_") and len(token) > 40
    with in_tenant(tenant_a):
        stored = ErpClient.objects.get(pk=client.pk)
    assert stored.scopes == ["stock_levels", "payments"] and token not in str(stored.__dict__)
    assert stored.token_prefix == token[:12]
