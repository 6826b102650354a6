"""Stock levels posted by the ERP: set the on-hand quantity of a product (by SKU) in a
warehouse (by code) to the ERP's figure. A thin layer over crm.catalog.services.stock_adjust
(a stock count booked as an adjustment, with its ledger row and audit row), applied through
the inbound machinery so each row is idempotent by its external id.

(Proposed for crm.catalog: ``stock_set_level(*, actor, product_id, warehouse_id, on_hand,
external_id, note)`` that books the ERP's external id on the movement itself and treats "no
difference" as a no-op; this module would then call it.)"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .enums import InboundKind, InboundStatus
from .inbound import InboundContext, register_inbound_handler
from .models import ErpClient, InboundMessage
from .selectors import unscoped_inbound_messages, unscoped_stock_target

MAX_QTY = Decimal("99999999999.999")  # crm.catalog's Decimal(14, 3)


def _quantity(value) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"on_hand": _("on_hand 必须是数字。")}) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({"on_hand": _("on_hand 不能为负数。")})
    if number != number.quantize(Decimal("0.001")):
        raise ValidationError({"on_hand": _("on_hand 最多保留 3 位小数。")})
    if number > MAX_QTY:
        raise ValidationError({"on_hand": _("on_hand 超出允许的最大值。")})
    return number.quantize(Decimal("0.001"))


def _text(number: Decimal) -> str:
    return f"{number.normalize():f}"


def apply_stock_level(payload: dict, *, context: InboundContext) -> dict:
    """One row: {"external_id", "sku", "warehouse", "on_hand", "note"?}."""
    from crm.catalog.services import stock_adjust

    sku = str(payload.get("sku") or "").strip().upper()
    code = str(payload.get("warehouse") or "").strip().upper()
    errors = {}
    if not sku:
        errors["sku"] = [_("请提供 SKU。")]
    if not code:
        errors["warehouse"] = [_("请提供仓库编码。")]
    try:
        on_hand = _quantity(payload.get("on_hand"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
        on_hand = None
    product, warehouse = unscoped_stock_target(sku=sku, warehouse_code=code)
    if sku and product is None:
        errors["sku"] = [_("没有 SKU 为“%(sku)s”的产品。") % {"sku": sku}]
    if code and warehouse is None:
        errors["warehouse"] = [_("没有编码为“%(code)s”的仓库。") % {"code": code}]
    if errors:
        raise ValidationError(errors)
    note = str(payload.get("note") or "").strip()[:200]
    reason = _("ERP 库存同步（%(source)s）%(note)s") % {"source": context.describe(), "note": note}
    result = {"sku": product.sku, "warehouse": warehouse.code, "on_hand": _text(on_hand)}
    try:
        movement = stock_adjust(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, counted=on_hand,
                                reason=reason[:500])
    except ValidationError as exc:
        # crm.catalog refuses a count equal to the stock on hand (the only "counted" error
        # left once the figure passed the checks above): nothing to change.
        if set(getattr(exc, "error_dict", {})) == {"counted"}:
            return {**result, "previous_on_hand": _text(on_hand), "changed": False, "movement_id": None}
        raise
    previous = movement.on_hand_after - movement.on_hand_delta
    return {**result, "previous_on_hand": _text(previous), "changed": True, "movement_id": movement.pk}


def register_builtin_handlers() -> None:
    register_inbound_handler(InboundKind.STOCK_LEVEL, apply_stock_level)


def erp_stock_levels_receive(*, client: ErpClient, rows: Sequence[dict]) -> list[tuple[InboundMessage, bool]]:
    """Apply a batch of stock level rows, each idempotent by its external id and in its own
    transaction (a refused row does not hold up the others). Raises InboundConflict, before
    applying anything, when any row's external id came before with other data."""
    from .services import (
        InboundConflict,
        _jsonable,
        clean_external_id,
        inbound_receive,
        payload_fingerprint,
    )

    ids = [clean_external_id(row.get("external_id")) for row in rows]
    seen = unscoped_inbound_messages(client_id=client.pk, kind=InboundKind.STOCK_LEVEL, external_ids=ids)
    conflicts = [
        external_id for external_id, row in zip(ids, rows, strict=True)
        if external_id in seen and seen[external_id].status != InboundStatus.REJECTED
        and seen[external_id].payload_hash != payload_fingerprint(_jsonable({**row, "external_id": external_id}))
    ]
    if conflicts:
        raise InboundConflict(conflicts)
    return [inbound_receive(client=client, kind=InboundKind.STOCK_LEVEL, external_id=external_id,
                            payload={**row, "external_id": external_id})
            for external_id, row in zip(ids, rows, strict=True)]
