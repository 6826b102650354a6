"""Twenty approvers press approve on the same "any of" step at the same moment, each in its
own thread with its own database connection: exactly one transition happens.

The ordinary tests run inside one rolled-back transaction, which other connections cannot
see into; this one therefore commits its data (without the ``db`` fixture, whose
``transactional_db`` variant would flush the session's tenants at teardown) and removes
exactly what it made afterwards."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from crm.approvals import registry, services
from crm.approvals.models import ApprovalAssignment, ApprovalPolicy, ApprovalRequest, ApprovalStep

from .factories import DocStore, role_step

RACE = "racedoc"
APPROVERS = 20



@pytest.fixture
def committed(test_database, request, django_db_blocker):
    """Database access outside any test transaction (every write commits)."""
    with django_db_blocker.unblock():
        yield request.getfixturevalue("tenant_env")["alpha"]


def _cleanup(schema: str, *, role_code: str, user_ids: list[int], policy_ids: list[int]) -> None:
    from django.contrib.auth import get_user_model

    from crm.activities.models import Notification
    from crm.audit.models import AuditEntry
    from crm.org.models import Role

    with schema_context(schema):
        request_ids = list(ApprovalRequest.objects.filter(doc_type=RACE).values_list("pk", flat=True))
        AuditEntry.objects.filter(content_type__model="approvalrequest",
                                  object_id__in=[str(pk) for pk in request_ids]).delete()
        AuditEntry.objects.filter(content_type__model="approvalpolicy",
                                  object_id__in=[str(pk) for pk in policy_ids]).delete()
        AuditEntry.objects.filter(content_type__model="user", object_id__in=[str(pk) for pk in user_ids]).delete()
        role_ids = [str(pk) for pk in Role.objects.filter(code=role_code).values_list("pk", flat=True)]
        AuditEntry.objects.filter(content_type__model="role", object_id__in=role_ids).delete()
        Notification.objects.filter(dedup_key__in=[f"approval-result:{pk}" for pk in request_ids]).delete()
        ApprovalRequest.objects.filter(doc_type=RACE).delete()  # steps and assignments cascade
        ApprovalPolicy.objects.filter(doc_type=RACE).delete()
        get_user_model().objects.filter(pk__in=user_ids).delete()
        Role.objects.filter(code=role_code).delete()


def test_twenty_approvers_pressing_approve_at_once_make_exactly_one_transition(committed):
    from django.contrib.auth import get_user_model

    from crm.org.services import role_create, staff_create

    tenant = committed
    schema = tenant.schema_name
    store = DocStore(key=RACE)
    registry.register(store.document_type())
    role_code = f"race_{uuid.uuid4().hex[:8]}"
    user_ids: list[int] = []
    policy_ids: list[int] = []
    try:
        with schema_context(schema):
            User = get_user_model()
            admin = User.objects.get(email="admin@alpha.test")
            sales = User.objects.get(email="sales@alpha.example.com")
            role_create(actor=admin, code=role_code, name_zh="竞速审批", name_en="Race approver", scope="own",
                        permissions=[])
            approvers = [staff_create(actor=None, email=f"{role_code}-{i}@alpha.example.com",
                                      full_name=f"竞速审批人{i}", role_codes=[role_code]) for i in range(APPROVERS)]
            user_ids.extend(u.pk for u in approvers)
            policy = services.approval_policy_save(actor=admin, doc_type=RACE,
                                                   steps=[role_step(role_code, "任一人审批", mode="any")])
            policy_ids.append(policy.pk)
            doc = store.new(amount="8888.00")
            request = services.approval_submit(actor=sales, doc_type=RACE, object_id=doc)
            assert ApprovalAssignment.objects.filter(request=request, status="pending").count() == APPROVERS

        barrier = threading.Barrier(APPROVERS)
        lock = threading.Lock()
        outcomes: list[str] = []
        backends: set[int] = set()

        def press(user):
            try:
                with schema_context(schema):
                    connection.ensure_connection()
                    with lock:
                        backends.add(connection.connection.info.backend_pid)
                    barrier.wait(timeout=60)
                    try:
                        services.approval_decide(actor=user, request_id=request.pk, decision="approve",
                                                 comment=f"{user.full_name} 同意")
                        result = "approved"
                    except services.ApprovalConflict as exc:
                        result = f"conflict:{exc.code}"
            except Exception as exc:  # reported below
                result = f"error:{exc!r}"
            finally:
                connections.close_all()
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=press, args=(u,), name=f"approver-{i}") for i, u in enumerate(approvers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert len(backends) == APPROVERS  # twenty real, separate PostgreSQL sessions
        assert outcomes.count("approved") == 1, outcomes
        assert outcomes.count("conflict:approval_closed") == APPROVERS - 1, outcomes

        with schema_context(schema):
            from crm.audit.models import AuditEntry

            request.refresh_from_db()
            assert request.status == "approved" and request.version == 2
            assignments = list(ApprovalAssignment.objects.filter(request=request))
            assert sorted(a.status for a in assignments) == ["approved"] + ["superseded"] * (APPROVERS - 1)
            winner = next(a for a in assignments if a.status == "approved")
            assert winner.decided_by_id == winner.approver_id
            assert ApprovalStep.objects.get(request=request).status == "approved"
            assert list(AuditEntry.objects.filter(content_type__model="approvalrequest", object_id=str(request.pk))
                        .order_by("id").values_list("action", flat=True)) == ["submit", "approve"]
        assert store.calls == [("approved", doc, winner.approver_id)]  # the document app was told once
    finally:
        registry.unregister(RACE)
        _cleanup(schema, role_code=role_code, user_ids=user_ids, policy_ids=policy_ids)
        connection.set_schema_to_public()
    with schema_context(schema):  # the session's tenant is as it was
        from crm.org.models import Role

        assert not ApprovalRequest.objects.filter(doc_type=RACE).exists()
        assert not ApprovalPolicy.objects.filter(doc_type=RACE).exists()
        assert not get_user_model().objects.filter(pk__in=user_ids).exists()
        assert not Role.objects.filter(code=role_code).exists()
