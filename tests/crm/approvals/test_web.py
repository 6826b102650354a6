"""The approval pages: inbox (with delegated items, filter and empty state), a request's
timeline with approve / reject / recall, my submissions, the policy editor and delegation."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.approvals import services
from crm.approvals.models import ApprovalPolicy, ApprovalRequest

from .factories import DOC

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(tenant_a, in_tenant, docs):
    def _submit(actor, **facts):
        with in_tenant(tenant_a):
            return services.approval_submit(actor=actor, doc_type=DOC, object_id=docs.new(**facts))
    return _submit


def test_inbox_lists_my_approvals_and_delegated_ones_with_a_type_filter(tenant_a, people, web_as, submit, in_tenant,
                                                                       django_assert_max_num_queries):
    web = web_as(tenant_a, people["service"])
    empty = web.get("/approvals/")
    assert empty.status_code == 200 and 'data-testid="inbox-empty"' in empty.content.decode()
    mine = submit(people["sales"])
    with in_tenant(tenant_a):
        services.delegation_set(actor=people["secretary"], to_user_id=people["service"].pk,
                                ends_at=timezone.now() + datetime.timedelta(days=1))
    page = web.get("/approvals/").content.decode()
    assert page.count('data-testid="inbox-row"') == 1 and mine.title in page
    assert 'data-testid="delegated-tag"' in page and "代 陈静" in page
    assert 'data-nav="approvals"' in page and 'class="active" data-nav="approvals"' in page
    filtered = web.get("/approvals/?doc_type=no_such_type").content.decode()  # no such type registered
    assert 'data-testid="inbox-row"' in filtered  # an unknown filter is ignored, not an error
    secretary = web_as(tenant_a, people["secretary"])
    for _ in range(3):
        submit(people["sales2"])
    with django_assert_max_num_queries(30) as one_page:
        assert secretary.get("/approvals/").content.decode().count('data-testid="inbox-row"') == 4
    for _ in range(10):
        submit(people["manager"])
    with django_assert_max_num_queries(len(one_page.captured_queries)):
        assert secretary.get("/approvals/").content.decode().count('data-testid="inbox-row"') == 14
    assert secretary.get(f"/approvals/?doc_type={DOC}").content.decode().count('data-testid="inbox-row"') == 14


def test_detail_shows_the_chain_and_the_approver_approves(tenant_a, people, web_as, submit, in_tenant, docs):
    request = submit(people["sales"], amount="150000")
    submitter_view = web_as(tenant_a, people["sales"]).get(f"/approvals/{request.pk}/").content.decode()
    assert submitter_view.count('data-testid="chain-step"') == 3
    assert "商务秘书审核" in submitter_view and "财务复核" in submitter_view and "不适用" in submitter_view
    assert 'data-testid="approve-form"' not in submitter_view and 'data-testid="recall-form"' in submitter_view
    web = web_as(tenant_a, people["secretary"])
    page = web.get(f"/approvals/{request.pk}/").content.decode()
    assert 'data-testid="approve-form"' in page and 'data-testid="reject-form"' in page
    assert 'name="step" value="1"' in page and 'data-testid="recall-form"' not in page
    response = web.post(f"/approvals/{request.pk}/decide", {"decision": "approve", "step": "1", "comment": "可以"})
    assert response.status_code == 302 and response["Location"] == f"/approvals/{request.pk}/"
    followed = web.get(f"/approvals/{request.pk}/").content.decode()
    assert "已同意" in followed and "可以" in followed and 'data-testid="approve-form"' not in followed
    # a second click of the same (now stale) form: a message, nothing changes
    again = web.post(f"/approvals/{request.pk}/decide", {"decision": "approve", "step": "1"}, follow=True)
    assert again.status_code == 200
    with in_tenant(tenant_a):
        request.refresh_from_db()
    assert request.current_position == 2 and request.version == 2


def test_reject_without_a_comment_is_refused_with_a_message(tenant_a, people, web_as, submit, in_tenant):
    request = submit(people["sales"])
    web = web_as(tenant_a, people["secretary"])
    refused = web.post(f"/approvals/{request.pk}/decide", {"decision": "reject", "step": "1", "comment": ""},
                       follow=True).content.decode()
    assert "驳回时请填写意见" in refused
    with in_tenant(tenant_a):
        assert ApprovalRequest.objects.get(pk=request.pk).status == "pending"
    web.post(f"/approvals/{request.pk}/decide", {"decision": "reject", "step": "1", "comment": "价格太低"})
    with in_tenant(tenant_a):
        assert ApprovalRequest.objects.get(pk=request.pk).status == "rejected"
    mine = web_as(tenant_a, people["sales"]).get("/approvals/mine/").content.decode()
    assert 'data-testid="mine-row"' in mine and "已驳回" in mine


def test_recall_from_the_page_and_invisible_requests_are_404(tenant_a, people, web_as, submit, in_tenant, docs):
    request = submit(people["sales"])
    assert web_as(tenant_a, people["sales2"]).get(f"/approvals/{request.pk}/").status_code == 404
    assert web_as(tenant_a, people["sales2"]).post(f"/approvals/{request.pk}/recall").status_code == 404
    outsider = web_as(tenant_a, people["exec"]).post(f"/approvals/{request.pk}/decide",
                                                      {"decision": "approve", "step": "1"}, follow=True)
    assert "不是这一步" in outsider.content.decode()
    web = web_as(tenant_a, people["sales"])
    assert web.post(f"/approvals/{request.pk}/recall").status_code == 302
    with in_tenant(tenant_a):
        assert ApprovalRequest.objects.get(pk=request.pk).status == "recalled"
    assert docs.calls_of("recalled")
    assert 'data-testid="mine-empty"' in web_as(tenant_a, people["sales2"]).get("/approvals/mine/").content.decode()


def test_policy_editor_add_reorder_remove_and_save_the_threshold(tenant_a, people, web_as, docs, in_tenant):
    assert web_as(tenant_a, people["secretary"]).get(f"/approvals/policies/{DOC}/").status_code == 403
    assert web_as(tenant_a, people["secretary"]).get("/approvals/policies/").status_code == 403
    web = web_as(tenant_a, people["admin"])
    listing = web.get("/approvals/policies/").content.decode()
    assert 'data-testid="policy-row"' in listing and "测试单据" in listing and "≥ 100000.00" in listing
    page = web.get(f"/approvals/policies/{DOC}/")
    html = page.content.decode()
    assert page.status_code == 200 and html.count('data-testid="step-row"') == 3
    assert 'value="100000.00"' in html
    form = {"name": "测试单据审批", "active": "on", "version": "1", "steps-count": "3"}
    rows = [("商务秘书审核", "business_secretary", ""), ("财务复核", "finance", "100000.00"), ("信用超限审批", "finance", "")]
    for i, (name, role, amount) in enumerate(rows):
        form.update({f"steps-{i}-name_zh": name, f"steps-{i}-mode": "any", f"steps-{i}-approver_kind": "role",
                     f"steps-{i}-role_code": role, f"steps-{i}-scope": "none", f"steps-{i}-min_amount": amount})
    form["steps-2-credit_over_limit"] = "true"
    added = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "add"}).content.decode()
    assert added.count('data-testid="step-row"') == 4  # not saved yet
    moved = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "up-1"}).content.decode()
    assert moved.index("财务复核") < moved.index("商务秘书审核")
    removed = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "remove-2"}).content.decode()
    assert removed.count('data-testid="step-row"') == 2
    with in_tenant(tenant_a):
        assert ApprovalPolicy.objects.get(doc_type=DOC).version == 1
    form["steps-1-min_amount"] = "30000"  # the tenant's own threshold
    saved = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "save"})
    assert saved.status_code == 302
    with in_tenant(tenant_a):
        policy = ApprovalPolicy.objects.get(doc_type=DOC)
        assert policy.version == 2 and str(policy.steps.get(position=2).min_amount) == "30000.00"
        assert policy.steps.get(position=3).credit_over_limit is True
    stale = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "save"})  # version 1 again
    assert stale.status_code == 412 and "已被他人修改" in stale.content.decode()
    form["version"] = "2"
    form["steps-0-role_code"] = "ghost"
    invalid = web.post(f"/approvals/policies/{DOC}/", {**form, "action": "save"})
    assert invalid.status_code == 400 and "ghost" in invalid.content.decode()


def test_delegation_page_sets_and_ends_a_delegation(tenant_a, people, web_as, in_tenant, docs):
    web = web_as(tenant_a, people["finance"])
    page = web.get("/approvals/delegations/").content.decode()
    assert 'data-testid="given-empty"' in page and 'name="from_user"' not in page
    ends = (timezone.localtime() + datetime.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    bad = web.post("/approvals/delegations/", {"to_user": people["warehouse"].pk, "ends_at": "2001-01-01T00:00"})
    assert bad.status_code == 400 and "结束时间必须晚于开始时间" in bad.content.decode()
    done = web.post("/approvals/delegations/", {"to_user": people["warehouse"].pk, "ends_at": ends, "reason": "休假",
                                                "doc_types": [DOC]})
    assert done.status_code == 302
    listing = web.get("/approvals/delegations/").content.decode()
    assert 'data-testid="delegation-given"' in listing and "测试单据" in listing and "有效" in listing
    received = web_as(tenant_a, people["warehouse"]).get("/approvals/delegations/").content.decode()
    assert 'data-testid="delegation-received"' in received and people["finance"].full_name in received
    from crm.approvals.models import Delegation

    with in_tenant(tenant_a):
        delegation = Delegation.objects.get(from_user=people["finance"])
    assert web_as(tenant_a, people["warehouse"]).post(f"/approvals/delegations/{delegation.pk}/end",
                                                      follow=True).status_code == 200
    with in_tenant(tenant_a):
        assert Delegation.objects.get(pk=delegation.pk).active  # the delegate cannot end it
    assert web.post(f"/approvals/delegations/{delegation.pk}/end").status_code == 302
    with in_tenant(tenant_a):
        assert not Delegation.objects.get(pk=delegation.pk).active
    admin_page = web_as(tenant_a, people["admin"]).get("/approvals/delegations/").content.decode()
    assert 'name="from_user"' in admin_page  # admins set delegations for people who are away


def test_pages_speak_english(tenant_a, people, web_as, submit, in_tenant):
    from crm.org.services import user_set_language

    request = submit(people["sales"])
    with in_tenant(tenant_a):
        user_set_language(user=people["secretary"], language="en")
    web = web_as(tenant_a, people["secretary"])
    inbox = web.get("/approvals/").content.decode()
    assert "Waiting for my approval" in inbox and "待我审批" not in inbox
    detail = web.get(f"/approvals/{request.pk}/").content.decode()
    assert "Approve" in detail and "Reject" in detail


def test_the_today_page_shows_the_approvals_waiting_for_me(tenant_a, people, web_as, submit, in_tenant):
    """Item 7 of the customers issue: the "today" page lists approvals waiting (the newest
    few, the count, and a link to the inbox); nothing waits for the submitter."""
    from crm.activities.selectors import TODAY_APPROVALS

    requests = [submit(people["sales"]) for _ in range(TODAY_APPROVALS + 1)]
    page = web_as(tenant_a, people["secretary"]).get("/").content.decode()
    assert page.count('data-testid="approval-item"') == TODAY_APPROVALS
    assert f'data-testid="approvals-waiting">{len(requests)}' in page
    assert requests[-1].title in page and 'href="/approvals/"' in page
    submitter_page = web_as(tenant_a, people["sales"]).get("/").content.decode()
    assert 'data-testid="today-approvals"' not in submitter_page
    with in_tenant(tenant_a):
        for request in requests:
            services.approval_decide(actor=people["secretary"], request_id=request.pk, decision="approve")
    after = web_as(tenant_a, people["secretary"]).get("/").content.decode()
    assert 'data-testid="today-approvals"' not in after
