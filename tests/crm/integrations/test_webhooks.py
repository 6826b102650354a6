"""Outbound webhooks through the services: emitting inside the caller's transaction, signed
deliveries, retries with back-off, dead deliveries, replay, redirects, timeouts, the sweep,
secret rotation, pings, URL rules and the audit trail. The receiver is an httpx.MockTransport
(one test uses a real local HTTP server on 127.0.0.1); nothing reaches the network."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from crm.audit.models import AuditEntry
from crm.integrations import conf, services
from crm.integrations.enums import AttemptTrigger, DeliveryStatus, WebhookEventType
from crm.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from crm.integrations.services import webhook_emit
from crm.integrations.signing import webhook_verify

pytestmark = pytest.mark.django_db

ORDER = WebhookEventType.ORDER_APPROVED


def emit(capture, event_type=ORDER, payload=None, **kwargs):
    """Emit in a transaction that commits (the test's on_commit callbacks run)."""
    with capture(execute=True):
        with transaction.atomic():
            return webhook_emit(event_type=event_type, payload=payload or {"id": 7, "amount": "1200.00"}, **kwargs)


def delivery_of(event, endpoint=None) -> WebhookDelivery:
    qs = WebhookDelivery.objects.filter(event=event)
    return (qs.get(endpoint=endpoint) if endpoint else qs.get())


# -- emitting -------------------------------------------------------------------------------------------
def test_an_emit_inside_a_rolled_back_transaction_sends_nothing(alpha, make_endpoint, receiver,
                                                                 django_capture_on_commit_callbacks):
    make_endpoint()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert webhook_emit(event_type=ORDER, payload={"id": 1}) is not None
            raise RuntimeError("the business change failed")
    assert callbacks == [] and receiver.requests == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_nothing_is_stored_when_no_active_endpoint_subscribes(alpha, make_endpoint, people, receiver,
                                                             django_capture_on_commit_callbacks):
    make_endpoint(events=[WebhookEventType.CUSTOMER_UPDATED])
    idle = make_endpoint()
    services.webhook_endpoint_deactivate(actor=people["admin"], endpoint_id=idle.pk)
    assert emit(django_capture_on_commit_callbacks) is None
    assert not WebhookEvent.objects.exists() and receiver.requests == []


def test_one_delivery_per_subscribed_active_endpoint(alpha, make_endpoint, people, receiver,
                                                     django_capture_on_commit_callbacks):
    everything = make_endpoint(events=["*"])
    orders = make_endpoint(events=[ORDER, WebhookEventType.ORDER_SHIPPED])
    make_endpoint(events=[WebhookEventType.CUSTOMER_UPDATED])
    off = make_endpoint(events=[ORDER])
    services.webhook_endpoint_deactivate(actor=people["admin"], endpoint_id=off.pk)
    event = emit(django_capture_on_commit_callbacks)
    assert set(WebhookDelivery.objects.filter(event=event).values_list("endpoint_id", flat=True)) == {
        everything.pk, orders.pk}
    assert sorted(receiver.hosts()) == ["erp.example.com", "erp.example.com"]
    assert {str(r.url) for r in receiver.requests} == {everything.url, orders.url}


def test_the_same_idempotency_key_emits_once(alpha, make_endpoint, receiver, django_capture_on_commit_callbacks):
    make_endpoint()
    first = emit(django_capture_on_commit_callbacks, idempotency_key="order:7:approved")
    again = emit(django_capture_on_commit_callbacks, idempotency_key="order:7:approved")
    assert first is not None and again is None
    assert WebhookEvent.objects.count() == 1 and len(receiver.requests) == 1


def test_unknown_event_types_are_a_programming_error(alpha):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        webhook_emit(event_type="order.eaten", payload={})



# -- the cached answer to "does anyone subscribe?" -------------------------------------------------------
def as_another_process():
    """Forget that this test's transaction changed the subscriptions (its commit bump is
    pending), so the next question is answered as a process without such a change would."""
    from django.db import connection

    setattr(connection, services._PENDING_BUMP, None)


@contextmanager
def endpoint_reads():
    """Counts the statements that read the endpoints table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reads = []
    with CaptureQueriesContext(connection) as ctx:
        yield reads
    reads.extend(q["sql"] for q in ctx.captured_queries if "integrations_webhookendpoint" in q["sql"])


def test_whether_anyone_subscribes_is_cached_until_a_committed_change(alpha, make_endpoint, people,
                                                                      django_capture_on_commit_callbacks):
    assert not services.webhook_is_subscribed(event_type=ORDER)  # the database answers; cached
    with endpoint_reads() as reads:
        assert not services.webhook_is_subscribed(event_type=ORDER)
        assert webhook_emit(event_type=ORDER, payload={"id": 1}) is None
    assert len(reads) == 0
    with django_capture_on_commit_callbacks(execute=True):  # the new endpoint commits
        endpoint = make_endpoint(events=[ORDER])
    with endpoint_reads() as reads:  # its own transaction asks the database until it ends
        assert services.webhook_is_subscribed(event_type=ORDER)
    assert len(reads) == 1
    as_another_process()
    with endpoint_reads() as reads:  # the answer cached before the commit is not used
        assert services.webhook_is_subscribed(event_type=ORDER)
        assert not services.webhook_is_subscribed(event_type=WebhookEventType.ORDER_SHIPPED)
        assert services.webhook_is_subscribed(event_type=ORDER)
    assert len(reads) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_update(actor=people["admin"], endpoint_id=endpoint.pk,
                                         data={"events": [WebhookEventType.ORDER_SHIPPED]})
    as_another_process()
    assert not services.webhook_is_subscribed(event_type=ORDER)
    assert services.webhook_is_subscribed(event_type=WebhookEventType.ORDER_SHIPPED)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_deactivate(actor=people["admin"], endpoint_id=endpoint.pk)
    as_another_process()
    assert not services.webhook_is_subscribed(event_type=WebhookEventType.ORDER_SHIPPED)


def test_a_change_not_committed_yet_is_never_cached(alpha, make_endpoint, django_capture_on_commit_callbacks):
    assert not services.webhook_is_subscribed(event_type=ORDER)
    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: no bump, nothing cached from it
        make_endpoint(events=["*"])
        assert services.webhook_is_subscribed(event_type=ORDER)  # the database, seeing its own change
        raise RuntimeError("the change failed")
    assert not services.webhook_is_subscribed(event_type=ORDER)
    make_endpoint(events=["*"])  # this transaction's own change is seen at once
    assert services.webhook_is_subscribed(event_type=ORDER)
    assert emit(django_capture_on_commit_callbacks) is not None


def test_without_redis_the_database_answers(alpha, make_endpoint, monkeypatch):
    def down(key):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(services, "_redis", down)
    assert not services.webhook_is_subscribed(event_type=ORDER)
    make_endpoint(events=[ORDER])
    as_another_process()
    assert services.webhook_is_subscribed(event_type=ORDER)

# -- delivering -----------------------------------------------------------------------------------------
def test_a_delivery_posts_the_signed_event_and_records_success(alpha, make_endpoint, receiver, clock,
                                                               django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    receiver.answer((200, '{"received": true}'))
    event = emit(django_capture_on_commit_callbacks, payload={"id": 7, "amount": "1200.00", "客户": "杭州云栖"})
    [request] = receiver.requests
    delivery = delivery_of(event)
    assert request.method == "POST" and str(request.url) == endpoint.url
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["Qiao-Event"] == ORDER and request.headers["Qiao-Delivery"] == str(delivery.pk)
    assert request.headers["Qiao-Attempt"] == "1"
    timestamp = request.headers["Qiao-Timestamp"]
    assert int(timestamp) == int(clock.now.timestamp())
    expected = hmac.new(endpoint.secret.encode(), timestamp.encode() + b"." + request.content,
                        hashlib.sha256).hexdigest()
    assert request.headers["Qiao-Signature"] == f"t={timestamp},v1={expected}"
    assert webhook_verify(secret=endpoint.secret, header=request.headers["Qiao-Signature"], body=request.content,
                          now=clock.now.timestamp())
    body = json.loads(request.content)
    assert body == {"id": str(event.id), "type": ORDER, "occurred_at": body["occurred_at"],
                    "data": {"id": 7, "amount": "1200.00", "客户": "杭州云栖"}}
    assert body["occurred_at"].endswith("Z")
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 5.0}
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.next_attempt_at is None
    assert delivery.last_response_excerpt == '{"received": true}' and delivery.duration_ms is not None
    [attempt] = delivery.attempt_log.all()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.finished_at is not None
    assert attempt.trigger == AttemptTrigger.AUTOMATIC and attempt.requested_by is None
    # a duplicate task (the sweep, a redelivered message) sends nothing more
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_a_failure_is_retried_with_back_off_then_succeeds(alpha, make_endpoint, receiver, clock,
                                                          django_capture_on_commit_callbacks):
    make_endpoint()
    receiver.answer((500, "boom"), (200, "ok"))
    event = emit(django_capture_on_commit_callbacks)
    delivery = delivery_of(event)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_status_code == 500 and "500" in delivery.last_error
    assert delivery.last_response_excerpt == "boom"
    wait = (delivery.next_attempt_at - clock.now).total_seconds()
    assert 60 <= wait <= 60 * (1 + conf.jitter()) + 1  # the first step (1 min) with up to 20% jitter
    assert services.webhook_deliveries_sweep() == 0  # not due yet
    clock.advance(seconds=30)
    assert services.webhook_deliveries_sweep() == 0 and len(receiver.requests) == 1
    clock.advance(seconds=60)
    assert services.webhook_deliveries_sweep() == 1  # queued and (eagerly) delivered
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [500, 200]
    assert [r.headers["Qiao-Attempt"] for r in receiver.requests] == ["1", "2"]
    assert services.webhook_deliveries_sweep() == 0


def test_back_off_grows_and_the_delivery_is_dead_after_the_last_attempt(alpha, make_endpoint, receiver, clock,
                                                                         settings, django_capture_on_commit_callbacks):
    settings.QIAO_WEBHOOK_RETRY_SCHEDULE = [60, 300, 1800]
    settings.QIAO_WEBHOOK_MAX_ATTEMPTS = 3
    make_endpoint()
    receiver.answer(*[(503, "busy")] * 5)
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    waits = []
    for _ in range(2):
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        clock.now = delivery.next_attempt_at
        assert services.webhook_deliveries_sweep() == 1
        delivery.refresh_from_db()
    assert 60 <= waits[0] <= 73 and 300 <= waits[1] <= 361
    assert delivery.status == DeliveryStatus.DEAD and delivery.attempts == 3 and delivery.next_attempt_at is None
    clock.advance(days=1)
    assert services.webhook_deliveries_sweep() == 0
    assert len(receiver.requests) == 3 and delivery.attempt_log.count() == 3


def test_replay_sends_a_dead_delivery_again_as_a_recorded_manual_attempt(alpha, make_endpoint, receiver, people,
                                                                         settings, clock,
                                                                         django_capture_on_commit_callbacks):
    settings.QIAO_WEBHOOK_MAX_ATTEMPTS = 1
    make_endpoint()
    receiver.answer((500, "down"), (204, ""))
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert delivery.status == DeliveryStatus.DEAD
    with pytest.raises(PermissionDenied):
        services.webhook_delivery_replay(actor=people["sales"], delivery_id=delivery.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_replay(actor=people["admin"], delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    manual = delivery.attempt_log.get(number=2)
    assert manual.trigger == AttemptTrigger.MANUAL and manual.requested_by == people["admin"]
    assert manual.status_code == 204
    assert len(receiver.requests) == 2 and receiver.requests[0].content == receiver.requests[1].content
    assert receiver.requests[1].headers["Qiao-Delivery"] == str(delivery.pk)  # the same delivery, again
    assert AuditEntry.objects.filter(content_type__model="webhookdelivery", object_id=str(delivery.pk),
                                     action="replay", actor=people["admin"]).count() == 1
    # a succeeded delivery may be replayed too (the receiver lost it)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_replay(actor=people["admin"], delivery_id=delivery.pk)
    assert len(receiver.requests) == 3


def test_redirects_to_another_host_are_not_followed(alpha, make_endpoint, receiver,
                                                    django_capture_on_commit_callbacks):
    make_endpoint(url="https://erp.example.com/hook")
    receiver.answer(lambda request: httpx.Response(307, headers={"Location": "https://evil.example.net/steal"}))
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert receiver.hosts() == ["erp.example.com"]  # nothing went to the other host
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 307
    assert "not followed" in delivery.last_error and "evil.example.net" in delivery.last_error


def test_a_same_host_307_is_followed_but_a_302_is_not(alpha, make_endpoint, receiver,
                                                      django_capture_on_commit_callbacks):
    make_endpoint(url="https://erp.example.com/hook", events=[ORDER])
    receiver.answer(lambda request: httpx.Response(307, headers={"Location": "/hook/v2"}), (200, "ok"))
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert [str(r.url) for r in receiver.requests] == ["https://erp.example.com/hook",
                                                       "https://erp.example.com/hook/v2"]
    assert receiver.requests[1].content == receiver.requests[0].content  # same body, same signature
    assert receiver.requests[1].headers["Qiao-Signature"] == receiver.requests[0].headers["Qiao-Signature"]
    assert delivery.status == DeliveryStatus.SUCCEEDED
    receiver.answer(lambda request: httpx.Response(302, headers={"Location": "/elsewhere"}))
    second = delivery_of(emit(django_capture_on_commit_callbacks, payload={"id": 8}))
    assert second.status == DeliveryStatus.FAILED and "302" in second.last_error
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("error, text", [
    (httpx.ReadTimeout("slow"), "read timeout (10 s)"),
    (httpx.ConnectTimeout("no answer"), "connect timeout (5 s)"),
    (httpx.ConnectError("refused"), "ConnectError"),
])
def test_network_trouble_is_a_failed_attempt_with_the_reason(alpha, make_endpoint, receiver, error, text,
                                                             django_capture_on_commit_callbacks):
    make_endpoint()
    receiver.answer(error)
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code is None
    assert text in delivery.last_error and delivery.next_attempt_at is not None
    [attempt] = delivery.attempt_log.all()
    assert not attempt.succeeded and text in attempt.error and attempt.finished_at is not None


def test_the_response_excerpt_is_at_most_one_kilobyte(alpha, make_endpoint, receiver,
                                                       django_capture_on_commit_callbacks):
    make_endpoint()
    receiver.answer((400, "错" * 2000))
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert len(delivery.last_response_excerpt.encode()) <= 1024
    assert delivery.last_response_excerpt.startswith("错错错")


class _Handler(BaseHTTPRequestHandler):
    secret = ""
    delay = 0.0
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        import time

        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = webhook_verify(secret=self.secret, header=self.headers["Qiao-Signature"], body=body)
        self.received.append((self.headers["Qiao-Event"], ok))
        time.sleep(self.delay)
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"verified" if ok else b"bad signature")

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client gave up (the timeout case): nothing to report


@pytest.fixture
def local_server():
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_real_local_receiver_verifies_the_signature_and_a_slow_one_times_out(
        alpha, make_endpoint, local_server, settings, django_capture_on_commit_callbacks):
    settings.QIAO_WEBHOOK_ALLOW_LOCAL_HTTP = True
    settings.QIAO_WEBHOOK_READ_TIMEOUT = 0.5
    endpoint = make_endpoint(url=f"http://127.0.0.1:{local_server.server_port}/hook")
    _Handler.secret, _Handler.delay, _Handler.received = endpoint.secret, 0.0, []
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert _Handler.received == [(ORDER, True)]
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.last_response_excerpt == "verified"
    _Handler.delay = 1.5
    slow = delivery_of(emit(django_capture_on_commit_callbacks, payload={"id": 8}))
    assert slow.status == DeliveryStatus.FAILED and "read timeout (0.5 s)" in slow.last_error
    assert slow.duration_ms < 1400


# -- the sweep --------------------------------------------------------------------------------------------
def test_the_sweep_delivers_what_was_never_queued_and_what_a_dead_worker_left(alpha, make_endpoint, receiver,
                                                                              clock,
                                                                              django_capture_on_commit_callbacks):
    make_endpoint()
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: nothing queued
        event = webhook_emit(event_type=ORDER, payload={"id": 1})
    delivery = delivery_of(event)
    assert delivery.status == DeliveryStatus.PENDING and receiver.requests == []
    claim = services._claim(delivery.pk, clock.now)  # a worker takes it... and dies before the answer
    assert claim is not None
    assert services.webhook_deliveries_sweep() == 0  # its lease still runs
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None  # in flight: left alone
    clock.advance(seconds=conf.LEASE_SECONDS + 1)
    assert services.webhook_deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and len(receiver.requests) == 1
    lost, done = delivery.attempt_log.order_by("number")
    assert lost.finished_at is not None and not lost.succeeded and lost.error
    assert done.succeeded and done.status_code == 200


def test_the_sweep_task_and_its_beat_entry(settings):
    from crm.integrations.tasks import webhook_deliver_task, webhook_sweep_task

    entry = settings.CELERY_BEAT_SCHEDULE["integrations-webhook-sweep"]
    assert entry["task"] == "tenants.fan_out" and entry["args"] == ("integrations.sweep",)
    assert entry["schedule"] <= 60
    assert webhook_sweep_task.name == "integrations.sweep" and webhook_deliver_task.name == "integrations.deliver"
    assert webhook_deliver_task.soft_time_limit and webhook_deliver_task.time_limit


def test_the_sweep_task_runs_in_the_tenant_schema(alpha, make_endpoint, receiver,
                                                  django_capture_on_commit_callbacks):
    from crm.integrations.tasks import webhook_sweep_task

    make_endpoint()
    with django_capture_on_commit_callbacks(execute=False):
        webhook_emit(event_type=ORDER, payload={"id": 1})
    assert webhook_sweep_task.apply().get() == 1
    assert len(receiver.requests) == 1


# -- endpoints: rotation, deactivation, ping, rules, audit ------------------------------------------------------
def test_a_rotated_secret_signs_next_to_the_old_one_until_the_grace_period_ends(
        alpha, make_endpoint, people, receiver, clock, django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    old = endpoint.secret
    rotated = services.webhook_endpoint_rotate_secret(actor=people["admin"], endpoint_id=endpoint.pk)
    assert rotated.secret != old and rotated.secret.startswith("whsec_") and rotated.previous_secret == old
    emit(django_capture_on_commit_callbacks)
    header, body = receiver.requests[-1].headers["Qiao-Signature"], receiver.requests[-1].content
    assert header.count("v1=") == 2
    assert webhook_verify(secret=old, header=header, body=body, now=clock.now.timestamp())
    assert webhook_verify(secret=rotated.secret, header=header, body=body, now=clock.now.timestamp())
    clock.advance(hours=25)
    emit(django_capture_on_commit_callbacks, payload={"id": 8})
    header, body = receiver.requests[-1].headers["Qiao-Signature"], receiver.requests[-1].content
    assert header.count("v1=") == 1
    assert not webhook_verify(secret=old, header=header, body=body, now=clock.now.timestamp())
    now_only = services.webhook_endpoint_rotate_secret(actor=people["admin"], endpoint_id=endpoint.pk,
                                                       keep_previous_hours=0)
    assert now_only.previous_secret == "" and now_only.signing_secrets() == [now_only.secret]
    entry = AuditEntry.objects.filter(object_id=str(endpoint.pk), action="rotate_secret").first()
    assert entry is not None and old not in json.dumps(entry.changes) and rotated.secret not in entry.note


def test_deactivating_an_endpoint_gives_up_its_waiting_deliveries(alpha, make_endpoint, people, receiver,
                                                                  django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    receiver.answer((500, "x"))
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert delivery.status == DeliveryStatus.FAILED
    services.webhook_endpoint_deactivate(actor=people["admin"], endpoint_id=endpoint.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD and delivery.next_attempt_at is None
    with pytest.raises(ValidationError):
        services.webhook_delivery_replay(actor=people["admin"], delivery_id=delivery.pk)
    with pytest.raises(ValidationError):
        services.webhook_endpoint_ping(actor=people["admin"], endpoint_id=endpoint.pk)
    assert AuditEntry.objects.filter(object_id=str(endpoint.pk), content_type__model="webhookendpoint",
                                     action="deactivate").count() == 1


def test_a_ping_goes_to_that_endpoint_only(alpha, make_endpoint, people, receiver,
                                           django_capture_on_commit_callbacks):
    endpoint = make_endpoint(events=[WebhookEventType.CUSTOMER_UPDATED])
    make_endpoint()
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.webhook_endpoint_ping(actor=people["admin"], endpoint_id=endpoint.pk)
    [request] = receiver.requests
    assert str(request.url) == endpoint.url and request.headers["Qiao-Event"] == "ping"
    assert json.loads(request.content)["data"]["endpoint_id"] == endpoint.pk
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    attempt = delivery.attempt_log.get()
    assert attempt.trigger == AttemptTrigger.MANUAL and attempt.requested_by == people["admin"]
    with pytest.raises(PermissionDenied):
        services.webhook_endpoint_ping(actor=people["secretary"], endpoint_id=endpoint.pk)


@pytest.mark.parametrize("url, allowed", [
    ("https://erp.example.com/hook", True),
    ("https://erp.example.com:8443/qiao/hooks?x=1", True),
    ("http://erp.example.com/hook", False),
    ("ftp://erp.example.com/hook", False),
    ("https://user:pw@erp.example.com/hook", False),
    ("https://10.0.0.5/hook", False),
    ("https://169.254.169.254/latest/meta-data", False),
    ("https://localhost/hook", False),
    ("http://127.0.0.1:8001/hook", False),
    ("not a url", False),
    ("", False),
])
def test_endpoint_urls_must_be_public_https(alpha, people, url, allowed):
    create = lambda: services.webhook_endpoint_create(actor=people["admin"], url=url, events=["*"])  # noqa: E731
    if allowed:
        assert create().url == url
    else:
        with pytest.raises(ValidationError) as caught:
            create()
        assert "url" in caught.value.message_dict


def test_local_http_is_allowed_only_where_the_deployment_says_so(alpha, people, settings):
    settings.QIAO_WEBHOOK_ALLOW_LOCAL_HTTP = True
    for url in ("http://127.0.0.1:8001/hook", "http://localhost:9000/x"):
        assert services.webhook_endpoint_create(actor=people["admin"], url=url, events=["*"]).url == url
    with pytest.raises(ValidationError):  # only loopback, never another private address
        services.webhook_endpoint_create(actor=people["admin"], url="http://192.168.1.9/hook", events=["*"])


def test_events_are_checked_and_stars_collapse(alpha, people):
    endpoint = services.webhook_endpoint_create(actor=people["admin"], url="https://erp.example.com/a",
                                                events=["payment.received", "order.approved", "order.approved"])
    assert endpoint.events == ["order.approved", "payment.received"]
    assert services.webhook_endpoint_create(actor=people["admin"], url="https://erp.example.com/b",
                                            events=["order.approved", "*"]).events == ["*"]
    for bad in ([], ["order.eaten"], ["ping"]):
        with pytest.raises(ValidationError) as caught:
            services.webhook_endpoint_create(actor=people["admin"], url="https://erp.example.com/c", events=bad)
        assert "events" in caught.value.message_dict


def test_only_integration_managers_change_endpoints_and_every_change_is_audited(alpha, people, make_endpoint):
    for key in ("sales", "manager", "secretary", "finance", "exec"):
        with pytest.raises(PermissionDenied):
            services.webhook_endpoint_create(actor=people[key], url="https://erp.example.com/x", events=["*"])
    endpoint = make_endpoint(description="用友")
    updated = services.webhook_endpoint_update(actor=people["admin"], endpoint_id=endpoint.pk, version=1,
                                               data={"description": "用友 U8", "events": ["order.shipped"]})
    assert updated.version == 2 and updated.events == ["order.shipped"]
    from crm.org.services import StaleVersion

    with pytest.raises(StaleVersion):
        services.webhook_endpoint_update(actor=people["admin"], endpoint_id=endpoint.pk, version=1,
                                         data={"description": "旧的"})
    services.webhook_endpoint_deactivate(actor=people["admin"], endpoint_id=endpoint.pk)
    services.webhook_endpoint_activate(actor=people["admin"], endpoint_id=endpoint.pk)
    actions = list(AuditEntry.objects.filter(content_type__model="webhookendpoint", object_id=str(endpoint.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "update", "deactivate", "activate"]
    change = AuditEntry.objects.get(object_id=str(endpoint.pk), content_type__model="webhookendpoint",
                                    action="update").changes
    assert change["description"] == {"old": "用友", "new": "用友 U8"}
    assert all(endpoint.secret not in json.dumps(e.changes) for e in AuditEntry.objects.filter(
        object_id=str(endpoint.pk), content_type__model="webhookendpoint"))


def test_webhook_attempt_numbers_are_unique_per_delivery(alpha, make_endpoint, receiver,
                                                         django_capture_on_commit_callbacks):
    make_endpoint()
    delivery = delivery_of(emit(django_capture_on_commit_callbacks))
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", flat=True)) == [1]
    assert delivery.event.occurred_at <= delivery.created_at + datetime.timedelta(seconds=1)
