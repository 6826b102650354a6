"""Write-side operations of opportunities and quotes. Keyword-only, transactional, audited.

Records are looked up inside the actor's scope (crm.org.scoping): an opportunity, quote,
customer or contact the actor may not see raises ``NotInScope`` (a 404 in the API), as if it
did not exist. Bad input raises ValidationError naming the field (quote lines as
``lines[<index>].<field>``, with the line number in the message). A transition that the
current state does not allow raises ``TransitionRefused`` (a 409 naming the current and the
wanted state). Edits carry the version the client edited; a stale one raises StaleVersion
(412).

Every transition locks the row (SELECT ... FOR UPDATE), returns early when already done
(a retry changes nothing and writes no audit row), checks the transition against the
tables in crm.sales.enums, writes the audit row in the same transaction."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from crm.approvals.enums import RequestStatus
from crm.approvals.selectors import approval_request_pending_for
from crm.approvals.services import approval_recall, approval_submit
from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.catalog.selectors import price_for, product_list_visible_to
from crm.customers.selectors import contact_get_for_actor, customer_get_for_actor
from crm.customers.services import customer_touch
from crm.inputs import clean_currency, clean_decimal, clean_text
from crm.org.selectors import staff_in_scope_of
from crm.org.services import StaleVersion

from .calc import line_amounts, quote_totals
from .enums import (
    DEFAULT_CURRENCY,
    OPPORTUNITY_ALLOWED_TRANSITIONS,
    QUOTE_ALLOWED_TRANSITIONS,
    QUOTE_DOC_TYPE,
    OpportunityStatus,
    QuoteStatus,
)
from .models import Opportunity, OpportunityStageChange, Quote, QuoteCounter, QuoteLine
from .pipeline import Pipeline, Stage, pipeline_get
from .selectors import (
    opportunity_get_for_actor,
    quote_get_for_actor,
    unscoped_quote_ids_past_validity,
)

__all__ = ["StaleVersion"]  # re-exported: one exception for every stale edit (412 in the API)

OPPORTUNITY_FIELDS = ("name", "customer", "contact", "pipeline", "stage", "status", "amount", "currency",
                      "expected_close_date", "probability", "owner", "department", "region", "source",
                      "next_step", "lost_reason", "won_at", "lost_at", "notes")
QUOTE_FIELDS = ("customer", "opportunity", "contact", "status", "currency", "valid_until", "price_level",
                "net_total", "tax_total", "total", "notes", "owner", "department", "region", "reject_reason",
                "approval_note", "order_ref")

MAX_MONEY = Decimal("999999999999.99")  # Decimal(14, 2)
MAX_QTY = Decimal("99999999999.999")  # Decimal(14, 3)
MAX_LINES = 200


class NotInScope(ObjectDoesNotExist):
    """A record named in the input does not exist or is outside the actor's scope (a 404,
    the same for both). ``field`` names the input that named it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class TransitionRefused(ValidationError):
    """The record's state does not allow the operation (a 409): ``current`` is the state it
    is in, ``wanted`` the one asked for. A ValidationError, so forms show it."""

    def __init__(self, message: str, *, code: str, current: str, wanted: str):
        super().__init__(message, code=code)
        self.current = current
        self.wanted = wanted


# -- input checks -------------------------------------------------------------------------------------
def _decimal(value, *, field: str, label: str, places: int, maximum: Decimal, positive: bool = False,
             prefix: str = "") -> Decimal:
    return clean_decimal(value, field=field, label=label, places=places, maximum=maximum, positive=positive,
                         prefix=prefix)


def _text(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    return clean_text(value, field=field, label=label, max_length=max_length, required=required)


def _currency(value) -> str:
    return clean_currency(value, default=DEFAULT_CURRENCY)


def _day(value, *, field: str, label: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        parsed = parse_date(str(value or "").strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({field: _("%(label)s应为日期，格式 YYYY-MM-DD。") % {"label": label}})
    return parsed


def _pk(value, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("请输入有效的编号。")}) from None
    if number <= 0:
        raise ValidationError({field: _("请输入有效的编号。")})
    return number


def _probability(value) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({"probability": _("赢率应为 0 到 100 的整数。")}) from None
    if not 0 <= number <= 100:
        raise ValidationError({"probability": _("赢率应为 0 到 100 的整数。")})
    return number


def _visible_customer(actor, customer_id, *, for_update: bool = False):
    try:
        return customer_get_for_actor(actor=actor, customer_id=_pk(customer_id, "customer_id"),
                                      for_update=for_update)
    except ObjectDoesNotExist:
        raise NotInScope("customer_id", _("客户不存在或不在你的可见范围内。")) from None


def _contact_of(actor, contact_id, customer):
    if contact_id in (None, ""):
        return None
    try:
        contact = contact_get_for_actor(actor=actor, contact_id=_pk(contact_id, "contact_id"))
    except ObjectDoesNotExist:
        raise NotInScope("contact_id", _("联系人不存在或不在你的可见范围内。")) from None
    if contact.customer_id != customer.pk:
        raise ValidationError({"contact_id": _("联系人“%(name)s”不属于客户“%(customer)s”。") % {
            "name": contact.name, "customer": customer.name}})
    return contact


def _owner_for(actor, owner_id):
    """The actor, or a colleague within the actor's scope named by ``owner_id``."""
    if owner_id in (None, "") or str(owner_id) == str(actor.pk):
        return actor
    owner = staff_in_scope_of(actor=actor).filter(pk=_pk(owner_id, "owner_id"), is_active=True).first()
    if owner is None:
        raise ValidationError({"owner_id": _("负责人不存在、已停用，或不在你的管辖范围内。")})
    return owner


def _place(record, customer, owner) -> None:
    """Department and region follow the customer (the owner's when the customer has none),
    so those who see the customer see its deals."""
    record.department_id = customer.department_id or owner.department_id
    record.region_id = customer.region_id or owner.region_id


def _stale(record, version) -> None:
    if version is not None and int(version) != record.version:
        raise StaleVersion(current=record.version)


def _created(instance, fields) -> dict:
    """The audit changes of a new record: its non-empty values."""
    return {k: v for k, v in audit_diff({}, audit_snapshot(instance, fields)).items() if v["new"] not in ("", None)}


def _status_label(status: str, choices) -> str:
    try:
        return str(choices(status).label)
    except ValueError:
        return status


# -- opportunities -------------------------------------------------------------------------------------
def _opportunity_values(data: dict, *, partial: bool) -> dict:
    """The checked plain values of an opportunity's input (not the ids and the stage)."""
    clean: dict = {}
    if "name" in data or not partial:
        clean["name"] = _text(data.get("name"), field="name", label=_("商机名称"), max_length=200, required=True)
    if "amount" in data or not partial:
        clean["amount"] = _decimal(data.get("amount") if data.get("amount") not in (None, "") else "0",
                                   field="amount", label=_("金额"), places=2, maximum=MAX_MONEY)
    if "currency" in data or not partial:
        clean["currency"] = _currency(data.get("currency"))
    if "expected_close_date" in data or not partial:
        if data.get("expected_close_date") in (None, ""):
            raise ValidationError({"expected_close_date": _("请填写预计成交日期。")})
        clean["expected_close_date"] = _day(data["expected_close_date"], field="expected_close_date",
                                            label=_("预计成交日期"))
    if data.get("probability") not in (None, ""):
        clean["probability"] = _probability(data["probability"])
    for name, label, length in (("source", _("来源"), 50), ("next_step", _("下一步"), 300),
                                ("notes", _("备注"), 5000)):
        if name in data:
            clean[name] = _text(data[name], field=name, label=label, max_length=length)
    return clean


def _stage_or_error(pipeline: Pipeline, key) -> Stage:
    stage = pipeline.get(str(key or ""))
    if stage is None:
        raise ValidationError({"stage": _("阶段“%(stage)s”不存在，可选：%(choices)s") % {
            "stage": key or "", "choices": ", ".join(pipeline.keys())}})
    return stage


def _enter_stage(opportunity: Opportunity, stage: Stage, *, probability: int | None, lost_reason: str,
                 now: datetime.datetime) -> None:
    opportunity.stage = stage.key
    opportunity.status = stage.kind
    if stage.kind == OpportunityStatus.WON:
        opportunity.probability, opportunity.won_at, opportunity.lost_at = 100, now, None
        opportunity.lost_reason = ""
    elif stage.kind == OpportunityStatus.LOST:
        opportunity.probability, opportunity.lost_at, opportunity.won_at = 0, now, None
        opportunity.lost_reason = lost_reason
    else:
        opportunity.probability = stage.probability if probability is None else probability
        opportunity.won_at = opportunity.lost_at = None
        opportunity.lost_reason = ""


def _lost_reason(stage: Stage, value) -> str:
    if stage.kind != OpportunityStatus.LOST:
        return ""
    return _text(value, field="lost_reason", label=_("输单原因"), max_length=500, required=True)


def opportunity_create(*, actor, data: dict) -> Opportunity:
    """Create an opportunity for a customer the actor may see, owned by the actor unless a
    colleague within the actor's scope is named (``owner_id``). ``data``: name, customer_id,
    contact_id, pipeline (default: the tenant's primary one), stage (default: its first open
    stage), amount, currency, expected_close_date, probability (default: the stage's),
    source, next_step, notes, lost_reason (required for a lost stage)."""
    clean = _opportunity_values(data, partial=False)
    pipeline = pipeline_get(data.get("pipeline") or None)
    if data.get("stage") in (None, ""):
        if not pipeline.open_stages:
            raise ValidationError({"stage": _("请选择阶段。")})
        stage = pipeline.open_stages[0]
    else:
        stage = _stage_or_error(pipeline, data["stage"])
    if "customer_id" not in data or data["customer_id"] in (None, ""):
        raise ValidationError({"customer_id": _("请选择客户。")})
    lost_reason = _lost_reason(stage, data.get("lost_reason"))
    with transaction.atomic():
        customer = _visible_customer(actor, data["customer_id"])
        contact = _contact_of(actor, data.get("contact_id"), customer)
        owner = _owner_for(actor, data.get("owner_id"))
        opportunity = Opportunity(customer=customer, contact=contact, pipeline=pipeline.key, owner=owner,
                                  created_by=actor, **{k: v for k, v in clean.items() if k != "probability"})
        _place(opportunity, customer, owner)
        now = timezone.now()
        _enter_stage(opportunity, stage, probability=clean.get("probability"), lost_reason=lost_reason, now=now)
        opportunity.save()
        OpportunityStageChange.objects.create(
            opportunity=opportunity, from_stage="", to_stage=stage.key, to_status=stage.kind,
            probability=opportunity.probability, amount=opportunity.amount, actor=actor, at=now)
        audit_record(actor=actor, instance=opportunity, action="create",
                     changes=_created(opportunity, OPPORTUNITY_FIELDS))
        customer_touch(customer_id=customer.pk, at=now)
    return opportunity


def opportunity_update(*, actor, opportunity_id: int, data: dict, version: int | None = None) -> Opportunity:
    """Edit an opportunity's details: name, contact_id, amount, currency, expected close date,
    probability (open opportunities only), owner_id (a colleague within the actor's scope),
    source, next step, notes. The customer stays; the stage moves through
    ``opportunity_move_stage`` and the closing services."""
    if "customer_id" in data:
        raise ValidationError({"customer_id": _("商机创建后不能更换客户。")})
    if "stage" in data:
        raise ValidationError({"stage": _("请通过“推进阶段”、“赢单”、“输单”来改变阶段。")})
    clean = _opportunity_values(data, partial=True)
    with transaction.atomic():
        opportunity = _opportunity_locked(actor, opportunity_id)
        _stale(opportunity, version)
        before = audit_snapshot(opportunity, OPPORTUNITY_FIELDS)
        if "probability" in clean and clean["probability"] != opportunity.probability and not opportunity.is_open():
            raise ValidationError({"probability": _("已关闭的商机不能修改赢率。")})
        if "contact_id" in data:
            opportunity.contact = _contact_of(actor, data["contact_id"], opportunity.customer)
        if data.get("owner_id") not in (None, "") and int(_pk(data["owner_id"], "owner_id")) != opportunity.owner_id:
            opportunity.owner = _owner_for(actor, data["owner_id"])
        for key, value in clean.items():
            setattr(opportunity, key, value)
        after = audit_snapshot(opportunity, OPPORTUNITY_FIELDS)
        changes = audit_diff(before, after)
        if not changes:
            return opportunity
        opportunity.version = F("version") + 1
        opportunity.save()
        opportunity.refresh_from_db()
        audit_record(actor=actor, instance=opportunity, action="update", changes=changes)
    return opportunity


def _opportunity_locked(actor, opportunity_id) -> Opportunity:
    try:
        opportunity = opportunity_get_for_actor(actor=actor, opportunity_id=opportunity_id, for_update=True)
    except ObjectDoesNotExist:
        raise NotInScope("opportunity_id", _("商机不存在或不在你的可见范围内。")) from None
    return opportunity


def _refuse_opportunity(opportunity: Opportunity, wanted: str, *, stage_label: str = "") -> TransitionRefused:
    current = _status_label(opportunity.status, OpportunityStatus)
    target = _status_label(wanted, OpportunityStatus)
    if opportunity.status == OpportunityStatus.OPEN:
        message = _("商机“%(name)s”当前为“%(current)s”，不能变为“%(wanted)s”。")
    else:
        message = _("商机“%(name)s”已%(current)s，不能直接变为“%(wanted)s”；请先重新打开。")
    return TransitionRefused(message % {"name": opportunity.name, "current": current,
                                        "wanted": stage_label or target},
                             code="invalid_transition", current=opportunity.status, wanted=wanted)


def _move(*, actor, opportunity: Opportunity, stage: Stage, probability: int | None, lost_reason: str,
          note: str, action: str) -> Opportunity:
    if stage.kind not in OPPORTUNITY_ALLOWED_TRANSITIONS[opportunity.status]:
        raise _refuse_opportunity(opportunity, stage.kind, stage_label=stage.label)
    before = audit_snapshot(opportunity, OPPORTUNITY_FIELDS)
    from_stage = opportunity.stage
    now = timezone.now()
    _enter_stage(opportunity, stage, probability=probability, lost_reason=lost_reason, now=now)
    opportunity.version = F("version") + 1
    opportunity.save(update_fields=["stage", "status", "probability", "won_at", "lost_at", "lost_reason",
                                    "version", "updated_at"])
    opportunity.refresh_from_db()
    OpportunityStageChange.objects.create(
        opportunity=opportunity, from_stage=from_stage, to_stage=stage.key, to_status=stage.kind,
        probability=opportunity.probability, amount=opportunity.amount, actor=actor, note=note[:500], at=now)
    audit_record(actor=actor, instance=opportunity, action=action, note=note[:500],
                 changes=audit_diff(before, audit_snapshot(opportunity, OPPORTUNITY_FIELDS)))
    customer_touch(customer_id=opportunity.customer_id, at=now)
    return opportunity


def _action_for(stage: Stage, current_status: str) -> str:
    if stage.kind == OpportunityStatus.WON:
        return "won"
    if stage.kind == OpportunityStatus.LOST:
        return "lost"
    return "reopen" if current_status != OpportunityStatus.OPEN else "stage"


def opportunity_move_stage(*, actor, opportunity_id: int, stage: str, probability: int | None = None,
                           lost_reason: str = "", note: str = "", version: int | None = None) -> Opportunity:
    """Move to another stage of the opportunity's pipeline. A won stage closes it as won, a
    lost stage as lost (``lost_reason`` required); an open stage of a closed one reopens it.
    Won and lost never turn into each other directly (409). The same stage again is a no-op."""
    note = _text(note, field="note", label=_("备注"), max_length=500)
    if probability not in (None, ""):
        probability = _probability(probability)
    else:
        probability = None
    with transaction.atomic():
        opportunity = _opportunity_locked(actor, opportunity_id)
        target = _stage_or_error(pipeline_get(opportunity.pipeline), stage)
        if target.key == opportunity.stage:
            if probability is not None and opportunity.is_open() and probability != opportunity.probability:
                return opportunity_update(actor=actor, opportunity_id=opportunity.pk,
                                          data={"probability": probability}, version=version)
            return opportunity
        _stale(opportunity, version)
        reason = _lost_reason(target, lost_reason)
        return _move(actor=actor, opportunity=opportunity, stage=target, probability=probability,
                     lost_reason=reason, note=note, action=_action_for(target, opportunity.status))


def opportunity_close_won(*, actor, opportunity_id: int, note: str = "", version: int | None = None) -> Opportunity:
    """Close as won (the pipeline's won stage). Already won: nothing changes."""
    with transaction.atomic():
        opportunity = _opportunity_locked(actor, opportunity_id)
        if opportunity.status == OpportunityStatus.WON:
            return opportunity
        won = pipeline_get(opportunity.pipeline).won_stage
        if won is None:
            raise ValidationError({"stage": _("销售流程“%(key)s”没有赢单阶段。") % {"key": opportunity.pipeline}})
        if OpportunityStatus.WON not in OPPORTUNITY_ALLOWED_TRANSITIONS[opportunity.status]:
            raise _refuse_opportunity(opportunity, OpportunityStatus.WON)
        _stale(opportunity, version)
        return _move(actor=actor, opportunity=opportunity, stage=won, probability=None, lost_reason="",
                     note=_text(note, field="note", label=_("备注"), max_length=500), action="won")


def opportunity_close_lost(*, actor, opportunity_id: int, lost_reason: str, note: str = "",
                           version: int | None = None) -> Opportunity:
    """Close as lost (the pipeline's lost stage) with the reason. Already lost: nothing changes."""
    with transaction.atomic():
        opportunity = _opportunity_locked(actor, opportunity_id)
        if opportunity.status == OpportunityStatus.LOST:
            return opportunity
        lost = pipeline_get(opportunity.pipeline).lost_stage
        if lost is None:
            raise ValidationError({"stage": _("销售流程“%(key)s”没有输单阶段。") % {"key": opportunity.pipeline}})
        if OpportunityStatus.LOST not in OPPORTUNITY_ALLOWED_TRANSITIONS[opportunity.status]:
            raise _refuse_opportunity(opportunity, OpportunityStatus.LOST)
        reason = _lost_reason(lost, lost_reason)
        _stale(opportunity, version)
        return _move(actor=actor, opportunity=opportunity, stage=lost, probability=None, lost_reason=reason,
                     note=_text(note, field="note", label=_("备注"), max_length=500), action="lost")


def opportunity_reopen(*, actor, opportunity_id: int, stage: str | None = None, note: str = "",
                       version: int | None = None) -> Opportunity:
    """Reopen a won or lost opportunity at ``stage`` (an open stage; by default the stage it
    was closed from). Already open: nothing changes."""
    with transaction.atomic():
        opportunity = _opportunity_locked(actor, opportunity_id)
        if opportunity.is_open():
            return opportunity
        pipeline = pipeline_get(opportunity.pipeline)
        if stage:
            target = _stage_or_error(pipeline, stage)
            if not target.is_open:
                raise ValidationError({"stage": _("重新打开时请选择一个进行中的阶段。")})
        else:
            last = (opportunity.stage_changes.filter(to_stage=opportunity.stage).order_by("-at", "-id")
                    .values_list("from_stage", flat=True).first())
            target = pipeline.get(last or "")
            if target is None or not target.is_open:
                if not pipeline.open_stages:
                    raise ValidationError({"stage": _("请选择阶段。")})
                target = pipeline.open_stages[-1]
        _stale(opportunity, version)
        return _move(actor=actor, opportunity=opportunity, stage=target, probability=None, lost_reason="",
                     note=_text(note, field="note", label=_("备注"), max_length=500), action="reopen")


# -- quotes: numbers, lines, totals ---------------------------------------------------------------------------
def quote_number_next(*, year: int) -> str:
    """The next quote number of the year, e.g. Q2026-000123. One statement increments the
    year's counter row (creating it on first use) and returns the new value; the row stays
    locked until the calling transaction ends, so concurrent creates get consecutive numbers
    and a rolled back create gives its number back (no gaps, no duplicates)."""
    table = connection.ops.quote_name(QuoteCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last) VALUES (%s, 1) "  # noqa: S608 (the table name is ours)
            f"ON CONFLICT (year) DO UPDATE SET last = {table}.last + 1 RETURNING last", [year])
        (number,) = cursor.fetchone()
    return f"Q{year}-{number:06d}"


def _line_errors_prefix(index: int) -> str:
    return _("第 %(n)s 行：") % {"n": index + 1}


def _quote_lines_build(*, actor, quote: Quote, lines: Sequence[dict], on: datetime.date) -> list[QuoteLine]:
    """Checked, priced and computed (unsaved) lines of ``quote``. Every bad line is reported
    at once, each under ``lines[<index>].<field>`` with its line number in the message."""
    if not isinstance(lines, (list, tuple)):
        raise ValidationError({"lines": _("明细行应为列表。")})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("一张报价单最多 %(n)s 行。") % {"n": MAX_LINES}})
    errors: dict[str, str] = {}
    wanted_ids = set()
    for index, raw in enumerate(lines):
        if not isinstance(raw, dict):
            errors[f"lines[{index}]"] = _line_errors_prefix(index) + _("格式不正确。")
            continue
        try:
            wanted_ids.add(_pk(raw.get("product_id"), "product_id"))
        except ValidationError:
            pass
    products = {p.pk: p for p in product_list_visible_to(actor=actor).filter(pk__in=wanted_ids)} if wanted_ids else {}
    built: list[QuoteLine] = []
    for index, raw in enumerate(lines):
        if not isinstance(raw, dict):
            continue
        prefix = _line_errors_prefix(index)
        try:
            built.append(_quote_line_build(quote=quote, raw=raw, index=index, prefix=prefix, products=products,
                                           on=on))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"lines[{index}].{field}"] = " ".join(messages)
    if errors:
        raise ValidationError(errors)
    return built


def _quote_line_build(*, quote: Quote, raw: dict, index: int, prefix: str, products: dict,
                      on: datetime.date) -> QuoteLine:
    if raw.get("product_id") in (None, ""):
        raise ValidationError({"product_id": prefix + _("请选择产品。")})
    try:
        product_id = _pk(raw.get("product_id"), "product_id")
    except ValidationError:
        raise ValidationError({"product_id": prefix + _("产品编号无效。")}) from None
    product = products.get(product_id)
    if product is None:
        raise ValidationError({"product_id": prefix + _("产品 #%(id)s 不存在。") % {"id": product_id}})
    if not product.is_active:
        raise ValidationError({"product_id": prefix + _("产品“%(name)s”（%(sku)s）已停售，不能报价。") % {
            "name": product.name, "sku": product.sku}})
    quantity = _decimal(raw.get("quantity"), field="quantity", label=_("数量"), places=3, maximum=MAX_QTY,
                        positive=True, prefix=prefix)
    discount = Decimal("0")
    if raw.get("discount_percent") not in (None, ""):
        discount = _decimal(raw["discount_percent"], field="discount_percent", label=_("折扣"), places=2,
                            maximum=Decimal("100"), prefix=prefix)
    if raw.get("unit_price") not in (None, ""):
        unit_price = _decimal(raw["unit_price"], field="unit_price", label=_("单价"), places=2,
                              maximum=MAX_MONEY, prefix=prefix)
        source = str(raw.get("price_source") or _("手工填写"))[:200]
    else:
        resolved = price_for(product_id=product.pk, quantity=quantity, customer_level=quote.price_level, on=on)
        if resolved.currency != quote.currency:
            raise ValidationError({"unit_price": prefix + _(
                "产品“%(sku)s”的价格是 %(price_currency)s，报价单币种是 %(currency)s，请填写单价。") % {
                "sku": product.sku, "price_currency": resolved.currency, "currency": quote.currency}})
        unit_price, source = resolved.unit_price, str(resolved.source)[:200]
    description = _text(raw.get("description") if raw.get("description") not in (None, "") else
                        " ".join(p for p in (product.name, product.spec) if p),
                        field="description", label=prefix + _("描述"), max_length=500)
    amounts = line_amounts(quantity=quantity, unit_price=unit_price, discount_percent=discount,
                           tax_rate=product.tax_rate)
    if amounts.gross > MAX_MONEY:
        raise ValidationError({"quantity": prefix + _("金额超出允许的最大值。")})
    return QuoteLine(quote=quote, position=index + 1, product=product, sku=product.sku, description=description,
                     unit=product.unit, quantity=quantity, unit_price=unit_price, price_source=source,
                     discount_percent=discount, tax_rate=product.tax_rate, net_amount=amounts.net,
                     tax_amount=amounts.tax, gross_amount=amounts.gross)


def quote_lines_price(*, actor, customer_id: int, currency: str, lines: Sequence[dict],
                      price_level: str | None = None) -> list[QuoteLine]:
    """The lines as ``quote_create`` would price and compute them for this customer, unsaved
    (the editor's preview). Raises what ``quote_create`` raises for bad lines."""
    customer = _visible_customer(actor, customer_id)
    quote = Quote(customer=customer, currency=_currency(currency),
                  price_level=customer.level or "" if price_level is None else price_level)
    return _quote_lines_build(actor=actor, quote=quote, lines=list(lines), on=timezone.localdate())


def _lines_summary(lines: Sequence[QuoteLine]) -> list[str]:
    return [f"{line.sku} × {line.quantity.normalize():f} @ {line.unit_price} -{line.discount_percent.normalize():f}%"
            for line in lines]


def _lines_replace(*, quote: Quote, lines: list[QuoteLine]) -> None:
    quote.lines.all().delete()
    QuoteLine.objects.bulk_create(lines)
    totals = quote_totals(lines)
    if totals.gross > MAX_MONEY:
        raise ValidationError({"lines": _("报价总额超出允许的最大值。")})
    quote.net_total, quote.tax_total, quote.total = totals.net, totals.tax, totals.gross


def _valid_until(value, *, today: datetime.date) -> datetime.date:
    if value in (None, ""):
        raise ValidationError({"valid_until": _("请填写有效期。")})
    day = _day(value, field="valid_until", label=_("有效期"))
    if day < today:
        raise ValidationError({"valid_until": _("有效期不能早于今天（%(today)s）。") % {"today": today.isoformat()}})
    return day


def _opportunity_for_quote(actor, opportunity_id):
    if opportunity_id in (None, ""):
        return None
    try:
        return opportunity_get_for_actor(actor=actor, opportunity_id=_pk(opportunity_id, "opportunity_id"))
    except ObjectDoesNotExist:
        raise NotInScope("opportunity_id", _("商机不存在或不在你的可见范围内。")) from None


def quote_create(*, actor, data: dict, lines: Sequence[dict] = ()) -> Quote:
    """A draft quote for a customer the actor may see (or the customer of ``opportunity_id``),
    numbered from the tenant's sequence of the year. ``data``: customer_id, opportunity_id
    (of the same customer), contact_id, currency (default: the opportunity's, else CNY),
    valid_until (required, today or later), notes, owner_id (a colleague within the actor's
    scope). ``lines``: dicts of product_id, quantity, and optionally unit_price (default: the
    catalog's price for the customer's level), discount_percent, description."""
    today = timezone.localdate()
    valid_until = _valid_until(data.get("valid_until"), today=today)
    notes = _text(data.get("notes"), field="notes", label=_("备注与条款"), max_length=5000)
    with transaction.atomic():
        opportunity = _opportunity_for_quote(actor, data.get("opportunity_id"))
        customer_id = data.get("customer_id")
        if customer_id in (None, ""):
            if opportunity is None:
                raise ValidationError({"customer_id": _("请选择客户。")})
            customer_id = opportunity.customer_id
        customer = _visible_customer(actor, customer_id)
        if opportunity is not None and opportunity.customer_id != customer.pk:
            raise ValidationError({"opportunity_id": _("商机“%(name)s”属于另一个客户。") % {"name": opportunity.name}})
        contact = _contact_of(actor, data.get("contact_id"), customer)
        owner = _owner_for(actor, data.get("owner_id"))
        currency = _currency(data.get("currency") or (opportunity.currency if opportunity else DEFAULT_CURRENCY))
        quote = Quote(customer=customer, opportunity=opportunity, contact=contact, currency=currency,
                      valid_until=valid_until, price_level=customer.level or "", notes=notes, owner=owner,
                      created_by=actor, status=QuoteStatus.DRAFT)
        _place(quote, customer, owner)
        built = _quote_lines_build(actor=actor, quote=quote, lines=list(lines or []), on=today)
        quote.number = quote_number_next(year=today.year)
        quote.save()
        for line in built:
            line.quote = quote
        _lines_replace(quote=quote, lines=built)
        quote.save(update_fields=["net_total", "tax_total", "total"])
        changes = _created(quote, QUOTE_FIELDS)
        changes["line_items"] = {"old": None, "new": _lines_summary(built)}
        audit_record(actor=actor, instance=quote, action="create", changes=changes)
        customer_touch(customer_id=customer.pk)
    return quote


def _quote_locked(actor, quote_id) -> Quote:
    try:
        quote = quote_get_for_actor(actor=actor, quote_id=quote_id, for_update=True)
    except ObjectDoesNotExist:
        raise NotInScope("quote_id", _("报价单不存在或不在你的可见范围内。")) from None
    return quote


def _not_editable(quote: Quote) -> TransitionRefused:
    return TransitionRefused(_("报价单 %(number)s 当前为“%(current)s”，只有草稿可以修改。") % {
        "number": quote.number, "current": quote.get_status_display()},
        code="not_editable", current=quote.status, wanted=QuoteStatus.DRAFT)


def quote_update(*, actor, quote_id: int, data: dict, lines: Sequence[dict] | None = None,
                 version: int | None = None) -> Quote:
    """Edit a draft: contact_id, opportunity_id (same customer), currency (together with the
    lines), valid_until, notes; ``lines`` (when given) replace all lines. Totals are computed
    again. Anything but a draft: TransitionRefused (409)."""
    if "customer_id" in data:
        raise ValidationError({"customer_id": _("报价单创建后不能更换客户。")})
    today = timezone.localdate()
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if not quote.is_editable():
            raise _not_editable(quote)
        _stale(quote, version)
        before = audit_snapshot(quote, QUOTE_FIELDS)
        if "valid_until" in data:
            quote.valid_until = _valid_until(data["valid_until"], today=today)
        if "notes" in data:
            quote.notes = _text(data["notes"], field="notes", label=_("备注与条款"), max_length=5000)
        if "contact_id" in data:
            quote.contact = _contact_of(actor, data["contact_id"], quote.customer)
        if "opportunity_id" in data:
            opportunity = _opportunity_for_quote(actor, data["opportunity_id"])
            if opportunity is not None and opportunity.customer_id != quote.customer_id:
                raise ValidationError({"opportunity_id": _("商机“%(name)s”属于另一个客户。") % {
                    "name": opportunity.name}})
            quote.opportunity = opportunity
        if "currency" in data:
            currency = _currency(data["currency"])
            if currency != quote.currency and lines is None:
                raise ValidationError({"currency": _("更换币种时请同时提交明细行（单价按新币种）。")})
            quote.currency = currency
        lines_before = _lines_summary(list(quote.lines.order_by("position")))
        lines_after = lines_before
        if lines is not None:
            built = _quote_lines_build(actor=actor, quote=quote, lines=list(lines), on=today)
            _lines_replace(quote=quote, lines=built)
            lines_after = _lines_summary(built)
        changes = audit_diff(before, audit_snapshot(quote, QUOTE_FIELDS))
        if lines_after != lines_before:
            changes["line_items"] = {"old": lines_before, "new": lines_after}
        if not changes:
            return quote
        quote.version = F("version") + 1
        quote.save()
        quote.refresh_from_db()
        audit_record(actor=actor, instance=quote, action="update", changes=changes)
    return quote


def _refuse_quote(quote: Quote, wanted: str, message: str | None = None) -> TransitionRefused:
    return TransitionRefused(message or _("报价单 %(number)s 当前为“%(current)s”，不能变为“%(wanted)s”。") % {
        "number": quote.number, "current": quote.get_status_display(),
        "wanted": _status_label(wanted, QuoteStatus)},
        code="invalid_transition", current=quote.status, wanted=wanted)


def _quote_transition(*, actor, quote: Quote, wanted: str, stamp: str | None, version: int | None,
                      extra: dict | None = None, action: str) -> Quote:
    """Move a locked quote to ``wanted`` (already checked as allowed), stamp the time, audit."""
    _stale(quote, version)
    before = audit_snapshot(quote, QUOTE_FIELDS)
    now = timezone.now()
    quote.status = wanted
    if stamp:
        setattr(quote, stamp, now)
    for key, value in (extra or {}).items():
        setattr(quote, key, value)
    quote.version = F("version") + 1
    quote.save(update_fields=["status", *([stamp] if stamp else []), "version", "updated_at", *(extra or {})])
    quote.refresh_from_db()
    audit_record(actor=actor, instance=quote, action=action,
                 changes=audit_diff(before, audit_snapshot(quote, QUOTE_FIELDS)))
    return quote


def _allowed(quote: Quote, wanted: str) -> None:
    if wanted not in QUOTE_ALLOWED_TRANSITIONS[quote.status]:
        raise _refuse_quote(quote, wanted)


def _check_sendable(quote: Quote) -> None:
    if not quote.lines.exists():
        raise ValidationError({"lines": _("报价单还没有明细行，不能发送。")})
    if quote.valid_until < timezone.localdate():
        raise ValidationError({"valid_until": _("有效期（%(day)s）已过，请先修改有效期。") % {
            "day": quote.valid_until.isoformat()}})


def quote_send(*, actor, quote_id: int, version: int | None = None) -> Quote:
    """Send a quote to the customer. A draft goes through the tenant's quote approval policy
    first: when no step applies it is approved and sent at once; otherwise it waits in
    approval (in_approval) and, once approved, is sent by calling this again. Approved ->
    sent. Already sent, or already waiting in approval: nothing changes. The quote needs
    lines and a validity not yet over."""
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if quote.status in (QuoteStatus.SENT, QuoteStatus.IN_APPROVAL):
            return quote
        if quote.status not in (QuoteStatus.DRAFT, QuoteStatus.APPROVED):
            raise _refuse_quote(quote, QuoteStatus.SENT)
        _check_sendable(quote)
        if quote.status == QuoteStatus.DRAFT:
            _stale(quote, version)
            version = None
            request = approval_submit(actor=actor, doc_type=QUOTE_DOC_TYPE, object_id=quote.pk)
            quote = _quote_locked(actor, quote_id)
            if request.status == RequestStatus.PENDING:
                return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.IN_APPROVAL,
                                         stamp="approval_submitted_at", version=None,
                                         extra={"approval_note": ""}, action="submit")
            if quote.status != QuoteStatus.APPROVED:  # pragma: no cover - the callback moved it
                raise _refuse_quote(quote, QuoteStatus.SENT)
        quote = _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.SENT, stamp="sent_at",
                                  version=version, action="send")
        customer_touch(customer_id=quote.customer_id)
        return quote


def quote_approval_approved(*, quote_id: int, actor) -> Quote:
    """draft / in_approval -> approved: the engine's callback (in its transaction) when the
    last step approved, or at once when no step applied."""
    with transaction.atomic():
        quote = Quote.objects.select_for_update().get(pk=quote_id)
        if quote.status == QuoteStatus.APPROVED:
            return quote
        _allowed(quote, QuoteStatus.APPROVED)
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.APPROVED, stamp="approved_at",
                                 version=None, extra={"approval_note": ""}, action="approve")


def _back_to_draft(*, quote_id: int, actor, note: str, action: str) -> Quote:
    with transaction.atomic():
        quote = Quote.objects.select_for_update().get(pk=quote_id)
        if quote.status == QuoteStatus.DRAFT:
            return quote
        _allowed(quote, QuoteStatus.DRAFT)
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.DRAFT, stamp=None, version=None,
                                 extra={"approval_note": note[:1000]}, action=action)


def quote_approval_rejected(*, quote_id: int, actor, comment: str) -> Quote:
    """in_approval -> draft with the approver's comment (the engine's callback)."""
    return _back_to_draft(quote_id=quote_id, actor=actor, note=comment, action="approval_rejected")


def quote_approval_recalled(*, quote_id: int, actor) -> Quote:
    """in_approval -> draft: its submitter took it back (the engine's callback)."""
    return _back_to_draft(quote_id=quote_id, actor=actor, note=_("提交人已撤回审批"), action="approval_recalled")


def quote_recall(*, actor, quote_id: int) -> Quote:
    """Take a quote back from approval before anyone decided (its submitter): the engine's
    recall, whose callback returns the quote to draft."""
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if quote.status == QuoteStatus.DRAFT:
            return quote
        if quote.status != QuoteStatus.IN_APPROVAL:
            raise _refuse_quote(quote, QuoteStatus.DRAFT)
        request = approval_request_pending_for(doc_type=QUOTE_DOC_TYPE, object_id=quote.pk)
        if request is None:  # pragma: no cover - in approval always has its request
            raise _refuse_quote(quote, QuoteStatus.DRAFT)
        approval_recall(actor=actor, request_id=request.pk)
        return _quote_locked(actor, quote_id)


def quote_reopen(*, actor, quote_id: int, version: int | None = None) -> Quote:
    """approved -> draft, to change it before it is sent; it must be approved again."""
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if quote.status == QuoteStatus.DRAFT:
            return quote
        _allowed(quote, QuoteStatus.DRAFT)
        if quote.status != QuoteStatus.APPROVED:
            raise _refuse_quote(quote, QuoteStatus.DRAFT)
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.DRAFT, stamp=None, version=version,
                                 extra={"approval_note": ""}, action="reopen")


def quote_accept(*, actor, quote_id: int, version: int | None = None) -> Quote:
    """Sent -> accepted (the customer agreed), while the quote is still valid. Already
    accepted: nothing changes."""
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if quote.status == QuoteStatus.ACCEPTED:
            return quote
        _allowed(quote, QuoteStatus.ACCEPTED)
        if quote.valid_until < timezone.localdate():
            raise _refuse_quote(quote, QuoteStatus.ACCEPTED, _(
                "报价单 %(number)s 已于 %(day)s 过有效期，不能再接受；请重新报价。") % {
                "number": quote.number, "day": quote.valid_until.isoformat()})
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.ACCEPTED, stamp="accepted_at",
                                 version=version, action="accept")


def quote_reject(*, actor, quote_id: int, reason: str = "", version: int | None = None) -> Quote:
    """Sent -> rejected (the customer declined), with an optional reason. Already rejected:
    nothing changes."""
    reason = _text(reason, field="reason", label=_("拒绝原因"), max_length=500)
    with transaction.atomic():
        quote = _quote_locked(actor, quote_id)
        if quote.status == QuoteStatus.REJECTED:
            return quote
        _allowed(quote, QuoteStatus.REJECTED)
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.REJECTED, stamp="rejected_at",
                                 version=version, extra={"reject_reason": reason}, action="reject")


def quote_expire(*, quote_id: int, today: datetime.date | None = None) -> bool:
    """Sent -> expired when the validity ended before ``today`` (the system does it, see
    the ``sales.quotes_expire`` task). True when it expired the quote now; False when there
    was nothing to do (already expired, accepted meanwhile, still valid)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
        if quote is None or quote.status != QuoteStatus.SENT or quote.valid_until >= today:
            return False
        _quote_transition(actor=None, quote=quote, wanted=QuoteStatus.EXPIRED, stamp="expired_at", version=None,
                          action="expire")
        return True


def quotes_expire_run(*, today: datetime.date | None = None) -> int:
    """Expire every sent quote past its validity (one short transaction each). Returns how
    many it expired. Safe to run again at any time."""
    today = today or timezone.localdate()
    return sum(1 for quote_id in unscoped_quote_ids_past_validity(today=today)
               if quote_expire(quote_id=quote_id, today=today))


def quote_mark_converted(*, actor, quote_id: int, order_ref: str) -> Quote:
    """Accepted -> converted into the order ``order_ref`` (called by crm.orders when it
    creates the order from this quote, inside its own transaction). The same order again:
    nothing changes; another order for an already converted quote: TransitionRefused.
    ``actor=None`` is the system (no scope check)."""
    order_ref = _text(order_ref, field="order_ref", label=_("订单号"), max_length=64, required=True)
    with transaction.atomic():
        if actor is None:
            quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
            if quote is None:
                raise NotInScope("quote_id", _("报价单不存在或不在你的可见范围内。"))
        else:
            quote = _quote_locked(actor, quote_id)
        if quote.status == QuoteStatus.CONVERTED:
            if quote.order_ref == order_ref:
                return quote
            raise _refuse_quote(quote, QuoteStatus.CONVERTED, _(
                "报价单 %(number)s 已转为订单 %(order)s，不能再转一次。") % {
                "number": quote.number, "order": quote.order_ref})
        _allowed(quote, QuoteStatus.CONVERTED)
        return _quote_transition(actor=actor, quote=quote, wanted=QuoteStatus.CONVERTED, stamp="converted_at",
                                 version=None, extra={"order_ref": order_ref}, action="convert")


# -- demo data ----------------------------------------------------------------------------------------------
DEMO_DEALS = {
    "project": ("中央空调系统改造项目", "数据中心精密空调工程", "办公楼暖通节能改造", "医院洁净空调项目"),
    "default": ("RTK 接收机批量采购", "全站仪更新换代", "测绘配件年度采购", "外业软件授权续费"),
}


def sales_load_demo() -> int:
    """A handful of opportunities (open ones across the pipeline, one won, one lost) and
    quotes (a draft and a sent one) on the demo customers, made by their salespeople
    through the services above. Idempotent: a tenant that has opportunities gets nothing.
    Returns the number of opportunities created."""
    from crm.customers.selectors import customer_list_visible_to
    from crm.org.selectors import staff_list

    if Opportunity.objects.exists():
        return 0
    sellers = [u for u in staff_list(actor=None, include_inactive=False) if "salesperson" in u.role_codes()]
    if not sellers:
        return 0
    pipeline = pipeline_get()
    names = DEMO_DEALS["project" if pipeline.key == "project" else "default"]
    today = timezone.localdate()
    made = 0
    with transaction.atomic():
        for seller in sellers:
            customers = list(customer_list_visible_to(actor=seller).order_by("pk")[:3])
            for i, customer in enumerate(customers):
                stage = pipeline.open_stages[(made + i) % len(pipeline.open_stages)] if pipeline.open_stages else None
                amount = Decimal(80000 + 45000 * ((made * 7 + i * 3) % 9))
                opportunity = opportunity_create(actor=seller, data={
                    "name": f"{customer.short_name or customer.name[:8]} {names[(made + i) % len(names)]}",
                    "customer_id": customer.pk, "stage": stage.key if stage else None, "amount": amount,
                    "expected_close_date": today + datetime.timedelta(days=20 + 35 * ((made + i) % 6)),
                    "source": "demo", "next_step": "安排技术交流"})
                made += 1
                if i == 1 and pipeline.won_stage is not None:
                    opportunity_close_won(actor=seller, opportunity_id=opportunity.pk, note="demo")
                elif i == 2 and pipeline.lost_stage is not None:
                    opportunity_close_lost(actor=seller, opportunity_id=opportunity.pk,
                                           lost_reason="价格偏高，客户选择了竞品", note="demo")
            products = list(product_list_visible_to(actor=seller).filter(is_active=True).order_by("sku")[:4])
            if products and customers:
                for n, status in enumerate((QuoteStatus.DRAFT, QuoteStatus.SENT)):
                    lines = [{"product_id": p.pk, "quantity": 1 + (n + k) % 3,
                              "discount_percent": "5" if k == 0 else "0"} for k, p in enumerate(products[n:n + 2])]
                    quote = quote_create(actor=seller, data={
                        "customer_id": customers[0].pk, "valid_until": today + datetime.timedelta(days=30),
                        "notes": "报价含税，交货期 15 个工作日。"}, lines=lines)
                    if status == QuoteStatus.SENT:
                        quote_send(actor=seller, quote_id=quote.pk)
    return made


# -- merges of customers (crm.customers.links) --------------------------------------------------
def opportunities_move_to_customer(*, ids: Sequence[int], customer_id: int, actor=None) -> int:
    """A merge moves the duplicate's opportunities to the survivor (its undo moves them back);
    their department and region follow the customer, as on creation."""
    from crm.customers.links import move_records
    from crm.customers.selectors import unscoped_customer_place

    department_id, region_id = unscoped_customer_place(customer_id=customer_id)
    return move_records(Opportunity, ids=ids, customer_id=customer_id, actor=actor,
                        also={"department_id": department_id, "region_id": region_id})


def quotes_move_to_customer(*, ids: Sequence[int], customer_id: int, actor=None) -> int:
    from crm.customers.links import move_records

    return move_records(Quote, ids=ids, customer_id=customer_id, actor=actor)


def unscoped_opportunity_ids_of_customer(customer_id: int) -> list[int]:
    return list(Opportunity.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


def unscoped_quote_ids_of_customer(customer_id: int) -> list[int]:
    return list(Quote.objects.filter(customer_id=customer_id).values_list("pk", flat=True))
