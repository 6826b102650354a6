"""customer.updated end to end: creating, editing (through the API), transferring, releasing,
merging, importing
and claiming customers emits one signed event per customer after commit; nothing when no
endpoint subscribes, when nothing changed or when the change fails."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from django.db import transaction

from crm.customers import services as customer_services
from crm.integrations.enums import DeliveryStatus, WebhookEventType
from crm.integrations.models import WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

UPDATED = WebhookEventType.CUSTOMER_UPDATED


def _customer(actor, name=None, **data):
    return customer_services.customer_create(actor=actor, data={"name": name or f"测试客户{uuid.uuid4().hex[:8]}",
                                                                **data}, duplicate_override=True)


def test_editing_a_customer_through_the_api_sends_a_signed_customer_updated(
        tenant_a, in_tenant, people, make_endpoint, receiver, api_for, django_capture_on_commit_callbacks):
    with in_tenant(tenant_a):
        customer = _customer(people["sales"], name="杭州云栖科技有限公司", phone="0571-88886666")
    endpoint = make_endpoint(events=[UPDATED])
    api = api_for(tenant_a, people["sales"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/v1/customers/{customer.pk}/", {"stage": "lead", "version": customer.version},
                             format="json")
    assert response.status_code == 200, response.json()
    [request] = receiver.requests
    assert request.headers["Qiao-Event"] == "customer.updated"
    timestamp = request.headers["Qiao-Timestamp"]
    signature = hmac.new(endpoint.secret.encode(), f"{timestamp}.".encode() + request.content,
                         hashlib.sha256).hexdigest()
    assert request.headers["Qiao-Signature"] == f"t={timestamp},v1={signature}"
    data = json.loads(request.content)["data"]
    sales = people["sales"]
    assert data == {
        "id": customer.pk, "name": "杭州云栖科技有限公司", "credit_code": None, "phone": "0571-88886666",
        "owner": {"id": sales.pk, "name": sales.full_name},
        "region": {"id": customer.region_id, "name": data["region"]["name"]} if customer.region_id else None,
        "stage": "lead", "updated_at": data["updated_at"], "version": customer.version + 1, "change": "updated"}
    with in_tenant(tenant_a):
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.event.type == UPDATED
        assert delivery.event.idempotency_key == f"customer.updated:{customer.pk}:v{customer.version + 1}"


def test_create_transfer_release_and_claim_each_emit_one_event_per_customer(
        alpha, people, make_endpoint, receiver, django_capture_on_commit_callbacks):
    make_endpoint(events=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        first, second = _customer(people["sales"]), _customer(people["sales"])
    assert [json.loads(r.content)["data"]["change"] for r in receiver.requests] == ["created", "created"]
    with django_capture_on_commit_callbacks(execute=True):
        moved = customer_services.customers_transfer(actor=people["admin"], customer_ids=[first.pk, second.pk],
                                                     to_owner_id=people["sales2"].pk)
    assert moved == 2
    transfers = [json.loads(r.content)["data"] for r in receiver.requests[2:]]
    assert sorted(d["id"] for d in transfers) == sorted([first.pk, second.pk])
    assert all(d["change"] == "transfer" and d["owner"]["id"] == people["sales2"].pk for d in transfers)
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_release(actor=people["admin"], customer_id=first.pk)
    released = json.loads(receiver.requests[-1].content)["data"]
    assert released["id"] == first.pk and released["owner"] is None and released["change"] == "released"
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_claim(actor=people["sales"], customer_id=first.pk)
    claimed = json.loads(receiver.requests[-1].content)["data"]
    assert claimed["owner"]["id"] == people["sales"].pk and claimed["change"] == "claimed"
    versions = [json.loads(r.content)["data"]["version"] for r in receiver.requests
                if json.loads(r.content)["data"]["id"] == first.pk]
    assert versions == sorted(versions) and len(set(versions)) == len(versions) == 4
    assert WebhookEvent.objects.filter(type=UPDATED).count() == 6


def test_no_event_without_subscriber_without_change_or_when_the_change_fails(
        alpha, people, make_endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        customer = _customer(people["sales"])
    assert not WebhookEvent.objects.exists()  # nobody subscribes yet: nothing stored at all
    make_endpoint(events=[WebhookEventType.ORDER_APPROVED])  # another event type only
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(actor=people["sales"], customer_id=customer.pk, data={"stage": "lead"})
    assert not WebhookEvent.objects.exists()
    make_endpoint(events=[UPDATED])
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(actor=people["sales"], customer_id=customer.pk, data={"stage": "lead"})
    assert not WebhookEvent.objects.exists() and receiver.requests == []  # nothing changed
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        customer_services.customer_update(actor=people["sales"], customer_id=customer.pk,
                                          data={"stage": "customer"})
        raise RuntimeError("a later step of the same change failed")
    assert not WebhookEvent.objects.exists() and receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(actor=people["sales"], customer_id=customer.pk,
                                          data={"stage": "customer"})
    assert WebhookEvent.objects.count() == 1 and len(receiver.requests) == 1


def test_merges_and_imports_emit_customer_updated_too(alpha, people, make_endpoint, receiver,
                                                      django_capture_on_commit_callbacks):
    from crm.customers import dedup, imports

    make_endpoint(events=[UPDATED])
    survivor, duplicate = _customer(people["sales"], "合并事件测试有限公司"), _customer(people["sales"], "合并事件测试公司")
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        record = dedup.customer_merge(actor=people["admin"], survivor_id=survivor.pk, merged_id=duplicate.pk)
    merged = {json.loads(r.content)["data"]["id"]: json.loads(r.content)["data"]["change"] for r in receiver.requests}
    assert merged == {survivor.pk: "merged", duplicate.pk: "merged"}
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dedup.customer_merge_undo(actor=people["admin"], merge_id=record.pk)
    assert {json.loads(r.content)["data"]["change"] for r in receiver.requests} == {"merge_undone"}
    receiver.requests.clear()
    content = "名称,外部编号\n导入事件测试甲公司,EV-1\n导入事件测试乙公司,EV-2\n".encode()
    job = imports.import_job_create(actor=people["admin"], file_name="ev.csv", content=content)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_job_run(actor=people["admin"], job_id=job.pk)  # the task runs after commit
    imported = [json.loads(r.content)["data"] for r in receiver.requests]
    assert sorted(d["name"] for d in imported) == ["导入事件测试乙公司", "导入事件测试甲公司"]
    assert {d["change"] for d in imported} == {"imported"}
