"""The approval engine through its services: submission and the frozen chain, every
transition and every refused one, conditions, parallel steps, self-approval, delegation,
recall, idempotency, policies."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm.activities.models import Notification
from crm.approvals import selectors, services
from crm.approvals.models import ApprovalAssignment, ApprovalPolicy, ApprovalRequest, ApprovalStep
from crm.audit.models import AuditEntry
from crm.org.services import StaleVersion

from .factories import DOC, role_step, user_step

pytestmark = pytest.mark.django_db


def steps_of(request) -> list[tuple[int, str, str]]:
    return [(s.position, s.name_zh, s.status) for s in ApprovalStep.objects.filter(request=request).order_by("position")]


def pending_approvers(request) -> set[int]:
    return set(ApprovalAssignment.objects.filter(request=request, status="pending").values_list("approver_id", flat=True))


def audit_actions(request) -> list[str]:
    return list(AuditEntry.objects.filter(content_type__model="approvalrequest", object_id=str(request.pk))
                .order_by("at", "id").values_list("action", flat=True))


# -- submission and the default policy -------------------------------------------------------
def test_submit_freezes_the_default_chain_of_the_standard_mode_and_notifies_the_secretary(
        alpha, docs, people, django_capture_on_commit_callbacks):
    doc = docs.new(amount="5000.00")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    assert request.status == "pending" and request.current_position == 1
    assert steps_of(request) == [(1, "商务秘书审核", "active"), (2, "财务复核", "skipped"), (3, "信用超限审批", "skipped")]
    assert pending_approvers(request) == {people["secretary"].pk}
    assert request.title == f"测试单据 {doc}" and request.amount == Decimal("5000.00")
    assert request.facts["amount"] == "5000.00" and request.chain[1]["conditions"]["min_amount"] == "100000.00"
    assert request.department_id == people["sales"].department_id and request.region_id == people["sales"].region_id
    policy = ApprovalPolicy.objects.get(doc_type=DOC)  # seeded lazily from the tenant's mode
    assert (request.policy_id, request.policy_version) == (policy.pk, 1)
    note = Notification.objects.get(recipient=people["secretary"], kind="approval_pending")
    assert str(doc) in note.title and note.email_wanted and note.url == f"/approvals/{request.pk}/"
    assert not Notification.objects.filter(recipient=people["sales"]).exists()
    assert audit_actions(request) == ["submit"]


@pytest.mark.parametrize(("amount", "finance"), [("99999.99", False), ("100000.00", True), ("100000.01", True)])
def test_the_finance_re_check_applies_at_or_above_the_threshold(alpha, docs, people, amount, finance):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount=amount))
    assert steps_of(request)[1][2] == ("waiting" if finance else "skipped")


def test_credit_over_the_limit_adds_the_credit_override_step(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC,
                                       object_id=docs.new(amount="2000.00", credit_over_limit=True))
    assert [s[2] for s in steps_of(request)] == ["active", "skipped", "waiting"]
    services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.current_position == 3 and pending_approvers(request) == {people["finance"].pk}


def test_the_whole_chain_approved_calls_the_document_app_once_and_tells_the_submitter(
        alpha, docs, people, django_capture_on_commit_callbacks):
    doc = docs.new(amount="150000.00")
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve",
                                           comment="价格合规")
    assert request.status == "pending" and request.current_position == 2 and request.version == 2
    assert pending_approvers(request) == {people["finance"].pk}
    assert Notification.objects.filter(recipient=people["finance"], kind="approval_pending").count() == 1
    assert docs.calls == []
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve")
    assert request.status == "approved" and request.decided_at and request.current_position is None
    assert docs.calls == [("approved", doc, people["finance"].pk)] and docs.docs[doc]["status"] == "approved"
    assert [s[2] for s in steps_of(request)] == ["approved", "approved", "skipped"]
    assert Notification.objects.get(recipient=people["sales"], kind="approval_result").title.startswith("审批通过")
    assert audit_actions(request) == ["submit", "approve", "approve"]
    first = ApprovalAssignment.objects.get(request=request, approver=people["secretary"])
    assert (first.status, first.decided_by_id, first.comment) == ("approved", people["secretary"].pk, "价格合规")


def test_rejection_ends_the_request_with_the_comment_and_a_resubmission_is_a_new_request(
        alpha, docs, people, django_capture_on_commit_callbacks):
    doc = docs.new(amount="150000.00")
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    with pytest.raises(ValidationError) as no_comment:
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="reject", comment="  ")
    assert "comment" in no_comment.value.message_dict
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="reject",
                                           comment="单价低于底价")
    assert request.status == "rejected" and request.current_position is None
    assert [s[2] for s in steps_of(request)] == ["rejected", "cancelled", "skipped"]
    assert docs.calls == [("rejected", doc, people["secretary"].pk, "单价低于底价")]
    note = Notification.objects.get(recipient=people["sales"], kind="approval_result")
    assert "驳回" in note.title and "单价低于底价" in note.body
    # nothing more can happen to it
    with pytest.raises(services.ApprovalConflict):
        services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve")
    with pytest.raises(services.ApprovalConflict):
        services.approval_recall(actor=people["sales"], request_id=request.pk)
    again = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    assert again.pk != request.pk and again.status == "pending"
    assert [r.pk for r in selectors.approval_history_for_document(doc_type=DOC, object_id=doc)] == [again.pk, request.pk]


def test_one_pending_request_per_document(alpha, docs, people):
    doc = docs.new()
    first = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    assert services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc).pk == first.pk  # a retry
    with pytest.raises(services.ApprovalConflict) as other:
        services.approval_submit(actor=people["manager"], doc_type=DOC, object_id=doc)
    assert other.value.code == "already_pending"
    assert ApprovalRequest.objects.filter(doc_type=DOC, object_id=doc).count() == 1


def test_unknown_document_type_is_refused(alpha, people):
    with pytest.raises(ValidationError) as exc:
        services.approval_submit(actor=people["sales"], doc_type="nosuch", object_id=1)
    assert "doc_type" in exc.value.message_dict


# -- conditions --------------------------------------------------------------------------------
def test_discount_new_customer_partner_tier_and_amount_band_conditions(alpha, docs, people, save_policy):
    save_policy(
        role_step("business_secretary", "商务审核"),
        role_step("regional_manager", "大折扣", min_discount_pct="15"),
        role_step("executive", "新客户", customer_is_new=True),
        role_step("finance", "金牌渠道", partner_tiers=["gold", "platinum"]),
        role_step("warehouse", "中等金额", min_amount="1000", max_amount="5000"),
    )

    def applied(**facts):
        request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(**facts))
        return [s[1] for s in steps_of(request) if s[2] != "skipped"]

    assert applied(amount="500") == ["商务审核"]
    assert applied(amount="500", discount_pct=Decimal("15.00")) == ["商务审核", "大折扣"]
    assert applied(amount="500", discount_pct=Decimal("14.99")) == ["商务审核"]
    assert applied(amount="500", customer_is_new=True) == ["商务审核", "新客户"]
    assert applied(amount="500", partner_tier="gold") == ["商务审核", "金牌渠道"]
    assert applied(amount="500", partner_tier="silver") == ["商务审核"]
    assert applied(amount="1000") == ["商务审核", "中等金额"]
    assert applied(amount="4999.99") == ["商务审核", "中等金额"]
    assert applied(amount="5000") == ["商务审核"]


def test_no_applicable_step_or_a_switched_off_policy_approves_at_once(alpha, docs, people, save_policy):
    save_policy(role_step("finance", "大额", min_amount="10000"))
    doc = docs.new(amount="10")
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    assert request.status == "approved" and steps_of(request) == [(1, "大额", "skipped")]
    assert docs.calls == [("approved", doc, people["sales"].pk)]
    save_policy(role_step("finance", "财务"), active=False)
    off = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="99999999"))
    assert off.status == "approved" and steps_of(off) == []
    assert audit_actions(off) == ["submit", "approve"]


# -- parallel steps ---------------------------------------------------------------------------
def test_any_of_step_completes_on_the_first_approval_and_supersedes_the_others(
        alpha, docs, people, make_staff, save_policy):
    extra = [make_staff("finance"), make_staff("finance")]
    save_policy(role_step("finance", "财务任一人", mode="any"), role_step("executive", "高管"))
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    assert pending_approvers(request) == {people["finance"].pk, *(u.pk for u in extra)}
    services.approval_decide(actor=extra[0], request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.current_position == 2 and pending_approvers(request) == {people["exec"].pk}
    statuses = dict(ApprovalAssignment.objects.filter(request=request, step__position=1)
                    .values_list("approver_id", "status"))
    assert statuses == {extra[0].pk: "approved", people["finance"].pk: "superseded", extra[1].pk: "superseded"}
    with pytest.raises(services.ApprovalConflict) as late:
        services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve", step=1)
    assert late.value.code == "step_not_active"
    with pytest.raises(services.ApprovalConflict) as late_no_step:
        services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve")
    assert late_no_step.value.code == "already_decided" and extra[0].full_name in str(late_no_step.value)


def test_all_of_step_needs_every_approver_and_one_rejection_ends_it(alpha, docs, people, make_staff, save_policy):
    extra = make_staff("finance")
    save_policy(role_step("finance", "财务会签", mode="all"))
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.status == "pending" and request.current_position == 1 and pending_approvers(request) == {extra.pk}
    assert docs.calls == []
    services.approval_decide(actor=extra, request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.status == "approved" and len(docs.calls_of("approved")) == 1

    second = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    services.approval_decide(actor=people["finance"], request_id=second.pk, decision="approve")
    services.approval_decide(actor=extra, request_id=second.pk, decision="reject", comment="不同意")
    second.refresh_from_db()
    assert second.status == "rejected" and len(docs.calls_of("approved")) == 1


# -- who may approve ---------------------------------------------------------------------------
def test_the_submitter_never_approves_their_own_document(alpha, docs, people, make_staff):
    other_secretary = make_staff("business_secretary")
    request = services.approval_submit(actor=people["secretary"], doc_type=DOC, object_id=docs.new())
    assert pending_approvers(request) == {other_secretary.pk}  # the submitter is left out of the chain
    assert people["secretary"].pk not in request.chain[0]["approver_ids"]
    with pytest.raises(PermissionDenied):
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")


def test_a_chain_with_nobody_left_to_approve_is_refused_naming_the_step(alpha, docs, people, save_policy):
    with pytest.raises(ValidationError) as only_one:
        services.approval_submit(actor=people["secretary"], doc_type=DOC, object_id=docs.new())
    assert "商务秘书审核" in str(only_one.value) and only_one.value.message_dict["approval"]
    save_policy(user_step(people["finance"], "杨敏审批"))
    with pytest.raises(ValidationError) as named_self:
        services.approval_submit(actor=people["finance"], doc_type=DOC, object_id=docs.new())
    assert "杨敏审批" in str(named_self.value)
    assert not ApprovalRequest.objects.filter(doc_type=DOC).exists()  # nothing half-written


def test_scope_restriction_picks_the_role_holders_above_the_submitter(alpha, docs, people, save_policy):
    save_policy(role_step("regional_manager", "大区经理", scope="submitter_region"))
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())  # 北京 < 华北
    assert pending_approvers(request) == {people["manager"].pk}
    with pytest.raises(ValidationError, match="大区经理"):  # 上海 is not under 华北
        services.approval_submit(actor=people["sales2"], doc_type=DOC, object_id=docs.new())
    save_policy(role_step("regional_manager", "部门经理", scope="submitter_department"))
    # manager sits in 销售部, sales in 北京销售组 below it
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    assert pending_approvers(request) == {people["manager"].pk}
    with pytest.raises(ValidationError):  # finance's 财务部 is not under 销售部
        services.approval_submit(actor=people["finance"], doc_type=DOC, object_id=docs.new())


def test_someone_not_on_the_step_is_refused_and_someone_who_cannot_see_it_gets_not_found(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    with pytest.raises(PermissionDenied):  # the executive sees every request but is not on this step
        services.approval_decide(actor=people["exec"], request_id=request.pk, decision="approve")
    with pytest.raises(ApprovalRequest.DoesNotExist):  # a colleague with an own scope does not see it
        services.approval_decide(actor=people["sales2"], request_id=request.pk, decision="approve")
    with pytest.raises(ValidationError):
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="maybe")
    request.refresh_from_db()
    assert request.status == "pending" and request.version == 1 and audit_actions(request) == ["submit"]


def test_visibility_submitter_chain_managers_scope_and_company_wide_roles(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="200000"))
    for key in ("sales", "secretary", "finance", "manager", "exec", "admin"):
        assert selectors.approval_request_get_for_actor(actor=people[key], request_id=request.pk).pk == request.pk
    for key in ("sales2", "service"):  # own scope / 客服部 department scope, not on the chain
        with pytest.raises(ApprovalRequest.DoesNotExist):
            selectors.approval_request_get_for_actor(actor=people[key], request_id=request.pk)


# -- delegation ----------------------------------------------------------------------------------
def test_a_delegate_decides_on_the_approvers_behalf_and_it_is_recorded(
        alpha, docs, people, django_capture_on_commit_callbacks):
    delegation = services.delegation_set(actor=people["secretary"], to_user_id=people["service"].pk,
                                         ends_at=timezone.now() + datetime.timedelta(days=3), reason="年假")
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    inbox = selectors.approval_inbox_for(actor=people["service"])
    assert [i.request.pk for i in inbox.items] == [request.pk]
    assert inbox.items[0].on_behalf_of.pk == people["secretary"].pk
    assert selectors.approvals_waiting_count(actor=people["service"]) == 1
    assert selectors.approval_request_get_for_actor(actor=people["service"], request_id=request.pk)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_decide(actor=people["service"], request_id=request.pk, decision="approve",
                                           comment="代批")
    assert request.status == "approved"
    assignment = ApprovalAssignment.objects.get(request=request)
    assert (assignment.approver_id, assignment.decided_by_id) == (people["secretary"].pk, people["service"].pk)
    assert assignment.on_behalf()
    entry = AuditEntry.objects.get(content_type__model="approvalrequest", object_id=str(request.pk), action="approve")
    assert entry.actor_id == people["service"].pk and entry.changes["on_behalf_of"]["new"] == people["secretary"].pk
    assert "代 陈静 审批" in entry.note
    assert docs.calls == [("approved", request.object_id, people["service"].pk)]
    services.delegation_end(actor=people["secretary"], delegation_id=delegation.pk)
    assert selectors.delegations_active_to(actor=people["service"]) == []


def test_expired_future_ended_and_other_type_delegations_do_not_count(alpha, docs, people):
    now = timezone.now()
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    expired = services.delegation_set(actor=people["secretary"], to_user_id=people["service"].pk,
                                      starts_at=now - datetime.timedelta(days=3), ends_at=now + datetime.timedelta(days=1))
    expired.ends_at = now - datetime.timedelta(minutes=1)  # it ran out
    expired.save(update_fields=["ends_at"])
    services.delegation_set(actor=people["secretary"], to_user_id=people["warehouse"].pk,
                            starts_at=now + datetime.timedelta(days=1), ends_at=now + datetime.timedelta(days=2))
    services.delegation_set(actor=people["secretary"], to_user_id=people["manager"].pk,
                            ends_at=now + datetime.timedelta(days=2), doc_types=["order"])
    for key in ("service", "warehouse"):
        with pytest.raises((PermissionDenied, ApprovalRequest.DoesNotExist)):
            services.approval_decide(actor=people[key], request_id=request.pk, decision="approve")
        assert selectors.approval_inbox_for(actor=people[key]).items == []
    with pytest.raises(PermissionDenied):  # manager sees it (region scope) but is delegated orders only
        services.approval_decide(actor=people["manager"], request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.status == "pending"


def test_a_delegate_never_approves_their_own_submission(alpha, docs, people):
    services.delegation_set(actor=people["secretary"], to_user_id=people["sales"].pk,
                            ends_at=timezone.now() + datetime.timedelta(days=1))
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    assert selectors.approval_inbox_for(actor=people["sales"]).items == []
    with pytest.raises(PermissionDenied):
        services.approval_decide(actor=people["sales"], request_id=request.pk, decision="approve")


def test_delegation_rules(alpha, people):
    later = timezone.now() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError):
        services.delegation_set(actor=people["sales"], to_user_id=people["sales"].pk, ends_at=later)
    with pytest.raises(ValidationError):
        services.delegation_set(actor=people["sales"], to_user_id=people["sales2"].pk,
                                ends_at=timezone.now() - datetime.timedelta(hours=1))
    with pytest.raises(ValidationError):
        services.delegation_set(actor=people["sales"], to_user_id=people["sales2"].pk, ends_at=later,
                                doc_types=["nosuch"])
    with pytest.raises(PermissionDenied):  # only one's own, unless admin
        services.delegation_set(actor=people["sales"], from_user_id=people["finance"].pk,
                                to_user_id=people["sales2"].pk, ends_at=later)
    made = services.delegation_set(actor=people["admin"], from_user_id=people["finance"].pk,
                                   to_user_id=people["sales2"].pk, ends_at=later)
    assert made.from_user_id == people["finance"].pk and made.created_by_id == people["admin"].pk
    with pytest.raises(PermissionDenied):
        services.delegation_end(actor=people["sales2"], delegation_id=made.pk)
    ended = services.delegation_end(actor=people["finance"], delegation_id=made.pk)
    assert not ended.active and ended.ended_at
    assert services.delegation_end(actor=people["finance"], delegation_id=made.pk).ended_at == ended.ended_at


# -- recall ----------------------------------------------------------------------------------
def test_recall_before_the_first_decision(alpha, docs, people):
    doc = docs.new()
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=doc)
    with pytest.raises(PermissionDenied):
        services.approval_recall(actor=people["secretary"], request_id=request.pk)
    request = services.approval_recall(actor=people["sales"], request_id=request.pk)
    assert request.status == "recalled" and docs.calls == [("recalled", doc, people["sales"].pk)]
    assert pending_approvers(request) == set() and selectors.approval_inbox_for(actor=people["secretary"]).items == []
    assert services.approval_recall(actor=people["sales"], request_id=request.pk).status == "recalled"  # again
    assert len(docs.calls) == 1
    with pytest.raises(services.ApprovalConflict):
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    assert audit_actions(request) == ["submit", "recall"]


def test_no_recall_after_the_first_decision(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="100000"))
    services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    with pytest.raises(services.ApprovalConflict) as exc:
        services.approval_recall(actor=people["sales"], request_id=request.pk)
    assert exc.value.code == "already_decided"
    request.refresh_from_db()
    assert request.status == "pending" and docs.calls_of("recalled") == []


# -- frozen chain ------------------------------------------------------------------------------
def test_a_policy_edit_after_submission_does_not_rewrite_the_request(alpha, docs, people, save_policy, make_staff):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="50000"))
    frozen = list(request.chain)
    save_policy(role_step("executive", "总经理审批"), role_step("finance", "财务", min_amount="10000"))
    newcomer = make_staff("business_secretary")  # would have been an approver under the old policy too
    request.refresh_from_db()
    assert request.chain == frozen and request.policy_version == 1
    assert steps_of(request) == [(1, "商务秘书审核", "active"), (2, "财务复核", "skipped"), (3, "信用超限审批", "skipped")]
    assert newcomer.pk not in pending_approvers(request)
    request = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    assert request.status == "approved"  # the old chain ends after the secretary at this amount
    later = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="50000"))
    assert [s[1] for s in steps_of(later)] == ["总经理审批", "财务"] and later.policy_version == 2


# -- idempotency and failures ------------------------------------------------------------------
def test_a_repeated_identical_decision_returns_the_current_state(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new(amount="120000"))
    first = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve", step=1)
    again = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve", step=1)
    no_step = services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    assert first.version == again.version == no_step.version == 2 and again.current_position == 2
    assert audit_actions(request) == ["submit", "approve"]
    with pytest.raises(services.ApprovalConflict):  # changing one's mind is not a retry
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="reject",
                                 comment="改主意", step=1)
    services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve", step=2)
    done = services.approval_decide(actor=people["finance"], request_id=request.pk, decision="approve", step=2)
    assert done.status == "approved" and len(docs.calls_of("approved")) == 1


def test_a_failing_document_callback_rolls_the_decision_back(alpha, docs, people):
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    docs.fail_on_approved = True
    with pytest.raises(RuntimeError):
        services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    request.refresh_from_db()
    assert request.status == "pending" and pending_approvers(request) == {people["secretary"].pk}
    assert audit_actions(request) == ["submit"]


def test_deactivated_staff_are_not_resolved_as_approvers(alpha, docs, people, make_staff):
    from crm.org.services import staff_deactivate

    gone = make_staff("business_secretary")
    staff_deactivate(actor=people["admin"], user_id=gone.pk)
    request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    assert pending_approvers(request) == {people["secretary"].pk}


# -- the inbox ---------------------------------------------------------------------------------
def test_inbox_is_newest_first_with_keyset_pages_and_a_type_filter(alpha, docs, people, save_policy):
    requests = [services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
                for _ in range(5)]
    first = selectors.approval_inbox_for(actor=people["secretary"], limit=2)
    assert [i.request.pk for i in first.items] == [r.pk for r in requests[::-1][:2]] and first.next_cursor
    second = selectors.approval_inbox_for(actor=people["secretary"], limit=2, cursor=first.next_cursor)
    third = selectors.approval_inbox_for(actor=people["secretary"], limit=2, cursor=second.next_cursor)
    assert [i.request.pk for i in second.items + third.items] == [r.pk for r in requests[::-1][2:]]
    assert third.next_cursor is None
    assert selectors.approval_inbox_for(actor=people["secretary"], doc_type="order").items == []
    assert selectors.approvals_waiting_count(actor=people["secretary"]) == 5
    assert selectors.approvals_waiting_count(actor=people["finance"]) == 0
    services.approval_decide(actor=people["secretary"], request_id=requests[0].pk, decision="approve")
    assert selectors.approvals_waiting_count(actor=people["secretary"]) == 4
    assert selectors.approvals_waiting_count(actor=people["secretary"], cap=3) == 3  # shown as "3+"


def test_notifications_are_sent_once_even_when_the_task_runs_again(alpha, docs, people,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        request = services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
    assert len(callbacks) == 1
    step = ApprovalStep.objects.get(request=request, position=1)
    assert services.approval_notify_pending(step_id=step.pk) == 0  # a retried task: nothing new
    assert Notification.objects.filter(recipient=people["secretary"], kind="approval_pending").count() == 1
    with django_capture_on_commit_callbacks(execute=False) as rolled_back:
        try:
            with transaction.atomic():
                services.approval_submit(actor=people["sales"], doc_type=DOC, object_id=docs.new())
                raise RuntimeError("the document app failed after submitting")
        except RuntimeError:
            pass
    assert rolled_back == []  # nothing is told about a submission that never happened


# -- policies ----------------------------------------------------------------------------------
def test_policy_save_validates_and_is_audited_and_versioned(alpha, docs, people, make_staff):
    policy = services.approval_policy_default_seed(doc_type=DOC)
    assert policy.version == 1
    bad = [
        ([], "至少要有一个步骤"),
        ([role_step("finance", position=1), role_step("finance", position=3)], "连续编号"),
        ([role_step("nosuchrole")], "nosuchrole"),
        ([{"name_zh": "", "approver_kind": "role", "role_code": "finance"}], "名称不能为空"),
        ([role_step("finance", min_amount="100", max_amount="50")], "上限必须大于"),
        ([role_step("finance", min_amount="1.234")], "两位小数"),
        ([role_step("finance", min_discount_pct="120")], "不能大于"),
        ([role_step("finance", mode="most")], "any"),
        ([{"name_zh": "指定", "approver_kind": "user", "user_id": None}], "请选择审批人"),
    ]
    for steps, message in bad:
        with pytest.raises(ValidationError) as exc:
            services.approval_policy_save(actor=people["admin"], doc_type=DOC, steps=steps)
        assert message in str(exc.value), (steps, exc.value)
    gone = make_staff("finance")
    from crm.org.services import staff_deactivate

    staff_deactivate(actor=people["admin"], user_id=gone.pk)
    with pytest.raises(ValidationError, match="停用"):
        services.approval_policy_save(actor=people["admin"], doc_type=DOC, steps=[user_step(gone)])
    with pytest.raises(PermissionDenied):
        services.approval_policy_save(actor=people["secretary"], doc_type=DOC, steps=[role_step("finance")])
    saved = services.approval_policy_save(actor=people["admin"], doc_type=DOC, version=1, steps=[
        role_step("finance", "第二步", position=2), role_step("business_secretary", "第一步", position=1)])
    assert saved.version == 2 and saved.updated_by_id == people["admin"].pk
    assert list(saved.steps.order_by("position").values_list("name_zh", flat=True)) == ["第一步", "第二步"]
    with pytest.raises(StaleVersion):
        services.approval_policy_save(actor=people["admin"], doc_type=DOC, version=1, steps=[role_step("finance")])
    entry = AuditEntry.objects.filter(content_type__model="approvalpolicy", object_id=str(saved.pk)).order_by("-id")[0]
    assert entry.action == "update" and entry.actor_id == people["admin"].pk
    assert [s["name_zh"] for s in entry.changes["steps"]["new"]] == ["第一步", "第二步"]


def test_default_policy_per_mode_is_seeded_once(alpha, docs):
    first = services.approval_policy_default_seed(doc_type=DOC)
    again = services.approval_policy_default_seed(doc_type=DOC)
    assert first.pk == again.pk and ApprovalPolicy.objects.filter(doc_type=DOC).count() == 1
    steps = list(first.steps.order_by("position"))
    assert [(s.role_code, s.min_amount, s.credit_over_limit) for s in steps] == [
        ("business_secretary", None, None), ("finance", Decimal("100000.00"), None), ("finance", None, True)]
    assert AuditEntry.objects.filter(content_type__model="approvalpolicy", object_id=str(first.pk)).count() == 1
