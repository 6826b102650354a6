"""Quotes through the approval engine (document type "quote"): the default policy (a
regional manager approves a discount of 10% or more), sending once approved, rejection and
recall back to draft, reopening an approved quote, the policy the tenant admin edits, the
API and the quote page."""

from decimal import Decimal as D

import pytest

from crm.approvals import services as approvals
from crm.approvals.models import ApprovalRequest
from crm.sales import services
from crm.sales.models import Quote

from .factories import customer_make, quote_make

pytestmark = pytest.mark.django_db


def make(sales, catalog, discount="0"):
    return quote_make(actor=sales, customer=customer_make(actor=sales),
                      lines=[{"product_id": catalog["battery"].pk, "quantity": 2, "discount_percent": discount},
                             {"product_id": catalog["g970"].pk, "quantity": 1}])


def request_of(quote) -> ApprovalRequest:
    return ApprovalRequest.objects.filter(doc_type="quote", object_id=quote.pk).latest("id")


def test_a_small_discount_is_approved_and_sent_at_once(people, inside, catalog):
    sales = people["sales"]
    with inside():
        quote = make(sales, catalog, discount="5")
        sent = services.quote_send(actor=sales, quote_id=quote.pk)
        assert sent.status == "sent" and sent.approved_at and sent.sent_at and not sent.approval_submitted_at
        request = request_of(quote)
        assert request.status == "approved" and request.facts["discount_pct"] == "5.00"
        assert [s.status for s in request.steps.all()] == ["skipped"]  # the discount step did not apply


def test_a_large_discount_waits_for_the_regional_manager_then_is_sent(people, inside, catalog):
    sales, manager = people["sales"], people["manager"]
    with inside():
        quote = make(sales, catalog, discount="12.5")
        waiting = services.quote_send(actor=sales, quote_id=quote.pk)
        assert waiting.status == "in_approval" and waiting.approval_submitted_at and not waiting.sent_at
        assert services.quote_send(actor=sales, quote_id=quote.pk).version == waiting.version  # a repeat click
        with pytest.raises(services.TransitionRefused) as excinfo:  # nobody edits it meanwhile
            services.quote_update(actor=sales, quote_id=quote.pk, data={"notes": "改"})
        assert excinfo.value.code == "not_editable"
        request = request_of(quote)
        assert request.status == "pending" and request.title.startswith("报价单 " + quote.number)
        assert manager.pk in request.steps.get(position=1).approver_ids
        assert sales.pk not in request.steps.get(position=1).approver_ids  # never one's own
        approvals.approval_approve(actor=manager, request_id=request.pk, comment="同意")
        approved = Quote.objects.get(pk=quote.pk)
        assert approved.status == "approved" and approved.approved_at and not approved.sent_at
        sent = services.quote_send(actor=sales, quote_id=quote.pk)
        assert sent.status == "sent" and sent.sent_at


def test_rejection_returns_the_quote_to_draft_with_the_comment(people, inside, catalog):
    sales, manager = people["sales"], people["manager"]
    with inside():
        quote = make(sales, catalog, discount="20")
        services.quote_send(actor=sales, quote_id=quote.pk)
        approvals.approval_reject(actor=manager, request_id=request_of(quote).pk, comment="折扣太大，最多 10%")
        back = Quote.objects.get(pk=quote.pk)
        assert back.status == "draft" and back.approval_note == "折扣太大，最多 10%"
        # edited and sent again: a new request, approved at once this time
        services.quote_update(actor=sales, quote_id=quote.pk, data={}, lines=[
            {"product_id": catalog["battery"].pk, "quantity": 2, "discount_percent": "8"}])
        sent = services.quote_send(actor=sales, quote_id=quote.pk)
        assert sent.status == "sent" and sent.approval_note == ""
        assert ApprovalRequest.objects.filter(doc_type="quote", object_id=quote.pk).count() == 2


def test_the_submitter_recalls_before_anyone_decided(people, inside, catalog):
    sales, sales2, manager = people["sales"], people["sales2"], people["manager"]
    with inside():
        quote = make(sales, catalog, discount="15")
        services.quote_send(actor=sales, quote_id=quote.pk)
        with pytest.raises(services.NotInScope):  # a colleague does not even see it
            services.quote_recall(actor=sales2, quote_id=quote.pk)
        recalled = services.quote_recall(actor=sales, quote_id=quote.pk)
        assert recalled.status == "draft" and request_of(quote).status == "recalled"
        assert services.quote_recall(actor=sales, quote_id=quote.pk).status == "draft"  # again: nothing
        # after a decision it can no longer be recalled
        services.quote_send(actor=sales, quote_id=quote.pk)
        approvals.approval_approve(actor=manager, request_id=request_of(quote).pk)
        with pytest.raises(services.TransitionRefused):
            services.quote_recall(actor=sales, quote_id=quote.pk)
        assert Quote.objects.get(pk=quote.pk).status == "approved"


def test_an_approved_quote_reopened_needs_approval_again(people, inside, catalog):
    sales, manager = people["sales"], people["manager"]
    with inside():
        quote = make(sales, catalog, discount="15")
        services.quote_send(actor=sales, quote_id=quote.pk)
        approvals.approval_approve(actor=manager, request_id=request_of(quote).pk)
        reopened = services.quote_reopen(actor=sales, quote_id=quote.pk)
        assert reopened.status == "draft"
        assert services.quote_send(actor=sales, quote_id=quote.pk).status == "in_approval"
        with pytest.raises(services.TransitionRefused):  # only an approved quote is reopened
            services.quote_reopen(actor=sales, quote_id=quote.pk)


def test_the_tenant_admin_edits_the_quote_policy(people, inside, catalog):
    """Every quote over 50,000.00 needs the business secretary; the discount step removed."""
    sales, secretary = people["sales"], people["secretary"]
    with inside():
        approvals.approval_policy_save(actor=people["admin"], doc_type="quote", steps=[
            {"name_zh": "大额报价审批", "approver_kind": "role", "role_code": "business_secretary",
             "min_amount": "50000.00"}])
        big = quote_make(actor=sales, customer=customer_make(actor=sales),
                         lines=[{"product_id": catalog["g970"].pk, "quantity": 100, "discount_percent": "30"}])
        assert big.total >= D("50000")
        assert services.quote_send(actor=sales, quote_id=big.pk).status == "in_approval"
        assert secretary.pk in request_of(big).steps.get(position=1).approver_ids
        small = make(sales, catalog, discount="30")
        assert small.total < D("50000")
        assert services.quote_send(actor=sales, quote_id=small.pk).status == "sent"


def test_api_send_recall_reopen_and_refusals(people, inside, catalog, api):
    sales = people["sales"]
    with inside():
        quote = make(sales, catalog, discount="18")
    client = api("sales")
    sent = client.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json")
    assert sent.status_code == 200 and sent.json()["status"] == "in_approval"
    assert sent.json()["approval_submitted_at"]
    assert client.post(f"/api/v1/quotes/{quote.pk}/reopen", {}, format="json").status_code == 409
    recalled = client.post(f"/api/v1/quotes/{quote.pk}/recall")
    assert recalled.status_code == 200 and recalled.json()["status"] == "draft"
    assert recalled.json()["approval_note"] == "提交人已撤回审批"
    assert api("sales2").post(f"/api/v1/quotes/{quote.pk}/recall").status_code == 404
    # the manager approves through the approvals API, then the salesperson sends it
    assert client.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json").json()["status"] == "in_approval"
    with inside():
        request_id = request_of(quote).pk
    inbox = api("manager").get("/api/v1/approvals/inbox").json()
    assert request_id in [row["request"]["id"] for row in inbox["results"]]
    decided = api("manager").post(f"/api/v1/approvals/{request_id}/approve", {"comment": "可以"}, format="json")
    assert decided.status_code == 200
    final = client.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json")
    assert final.status_code == 200 and final.json()["status"] == "sent"


def test_the_quote_page_shows_the_approval_and_its_actions(people, inside, catalog, browser):
    sales = people["sales"]
    with inside():
        quote = make(sales, catalog, discount="25")
    page = browser("sales")
    response = page.post(f"/sales/quotes/{quote.pk}/send/", follow=True)
    html = response.content.decode()
    assert response.status_code == 200 and "审批中" in html
    assert 'data-testid="quote-approval"' in html and 'data-testid="quote-recall"' in html
    assert 'data-testid="quote-send"' not in html
    # the manager sees the link, not the recall (not theirs)
    manager_html = browser("manager").get(f"/sales/quotes/{quote.pk}/").content.decode()
    assert 'data-testid="quote-approval"' in manager_html and 'data-testid="quote-recall"' not in manager_html
    recalled = page.post(f"/sales/quotes/{quote.pk}/recall/", follow=True).content.decode()
    assert "提交人已撤回审批" in recalled and 'data-testid="quote-send"' in recalled
