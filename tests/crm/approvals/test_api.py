"""The approvals API: inbox, detail, approve / reject / recall, submissions, waiting count,
policies (admins edit, 412 on a stale version), delegations; tenant isolation and people
not on the step."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.approvals import services
from crm.approvals.models import ApprovalPolicy, ApprovalRequest

from .factories import DOC, role_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(tenant_a, in_tenant, docs):
    def _submit(actor, **facts):
        with in_tenant(tenant_a):
            return services.approval_submit(actor=actor, doc_type=DOC, object_id=docs.new(**facts))
    return _submit


def status_of(tenant, in_tenant, request) -> str:
    with in_tenant(tenant):
        return ApprovalRequest.objects.get(pk=request.pk).status


def test_inbox_detail_and_approve(tenant_a, people, api_for, submit, docs, in_tenant):
    request = submit(people["sales"], amount="120000.00")
    api = api_for(tenant_a, people["secretary"])
    inbox = api.get("/api/v1/approvals/inbox")
    assert inbox.status_code == 200
    body = inbox.json()
    assert body["next_cursor"] is None and len(body["results"]) == 1
    item = body["results"][0]
    assert item["step"] == 1 and item["step_name"] == "商务秘书审核" and item["on_behalf_of"] is None
    assert item["request"]["id"] == request.pk and item["request"]["amount"] == "120000.00"
    assert item["request"]["submitter"]["full_name"] == people["sales"].full_name
    assert item["request"]["document_url"] == f"/testdocs/{request.object_id}/"
    detail = api.get(f"/api/v1/approvals/{request.pk}/").json()
    assert detail["can_approve"] and detail["can_reject"] and not detail["can_recall"]
    assert [s["status"] for s in detail["steps"]] == ["active", "waiting", "skipped"]
    assert [c["applies"] for c in detail["chain"]] == [True, True, False]
    assert detail["facts"]["amount"] == "120000.00" and detail["steps"][0]["assignments"][0]["status"] == "pending"
    approved = api.post(f"/api/v1/approvals/{request.pk}/approve", {"comment": "同意", "step": 1}, format="json")
    assert approved.status_code == 200, approved.json()
    data = approved.json()
    assert data["current_position"] == 2 and not data["can_approve"] and data["version"] == 2
    assert data["steps"][0]["assignments"][0]["decided_by"]["id"] == people["secretary"].pk
    # the same click again: the current state, nothing new
    again = api.post(f"/api/v1/approvals/{request.pk}/approve", {"comment": "同意", "step": 1}, format="json")
    assert again.status_code == 200 and again.json()["version"] == 2
    final = api_for(tenant_a, people["finance"]).post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json")
    assert final.status_code == 200 and final.json()["status"] == "approved"
    assert docs.calls_of("approved") == [("approved", request.object_id, people["finance"].pk)]
    assert api.get("/api/v1/approvals/inbox").json()["results"] == []


def test_reject_needs_a_comment(tenant_a, people, api_for, submit, docs, in_tenant):
    request = submit(people["sales"])
    api = api_for(tenant_a, people["secretary"])
    missing = api.post(f"/api/v1/approvals/{request.pk}/reject", {}, format="json")
    assert missing.status_code == 400 and "comment" in missing.json()
    blank = api.post(f"/api/v1/approvals/{request.pk}/reject", {"comment": "   "}, format="json")
    assert blank.status_code == 400 and "comment" in blank.json()
    assert status_of(tenant_a, in_tenant, request) == "pending"
    rejected = api.post(f"/api/v1/approvals/{request.pk}/reject", {"comment": "客户信息不全"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["steps"][0]["assignments"][0]["comment"] == "客户信息不全"
    late = api_for(tenant_a, people["secretary"]).post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "approval_closed"


def test_recall_by_the_submitter_only_and_before_the_first_decision(tenant_a, people, api_for, submit, in_tenant):
    request = submit(people["sales"])
    assert api_for(tenant_a, people["secretary"]).post(f"/api/v1/approvals/{request.pk}/recall").status_code == 403
    assert api_for(tenant_a, people["sales2"]).post(f"/api/v1/approvals/{request.pk}/recall").status_code == 404
    mine = api_for(tenant_a, people["sales"])
    assert mine.get(f"/api/v1/approvals/{request.pk}/").json()["can_recall"] is True
    recalled = mine.post(f"/api/v1/approvals/{request.pk}/recall")
    assert recalled.status_code == 200 and recalled.json()["status"] == "recalled"
    decided = submit(people["sales"], amount="200000")
    api_for(tenant_a, people["secretary"]).post(f"/api/v1/approvals/{decided.pk}/approve", {}, format="json")
    assert mine.get(f"/api/v1/approvals/{decided.pk}/").json()["can_recall"] is False
    too_late = mine.post(f"/api/v1/approvals/{decided.pk}/recall")
    assert too_late.status_code == 409 and too_late.json()["code"] == "already_decided"
    assert status_of(tenant_a, in_tenant, decided) == "pending"


def test_people_not_on_the_step_get_403_or_404_and_nothing_changes(tenant_a, people, api_for, submit, in_tenant):
    request = submit(people["sales"])
    # the executive sees the request (company-wide scope) but is not an approver of the step
    exec_api = api_for(tenant_a, people["exec"])
    assert exec_api.get(f"/api/v1/approvals/{request.pk}/").json()["can_approve"] is False
    refused = exec_api.post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json")
    assert refused.status_code == 403 and "审批人" in refused.json()["detail"]
    # the submitter may see but never approve
    own = api_for(tenant_a, people["sales"]).post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json")
    assert own.status_code == 403
    # a colleague who cannot even see it: 404, as for an id that does not exist
    hidden = api_for(tenant_a, people["sales2"])
    assert hidden.get(f"/api/v1/approvals/{request.pk}/").status_code == 404
    assert hidden.post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json").status_code == 404
    assert hidden.post("/api/v1/approvals/999999999/approve", {}, format="json").status_code == 404
    stale = api_for(tenant_a, people["secretary"]).post(f"/api/v1/approvals/{request.pk}/approve", {"step": 2},
                                                        format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "step_not_active"
    with in_tenant(tenant_a):
        request.refresh_from_db()
    assert request.status == "pending" and request.version == 1


def test_other_tenants_see_nothing(tenant_a, tenant_b, people, user_in, api_for, submit, in_tenant):
    request = submit(people["sales"])
    beta_admin = user_in(tenant_b, "admin")
    beta = api_for(tenant_b, beta_admin)
    assert beta.get(f"/api/v1/approvals/{request.pk}/").status_code == 404
    assert beta.post(f"/api/v1/approvals/{request.pk}/approve", {}, format="json").status_code == 404
    assert beta.post(f"/api/v1/approvals/{request.pk}/recall").status_code == 404
    assert beta.get("/api/v1/approvals/inbox").json()["results"] == []
    # alpha's token means nothing on beta's host
    from rest_framework.test import APIClient

    from crm.org.services import token_issue
    from tests.conftest import host_of

    with in_tenant(tenant_a):
        key = token_issue(user=people["secretary"]).key
    foreign = APIClient(HTTP_HOST=host_of(tenant_b), HTTP_AUTHORIZATION=f"Token {key}")
    assert foreign.get("/api/v1/approvals/inbox").status_code == 401


def test_submissions_and_waiting_count(tenant_a, people, api_for, submit):
    first = submit(people["sales"])
    second = submit(people["sales"])
    api = api_for(tenant_a, people["sales"])
    page = api.get("/api/v1/approvals/submissions?limit=1").json()
    assert [r["id"] for r in page["results"]] == [second.pk] and page["next_cursor"] == second.pk
    rest = api.get(f"/api/v1/approvals/submissions?limit=1&cursor={page['next_cursor']}").json()
    assert [r["id"] for r in rest["results"]] == [first.pk]
    assert api.get("/api/v1/approvals/submissions?status=approved").json()["results"] == []
    assert api.get("/api/v1/approvals/submissions?status=nonsense").status_code == 400
    assert api_for(tenant_a, people["secretary"]).get("/api/v1/approvals/waiting-count").json() == {"count": 2}
    assert api.get("/api/v1/approvals/waiting-count").json() == {"count": 0}


def test_inbox_query_count_is_flat(tenant_a, people, api_for, submit, make_staff, django_assert_max_num_queries,
                                   in_tenant):
    api = api_for(tenant_a, people["secretary"])
    submit(people["sales"])
    api.get("/api/v1/approvals/inbox")  # warm caches (tenant lookup, content types)
    for _ in range(2):
        submit(people["sales2"], amount="3000")
    with django_assert_max_num_queries(8) as few:
        assert len(api.get("/api/v1/approvals/inbox").json()["results"]) == 3
    for _ in range(12):
        submit(people["manager"], amount="4000")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/v1/approvals/inbox").json()["results"]) == 15
    # with a delegation in force: the sources' ids in one UNION ALL, then the rows; still flat
    with in_tenant(tenant_a):
        services.delegation_set(actor=people["finance"], to_user_id=people["secretary"].pk,
                                ends_at=timezone.now() + datetime.timedelta(days=1))
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        assert len(api.get("/api/v1/approvals/inbox").json()["results"]) == 15


def test_policies_list_and_edit_with_version(tenant_a, people, api_for, docs, in_tenant):
    admin = api_for(tenant_a, people["admin"])
    listed = admin.get("/api/v1/approval-policies/")
    assert listed.status_code == 200
    mine = next(p for p in listed.json() if p["doc_type"] == DOC)
    assert mine["version"] == 1 and [s["role_code"] for s in mine["steps"]] == [
        "business_secretary", "finance", "finance"]
    assert mine["steps"][1]["min_amount"] == "100000.00" and mine["steps"][2]["credit_over_limit"] is True
    steps = mine["steps"]
    steps[1]["min_amount"] = "50000.00"  # the tenant sets its own threshold
    saved = admin.put(f"/api/v1/approval-policies/{DOC}", {"steps": steps, "version": 1}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["version"] == 2 and saved.json()["steps"][1]["min_amount"] == "50000.00"
    stale = admin.put(f"/api/v1/approval-policies/{DOC}", {"steps": steps, "version": 1}, format="json")
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    stale_header = admin.put(f"/api/v1/approval-policies/{DOC}", {"steps": steps}, format="json", HTTP_IF_MATCH='"1"')
    assert stale_header.status_code == 412
    by_post = admin.post(f"/api/v1/approval-policies/{DOC}", {"steps": [role_step("finance", "只需财务")]},
                         format="json", HTTP_IF_MATCH='W/"2"')
    assert by_post.status_code == 200 and by_post.json()["version"] == 3
    invalid = admin.put(f"/api/v1/approval-policies/{DOC}", {"steps": [role_step("ghost")]}, format="json")
    assert invalid.status_code == 400 and "ghost" in str(invalid.json()["steps"])
    empty = admin.put(f"/api/v1/approval-policies/{DOC}", {"steps": []}, format="json")
    assert empty.status_code == 400
    refused = api_for(tenant_a, people["secretary"]).put(f"/api/v1/approval-policies/{DOC}", {"steps": steps},
                                                         format="json")
    assert refused.status_code == 403
    assert api_for(tenant_a, people["sales"]).get(f"/api/v1/approval-policies/{DOC}").json()["version"] == 3
    assert admin.get("/api/v1/approval-policies/nosuchtype").status_code == 404
    with in_tenant(tenant_a):
        assert ApprovalPolicy.objects.get(doc_type=DOC).steps.count() == 1


def test_delegations_api(tenant_a, people, api_for, submit, in_tenant):
    api = api_for(tenant_a, people["secretary"])
    ends = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    created = api.post("/api/v1/delegations/", {"to_user_id": people["service"].pk, "ends_at": ends,
                                                "reason": "出差"}, format="json")
    assert created.status_code == 201, created.json()
    delegation = created.json()
    assert delegation["in_force"] and delegation["to_user"]["id"] == people["service"].pk
    assert api.get("/api/v1/delegations/").json()["given"][0]["id"] == delegation["id"]
    delegate = api_for(tenant_a, people["service"])
    assert delegate.get("/api/v1/delegations/").json()["received"][0]["id"] == delegation["id"]
    request = submit(people["sales"])
    inbox = delegate.get("/api/v1/approvals/inbox").json()["results"]
    assert inbox[0]["on_behalf_of"]["id"] == people["secretary"].pk
    assert delegate.get(f"/api/v1/approvals/{request.pk}/").json()["acting_for"]["id"] == people["secretary"].pk
    done = delegate.post(f"/api/v1/approvals/{request.pk}/approve", {"comment": "代批"}, format="json")
    assert done.status_code == 200
    assignment = done.json()["steps"][0]["assignments"][0]
    assert assignment["on_behalf"] and assignment["decided_by"]["id"] == people["service"].pk
    assert assignment["approver"]["id"] == people["secretary"].pk
    bad = api.post("/api/v1/delegations/", {"to_user_id": people["secretary"].pk, "ends_at": ends}, format="json")
    assert bad.status_code == 400 and "to_user" in bad.json()
    others = api_for(tenant_a, people["sales"]).post("/api/v1/delegations/", {
        "to_user_id": people["sales2"].pk, "from_user_id": people["finance"].pk, "ends_at": ends}, format="json")
    assert others.status_code == 403
    assert delegate.post(f"/api/v1/delegations/{delegation['id']}/end").status_code == 403
    assert api_for(tenant_a, people["sales"]).post(f"/api/v1/delegations/{delegation['id']}/end").status_code == 404
    ended = api.post(f"/api/v1/delegations/{delegation['id']}/end")
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert delegate.get("/api/v1/approvals/inbox").json()["results"] == []


def test_schema_documents_the_approval_endpoints(tenant_a, people, api_for):
    schema = api_for(tenant_a, people["admin"]).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/approvals/inbox", "/api/v1/approvals/{request_id}/approve",
                 "/api/v1/approval-policies/{doc_type}", "/api/v1/delegations/"):
        assert path in paths
