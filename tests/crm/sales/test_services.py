"""The sales services: validation, defaults, stage moves and their refusals, quote lines,
prices, totals, the quote lifecycle, audit rows and versions."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from crm.audit.models import AuditEntry
from crm.sales import services
from crm.sales.enums import OpportunityStatus, QuoteStatus
from crm.sales.models import Opportunity, OpportunityStageChange, Quote, QuoteLine

from .factories import (
    contact_make,
    customer_make,
    opportunity_make,
    quote_make,
    today,
)

pytestmark = pytest.mark.django_db


def audit_actions(instance) -> list[str]:
    return list(AuditEntry.objects.filter(content_type__app_label="sales", content_type__model=type(instance)._meta.model_name,
                                          object_id=str(instance.pk)).order_by("id").values_list("action", flat=True))


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# -- opportunities: create ------------------------------------------------------------------------------------
def test_create_takes_defaults_from_the_pipeline_the_actor_and_the_customer(people, inside):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        opportunity = opportunity_make(actor=sales, customer=customer)
        assert opportunity.pipeline == "standard"
        assert (opportunity.stage, opportunity.status, opportunity.probability) == ("qualify", "open", 10)
        assert opportunity.owner == sales and opportunity.created_by == sales
        assert (opportunity.region_id, opportunity.department_id) == (customer.region_id, customer.department_id)
        assert opportunity.currency == "CNY" and opportunity.version == 1
        history = list(OpportunityStageChange.objects.filter(opportunity=opportunity))
        assert [(h.from_stage, h.to_stage, h.probability, h.actor_id) for h in history] == [("", "qualify", 10, sales.pk)]
        assert audit_actions(opportunity) == ["create"]


def test_create_with_stage_probability_override_and_contact(people, inside):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        contact = contact_make(actor=sales, customer=customer)
        opportunity = opportunity_make(actor=sales, customer=customer, stage="negotiate", probability=55,
                                       contact_id=contact.pk, currency="usd", amount="12.50")
        assert (opportunity.stage, opportunity.probability, opportunity.contact, opportunity.currency) == (
            "negotiate", 55, contact, "USD")
        assert opportunity.weighted_amount() == D("6.88")  # 12.50 × 55% = 6.875 -> 6.88


@pytest.mark.parametrize(("data", "field"), [
    ({"name": " "}, "name"),
    ({"stage": "nonsense"}, "stage"),
    ({"amount": "-1"}, "amount"),
    ({"amount": "1.234"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "1000000000000"}, "amount"),
    ({"probability": 101}, "probability"),
    ({"probability": "x"}, "probability"),
    ({"expected_close_date": "2026-13-01"}, "expected_close_date"),
    ({"expected_close_date": None}, "expected_close_date"),
    ({"currency": "RMB1"}, "currency"),
    ({"pipeline": "nope"}, "pipeline"),
    ({"stage": "lost"}, "lost_reason"),
    ({"customer_id": None}, "customer_id"),
    ({"owner_id": 99999999}, "owner_id"),
    ({"name": "x" * 201}, "name"),
])
def test_create_refuses_bad_input_naming_the_field(people, inside, data, field):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        with pytest.raises(ValidationError) as excinfo:
            opportunity_make(actor=sales, customer=customer, **data)
        assert field in errors_of(excinfo)
        assert not Opportunity.objects.filter(customer=customer).exists()


def test_create_for_a_customer_or_contact_outside_the_scope_is_not_found(people, inside):
    sales, sales2 = people["sales"], people["sales2"]
    with inside():
        theirs = customer_make(actor=sales2)
        mine = customer_make(actor=sales)
        with pytest.raises(services.NotInScope) as excinfo:
            opportunity_make(actor=sales, customer=theirs)
        assert excinfo.value.field == "customer_id"
        their_contact = contact_make(actor=sales2, customer=theirs)
        with pytest.raises(services.NotInScope):
            opportunity_make(actor=sales, customer=mine, contact_id=their_contact.pk)
        other_contact = contact_make(actor=sales, customer=customer_make(actor=sales))
        with pytest.raises(ValidationError) as excinfo:
            opportunity_make(actor=sales, customer=mine, contact_id=other_contact.pk)
        assert "contact_id" in errors_of(excinfo)
        assert not Opportunity.objects.filter(customer__in=[theirs, mine]).exists()


def test_a_manager_may_name_an_owner_within_scope_a_salesperson_may_not(people, inside):
    manager, sales, sales2 = people["manager"], people["sales"], people["sales2"]
    with inside():
        customer = customer_make(actor=sales)
        opportunity = opportunity_make(actor=manager, customer=customer, owner_id=sales.pk)
        assert opportunity.owner == sales
        with pytest.raises(ValidationError) as excinfo:  # 上海 is outside the manager's 华北
            opportunity_make(actor=manager, customer=customer, owner_id=sales2.pk)
        assert "owner_id" in errors_of(excinfo)
        with pytest.raises(ValidationError):
            opportunity_make(actor=sales, customer=customer, owner_id=sales2.pk)


# -- opportunities: update and stages ---------------------------------------------------------------------------
def test_update_changes_details_bumps_the_version_and_audits(people, inside):
    sales = people["sales"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        updated = services.opportunity_update(actor=sales, opportunity_id=opportunity.pk, version=1,
                                              data={"amount": "250000.00", "next_step": "演示", "probability": 25})
        assert (updated.amount, updated.next_step, updated.probability, updated.version) == (
            D("250000.00"), "演示", 25, 2)
        entry = AuditEntry.objects.filter(object_id=str(opportunity.pk), action="update",
                                          content_type__model="opportunity").get()
        assert entry.changes["amount"] == {"old": "100000.00", "new": "250000.00"}
        # nothing changed: no new version, no audit row
        services.opportunity_update(actor=sales, opportunity_id=opportunity.pk, data={"next_step": "演示"})
        assert Opportunity.objects.get(pk=opportunity.pk).version == 2
        assert audit_actions(opportunity) == ["create", "update"]


def test_a_stale_version_is_refused_and_changes_nothing(people, inside):
    sales = people["sales"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        services.opportunity_update(actor=sales, opportunity_id=opportunity.pk, data={"name": "A"}, version=1)
        with pytest.raises(services.StaleVersion) as excinfo:
            services.opportunity_update(actor=sales, opportunity_id=opportunity.pk, data={"name": "B"}, version=1)
        assert excinfo.value.current == 2
        with pytest.raises(services.StaleVersion):
            services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="quote", version=1)
        fresh = Opportunity.objects.get(pk=opportunity.pk)
        assert (fresh.name, fresh.stage) == ("A", "qualify")


def test_update_refuses_customer_and_stage_changes(people, inside):
    sales = people["sales"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        for data, field in (({"customer_id": 1}, "customer_id"), ({"stage": "quote"}, "stage")):
            with pytest.raises(ValidationError) as excinfo:
                services.opportunity_update(actor=sales, opportunity_id=opportunity.pk, data=data)
            assert field in errors_of(excinfo)


def test_stage_moves_record_history_and_probabilities(people, inside):
    sales = people["sales"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        moved = services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="quote")
        assert (moved.stage, moved.probability, moved.version) == ("quote", 40, 2)
        moved = services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="negotiate",
                                                probability=65, note="客户已确认预算")
        assert (moved.stage, moved.probability) == ("negotiate", 65)
        again = services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="negotiate")
        assert again.version == moved.version  # the same stage again: nothing
        history = list(OpportunityStageChange.objects.filter(opportunity=opportunity).order_by("id")
                       .values_list("from_stage", "to_stage", "probability", "note"))
        assert history == [("", "qualify", 10, ""), ("qualify", "quote", 40, ""),
                           ("quote", "negotiate", 65, "客户已确认预算")]
        assert audit_actions(opportunity) == ["create", "stage", "stage"]


def test_won_lost_and_reopen(people, inside):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        opportunity = opportunity_make(actor=sales, customer=customer, stage="negotiate")
        won = services.opportunity_close_won(actor=sales, opportunity_id=opportunity.pk)
        assert (won.status, won.stage, won.probability) == ("won", "won", 100) and won.won_at and not won.lost_at
        assert services.opportunity_close_won(actor=sales, opportunity_id=opportunity.pk).version == won.version

        with pytest.raises(services.TransitionRefused) as excinfo:
            services.opportunity_close_lost(actor=sales, opportunity_id=opportunity.pk, lost_reason="价格")
        assert (excinfo.value.current, excinfo.value.wanted) == ("won", "lost")
        with pytest.raises(services.TransitionRefused):
            services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="lost",
                                            lost_reason="价格")

        reopened = services.opportunity_reopen(actor=sales, opportunity_id=opportunity.pk)
        assert (reopened.status, reopened.stage, reopened.probability) == ("open", "negotiate", 70)
        assert reopened.won_at is None

        with pytest.raises(ValidationError) as excinfo:
            services.opportunity_close_lost(actor=sales, opportunity_id=opportunity.pk, lost_reason="  ")
        assert "lost_reason" in errors_of(excinfo)
        lost = services.opportunity_close_lost(actor=sales, opportunity_id=opportunity.pk, lost_reason="客户预算取消")
        assert (lost.status, lost.stage, lost.probability, lost.lost_reason) == ("lost", "lost", 0, "客户预算取消")
        reopened = services.opportunity_reopen(actor=sales, opportunity_id=opportunity.pk, stage="quote")
        assert (reopened.stage, reopened.lost_reason, reopened.lost_at) == ("quote", "", None)
        services.opportunity_close_won(actor=sales, opportunity_id=opportunity.pk)
        with pytest.raises(ValidationError) as excinfo:  # reopening needs an open stage
            services.opportunity_reopen(actor=sales, opportunity_id=opportunity.pk, stage="won")
        assert "stage" in errors_of(excinfo)
        assert audit_actions(opportunity) == ["create", "won", "reopen", "lost", "reopen", "won"]
        stages = list(OpportunityStageChange.objects.filter(opportunity=opportunity).order_by("id")
                      .values_list("to_stage", flat=True))
        assert stages == ["negotiate", "won", "negotiate", "lost", "quote", "won"]


def test_moving_to_the_lost_stage_needs_a_reason(people, inside):
    sales = people["sales"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        with pytest.raises(ValidationError) as excinfo:
            services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="lost")
        assert "lost_reason" in errors_of(excinfo)
        moved = services.opportunity_move_stage(actor=sales, opportunity_id=opportunity.pk, stage="lost",
                                                lost_reason="竞品")
        assert moved.status == OpportunityStatus.LOST


def test_someone_outside_the_scope_cannot_touch_it(people, inside):
    sales, sales2 = people["sales"], people["sales2"]
    with inside():
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        for call in (lambda: services.opportunity_update(actor=sales2, opportunity_id=opportunity.pk, data={"name": "x"}),
                     lambda: services.opportunity_move_stage(actor=sales2, opportunity_id=opportunity.pk, stage="quote"),
                     lambda: services.opportunity_close_won(actor=sales2, opportunity_id=opportunity.pk)):
            with pytest.raises(services.NotInScope):
                call()
        assert Opportunity.objects.get(pk=opportunity.pk).version == 1


def test_project_pipeline_in_the_project_tenant(tenant_b, in_tenant, user_in):
    sales = user_in(tenant_b, "sales")
    with in_tenant(tenant_b):
        opportunity = opportunity_make(actor=sales, customer=customer_make(actor=sales))
        assert (opportunity.pipeline, opportunity.stage, opportunity.probability) == ("project", "register", 5)
        won = services.opportunity_close_won(actor=sales, opportunity_id=opportunity.pk)
        assert (won.stage, won.status) == ("contract", "won")


# -- quotes: lines, prices, totals ---------------------------------------------------------------------------
def test_quote_lines_take_catalog_prices_for_the_customers_level_and_totals_are_stored(people, inside, catalog):
    sales = people["sales"]
    with inside():
        vip = customer_make(actor=sales, level="A")
        plain = customer_make(actor=sales)
        lines = [{"product_id": catalog["g970"].pk, "quantity": "2", "discount_percent": "5"},
                 {"product_id": catalog["battery"].pk, "quantity": "12"},
                 {"product_id": catalog["service"].pk, "quantity": "1", "unit_price": "750.00",
                  "description": "现场校准"}]
        quote = quote_make(actor=sales, customer=vip, lines=lines)
        rows = list(QuoteLine.objects.filter(quote=quote).order_by("position"))
        assert [(r.position, r.unit_price, r.net_amount, r.tax_amount, r.gross_amount) for r in rows] == [
            (1, D("36616.00"), D("69570.40"), D("9044.15"), D("78614.55")),  # 2 × 36616 × 95%; 13% = 9044.152
            (2, D("330.00"), D("3960.00"), D("514.80"), D("4474.80")),  # the volume break at 10
            (3, D("750.00"), D("750.00"), D("45.00"), D("795.00")),  # 6% tax
        ]
        assert rows[0].description == "G970 接收机 北斗三号" and rows[2].description == "现场校准"
        assert "价格表" in rows[0].price_source and rows[2].price_source == "手工填写"
        assert rows[1].unit == "块" and rows[2].tax_rate == D("0.0600")
        assert (quote.net_total, quote.tax_total, quote.total) == (D("74280.40"), D("9603.95"), D("83884.35"))
        assert quote.price_level == "A" and quote.status == QuoteStatus.DRAFT

        standard = quote_make(actor=sales, customer=plain, lines=[{"product_id": catalog["g970"].pk, "quantity": 1}])
        assert standard.lines.get().unit_price == D("39800.00")  # no level: the list price


def test_quote_numbers_follow_the_years_sequence(people, inside):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        first = quote_make(actor=sales, customer=customer)
        second = quote_make(actor=sales, customer=customer)
        year = today().year
        assert first.number.startswith(f"Q{year}-") and len(first.number) == len(f"Q{year}-000001")
        assert int(second.number[-6:]) == int(first.number[-6:]) + 1


@pytest.mark.parametrize(("line", "field", "text"), [
    ({"quantity": "0"}, "quantity", "数量必须大于 0"),
    ({"quantity": "-1"}, "quantity", "数量"),
    ({"quantity": "1.2345"}, "quantity", "最多保留 3 位小数"),
    ({"unit_price": "10.001"}, "unit_price", "单价最多保留 2 位小数"),
    ({"unit_price": "-5"}, "unit_price", "单价不能为负数"),
    ({"discount_percent": "100.5"}, "discount_percent", "折扣"),
    ({"discount_percent": "1.005"}, "discount_percent", "最多保留 2 位小数"),
    ({"product_id": None}, "product_id", "请选择产品"),
    ({"product_id": 99999999}, "product_id", "不存在"),
])
def test_bad_lines_are_refused_naming_the_line(people, inside, catalog, line, field, text):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        good = {"product_id": catalog["battery"].pk, "quantity": "1"}
        bad = {**good, **line}
        before = Quote.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer, lines=[good, bad])
        errors = errors_of(excinfo)
        assert list(errors) == [f"lines[1].{field}"]
        assert errors[f"lines[1].{field}"][0].startswith("第 2 行：") and text in errors[f"lines[1].{field}"][0]
        assert Quote.objects.count() == before


def test_an_inactive_product_is_refused_by_name(people, inside, catalog):
    sales = people["sales"]
    with inside():
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer_make(actor=sales),
                       lines=[{"product_id": catalog["retired"].pk, "quantity": 1}])
        message = errors_of(excinfo)["lines[0].product_id"][0]
        assert "第 1 行" in message and "停售产品" in message and catalog["retired"].sku in message


@pytest.mark.parametrize(("data", "field"), [
    ({"valid_until": None}, "valid_until"),
    ({"valid_until": "yesterday"}, "valid_until"),
    ({"currency": "X"}, "currency"),
])
def test_bad_quote_headers(people, inside, data, field):
    sales = people["sales"]
    with inside():
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer_make(actor=sales), **data)
        assert field in errors_of(excinfo)


def test_validity_must_not_end_before_today(people, inside):
    sales = people["sales"]
    with inside():
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer_make(actor=sales),
                       valid_until=today() - datetime.timedelta(days=1))
        assert "今天" in errors_of(excinfo)["valid_until"][0]
        assert quote_make(actor=sales, customer=customer_make(actor=sales), valid_until=today()).valid_until == today()


def test_a_quote_takes_the_customer_and_currency_of_its_opportunity(people, inside):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        opportunity = opportunity_make(actor=sales, customer=customer, currency="USD")
        quote = services.quote_create(actor=sales, data={"opportunity_id": opportunity.pk,
                                                          "valid_until": today()})
        assert (quote.customer, quote.opportunity, quote.currency) == (customer, opportunity, "USD")
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer_make(actor=sales), opportunity_id=opportunity.pk)
        assert "opportunity_id" in errors_of(excinfo)
        with pytest.raises(services.NotInScope):
            quote_make(actor=people["sales2"], customer=customer_make(actor=people["sales2"]),
                       opportunity_id=opportunity.pk)


def test_a_price_in_another_currency_must_be_given(people, inside, catalog):
    sales = people["sales"]
    with inside():
        with pytest.raises(ValidationError) as excinfo:
            quote_make(actor=sales, customer=customer_make(actor=sales), currency="USD",
                       lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        assert "CNY" in errors_of(excinfo)["lines[0].unit_price"][0]
        quote = quote_make(actor=sales, customer=customer_make(actor=sales), currency="USD",
                           lines=[{"product_id": catalog["battery"].pk, "quantity": 1, "unit_price": "50"}])
        assert quote.total == D("56.50")


# -- quotes: edits and the lifecycle --------------------------------------------------------------------------
def test_drafts_are_edited_with_lines_replaced_and_audited(people, inside, catalog):
    sales = people["sales"]
    with inside():
        quote = quote_make(actor=sales, customer=customer_make(actor=sales),
                           lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        updated = services.quote_update(actor=sales, quote_id=quote.pk, version=1, data={"notes": "含运费"},
                                        lines=[{"product_id": catalog["g970"].pk, "quantity": 1, "unit_price": "100"},
                                               {"product_id": catalog["service"].pk, "quantity": 2}])
        assert updated.version == 2 and updated.notes == "含运费"
        assert list(updated.lines.order_by("position").values_list("sku", flat=True)) == [
            catalog["g970"].sku, catalog["service"].sku]
        assert (updated.net_total, updated.tax_total, updated.total) == (D("1700.00"), D("109.00"), D("1809.00"))
        entry = AuditEntry.objects.get(content_type__model="quote", object_id=str(quote.pk), action="update")
        assert set(entry.changes) >= {"notes", "line_items", "total"}
        with pytest.raises(services.StaleVersion):
            services.quote_update(actor=sales, quote_id=quote.pk, version=1, data={"notes": "x"})
        with pytest.raises(ValidationError) as excinfo:
            services.quote_update(actor=sales, quote_id=quote.pk, data={"currency": "USD"})
        assert "currency" in errors_of(excinfo)


def test_the_quote_lifecycle_and_its_refusals(people, inside, catalog):
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        empty = quote_make(actor=sales, customer=customer)
        with pytest.raises(ValidationError) as excinfo:
            services.quote_send(actor=sales, quote_id=empty.pk)
        assert "lines" in errors_of(excinfo)

        quote = quote_make(actor=sales, customer=customer, lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        with pytest.raises(services.TransitionRefused) as excinfo:
            services.quote_accept(actor=sales, quote_id=quote.pk)
        assert (excinfo.value.current, excinfo.value.wanted) == ("draft", "accepted")
        assert "草稿" in excinfo.value.messages[0] and "已接受" in excinfo.value.messages[0]

        sent = services.quote_send(actor=sales, quote_id=quote.pk)
        assert sent.status == "sent" and sent.sent_at
        assert services.quote_send(actor=sales, quote_id=quote.pk).version == sent.version  # a retry
        with pytest.raises(services.TransitionRefused) as excinfo:
            services.quote_update(actor=sales, quote_id=quote.pk, data={"notes": "x"})
        assert excinfo.value.code == "not_editable" and excinfo.value.current == "sent"

        accepted = services.quote_accept(actor=sales, quote_id=quote.pk)
        assert accepted.status == "accepted" and accepted.accepted_at
        with pytest.raises(services.TransitionRefused):
            services.quote_reject(actor=sales, quote_id=quote.pk)

        converted = services.quote_mark_converted(actor=sales, quote_id=quote.pk, order_ref="SO2026-0001")
        assert (converted.status, converted.order_ref) == ("converted", "SO2026-0001") and converted.converted_at
        assert services.quote_mark_converted(actor=None, quote_id=quote.pk, order_ref="SO2026-0001").version == \
            converted.version
        with pytest.raises(services.TransitionRefused):
            services.quote_mark_converted(actor=sales, quote_id=quote.pk, order_ref="SO2026-0002")
        assert audit_actions(quote) == ["create", "approve", "send", "accept", "convert"]


def test_reject_records_the_reason_and_is_final(people, inside, catalog):
    sales = people["sales"]
    with inside():
        quote = quote_make(actor=sales, customer=customer_make(actor=sales),
                           lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        with pytest.raises(services.TransitionRefused):
            services.quote_mark_converted(actor=sales, quote_id=quote.pk, order_ref="SO-1")
        services.quote_send(actor=sales, quote_id=quote.pk)
        rejected = services.quote_reject(actor=sales, quote_id=quote.pk, reason="价格高")
        assert (rejected.status, rejected.reject_reason) == ("rejected", "价格高")
        assert services.quote_reject(actor=sales, quote_id=quote.pk).reject_reason == "价格高"
        for call in (services.quote_accept, services.quote_send):
            with pytest.raises(services.TransitionRefused):
                call(actor=sales, quote_id=quote.pk)


def test_an_overdue_sent_quote_cannot_be_accepted_and_expires(people, inside, catalog):
    sales = people["sales"]
    with inside():
        quote = quote_make(actor=sales, customer=customer_make(actor=sales), valid_until=today(),
                           lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        services.quote_send(actor=sales, quote_id=quote.pk)
        Quote.objects.filter(pk=quote.pk).update(valid_until=today() - datetime.timedelta(days=1))
        with pytest.raises(services.TransitionRefused) as excinfo:
            services.quote_accept(actor=sales, quote_id=quote.pk)
        assert "过有效期" in excinfo.value.messages[0]
        assert services.quote_expire(quote_id=quote.pk) is True
        assert services.quote_expire(quote_id=quote.pk) is False
        assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.EXPIRED
        entry = AuditEntry.objects.get(content_type__model="quote", object_id=str(quote.pk), action="expire")
        assert entry.actor is None and entry.actor_label == "system"


def test_quotes_outside_the_scope_are_not_found(people, inside, catalog):
    sales, sales2 = people["sales"], people["sales2"]
    with inside():
        quote = quote_make(actor=sales, customer=customer_make(actor=sales),
                           lines=[{"product_id": catalog["battery"].pk, "quantity": 1}])
        with pytest.raises(services.NotInScope):
            services.quote_send(actor=sales2, quote_id=quote.pk)
        with pytest.raises(services.NotInScope):
            services.quote_update(actor=sales2, quote_id=quote.pk, data={"notes": "x"})
        assert Quote.objects.get(pk=quote.pk).status == "draft"
        # the manager of the region and company-wide roles may
        assert services.quote_send(actor=people["manager"], quote_id=quote.pk).status == "sent"
        assert services.quote_accept(actor=people["secretary"], quote_id=quote.pk).status == "accepted"
