"""Who sees which opportunities and quotes: a salesperson their own, a regional manager
their region's (with sub-regions), executives and company-wide roles everything; another
tenant nothing (404, as if it did not exist)."""

import pytest

from crm.sales import selectors

from .factories import customer_make, opportunity_make, quote_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(people, inside):
    """One opportunity and one quote each for sales (北京, in 华北) and sales2 (上海)."""
    with inside():
        mine, theirs = customer_make(actor=people["sales"]), customer_make(actor=people["sales2"])
        return {
            "sales": (opportunity_make(actor=people["sales"], customer=mine), quote_make(actor=people["sales"], customer=mine)),
            "sales2": (opportunity_make(actor=people["sales2"], customer=theirs),
                       quote_make(actor=people["sales2"], customer=theirs)),
            "customers": (mine, theirs),
        }


@pytest.mark.parametrize(("key", "sees"), [
    ("sales", {"sales"}), ("sales2", {"sales2"}), ("manager", {"sales"}), ("exec", {"sales", "sales2"}),
    ("admin", {"sales", "sales2"}), ("secretary", {"sales", "sales2"}), ("service", set()),
])
def test_visibility_by_role(people, inside, book, key, sees):
    actor = people[key]
    with inside():
        opportunities = set(selectors.opportunity_list_visible_to(actor=actor).filter(
            pk__in=[book[k][0].pk for k in ("sales", "sales2")]).values_list("pk", flat=True))
        quotes = set(selectors.quote_list_visible_to(actor=actor).filter(
            pk__in=[book[k][1].pk for k in ("sales", "sales2")]).values_list("pk", flat=True))
    assert opportunities == {book[k][0].pk for k in sees}
    assert quotes == {book[k][1].pk for k in sees}


def test_the_customer_page_selectors_follow_the_scope(people, inside, book):
    mine, theirs = book["customers"]
    with inside():
        assert [o.pk for o in selectors.opportunities_for_customer(actor=people["sales"], customer_id=mine.pk)] == [
            book["sales"][0].pk]
        assert selectors.opportunities_for_customer(actor=people["sales"], customer_id=theirs.pk) == []
        assert [q.pk for q in selectors.quotes_for_customer(actor=people["exec"], customer_id=theirs.pk)] == [
            book["sales2"][1].pk]
        assert selectors.quotes_for_customer(actor=people["manager"], customer_id=theirs.pk) == []


def test_open_opportunities_come_first_on_the_customer_page(people, inside):
    from crm.sales import services

    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        closed = opportunity_make(actor=sales, customer=customer)
        services.opportunity_close_won(actor=sales, opportunity_id=closed.pk)
        still_open = opportunity_make(actor=sales, customer=customer)
        rows = selectors.opportunities_for_customer(actor=sales, customer_id=customer.pk)
        assert [o.pk for o in rows] == [still_open.pk, closed.pk]


def test_a_deactivated_user_sees_nothing(people, inside, book):
    sales = people["sales"]
    sales.is_active = False  # (not saved: the scope reads the flag of the user object)
    with inside():
        assert not selectors.opportunity_list_visible_to(actor=sales).exists()
        assert not selectors.quote_list_visible_to(actor=sales).exists()


def test_another_tenant_gets_404_everywhere(tenant_b, user_in, api_for, book):
    other = api_for(tenant_b, user_in(tenant_b, "admin"))
    opportunity, quote = book["sales"]
    for path in (f"/api/v1/opportunities/{opportunity.pk}/", f"/api/v1/quotes/{quote.pk}/"):
        assert other.get(path).status_code == 404, path
    assert other.patch(f"/api/v1/opportunities/{opportunity.pk}/", {"name": "x"}, format="json").status_code == 404
    for action in ("stage", "won", "lost", "reopen"):
        assert other.post(f"/api/v1/opportunities/{opportunity.pk}/{action}", {"stage": "quote", "lost_reason": "x"},
                          format="json").status_code == 404
    for action in ("send", "accept", "reject"):
        assert other.post(f"/api/v1/quotes/{quote.pk}/{action}", {}, format="json").status_code == 404
    mine = book["customers"][0]
    response = other.post("/api/v1/opportunities/", {"name": "x", "customer_id": mine.pk,
                                                     "expected_close_date": "2031-01-01"}, format="json")
    assert response.status_code == 404 and response.json()["field"] == "customer_id"
    assert [r["id"] for r in other.get("/api/v1/opportunities/").json()["results"]] == []
    assert [r["id"] for r in other.get("/api/v1/quotes/").json()["results"]] == []


@pytest.mark.parametrize("sort", ["-updated_at", "updated_at", "expected_close_date", "-expected_close_date",
                                  "-amount", "amount", "-created_at"])
def test_keyset_pages_of_the_web_list_walk_every_row_once(people, inside, sort):
    import datetime

    from crm.sales.enums import OPPORTUNITY_SORTS

    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        made = [opportunity_make(actor=sales, customer=customer, amount=("500.00", "100.00", "500.00", "300.00", "100.00")[i],
                                 expected_close_date=datetime.date(2031, 1, 1 + i % 2)) for i in range(5)]
        qs = selectors.opportunity_list_visible_to(actor=sales).filter(customer=customer)
        seen, after = [], None
        for _ in range(10):
            page = selectors.keyset_page(qs, ordering=OPPORTUNITY_SORTS[sort], after=after, limit=2)
            seen += [o.pk for o in page.rows]
            after = page.next_after
            if not after:
                break
        assert seen == [o.pk for o in qs.order_by(*OPPORTUNITY_SORTS[sort])]
        assert sorted(seen) == sorted(o.pk for o in made)
        # a malformed position starts again at the top
        assert [o.pk for o in selectors.keyset_page(qs, ordering=OPPORTUNITY_SORTS[sort], after="%%%", limit=2).rows] == seen[:2]
