"""The portal's cart: rows of (SKU, quantity) kept in the session, the order form's rows, and
lines read from a spreadsheet (CSV or XLSX: a SKU column and a quantity column). This module only
translates input; what may be ordered, at what price and minimum, is crm.orders.partner's rule."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.catalog.partner import portal_products_by_sku
from crm.orders.enums import MAX_LINES
from crm.spreadsheets import read_rows

SESSION_KEY = "portal_cart"
IMPORT_MAX_BYTES = 1024 * 1024  # 1 MB
IMPORT_MAX_ROWS = MAX_LINES
SKU_HEADERS = {"sku", "编码", "产品编码", "物料编码", "货号", "product", "产品"}
QTY_HEADERS = {"quantity", "qty", "数量", "订购数量"}


def cart_rows(session) -> list[list[str]]:
    rows = session.get(SESSION_KEY) or []
    return [[str(sku), str(qty)] for sku, qty in rows if str(sku).strip()][:MAX_LINES]


def cart_save(session, rows) -> None:
    session[SESSION_KEY] = [[str(sku).strip(), str(qty).strip()] for sku, qty in rows if str(sku).strip()][:MAX_LINES]


def cart_clear(session) -> None:
    session.pop(SESSION_KEY, None)


def cart_add(session, sku: str, quantity: str) -> None:
    """Add ``quantity`` of ``sku``; a SKU already in the cart gets the quantities added."""
    rows = cart_rows(session)
    for row in rows:
        if row[0].upper() == sku.upper():
            try:
                row[1] = _text(Decimal(row[1]) + Decimal(quantity))
            except InvalidOperation:
                row[1] = quantity
            break
    else:
        rows.append([sku, quantity])
    cart_save(session, rows)


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def rows_from_post(post) -> list[list[str]]:
    """The form's rows (sku[], quantity[]), blank ones dropped, in order."""
    skus = post.getlist("sku")
    quantities = post.getlist("quantity")
    rows = []
    for n, sku in enumerate(skus):
        qty = quantities[n] if n < len(quantities) else ""
        if str(sku).strip() or str(qty).strip():
            rows.append([str(sku).strip()[:64], str(qty).strip()[:20]])
    return rows[:MAX_LINES]


@dataclass
class ResolvedRows:
    lines: list[dict] = field(default_factory=list)  # for the order service: product_id, quantity
    products: dict = field(default_factory=dict)  # SKU (upper) -> Product
    errors: list[str] = field(default_factory=list)  # rows whose SKU is unknown or empty


def resolve_rows(actor, rows) -> ResolvedRows:
    """The rows as order lines ({product_id, quantity}); a SKU that does not exist is an error
    naming the row (the service names the other problems of each line)."""
    out = ResolvedRows(products=portal_products_by_sku(actor=actor, skus=[sku for sku, _q in rows]))
    for n, (sku, qty) in enumerate(rows, start=1):
        product = out.products.get(sku.upper())
        if not sku:
            out.errors.append(_("第 %(n)s 行：请填写 SKU。") % {"n": n})
        elif product is None:
            out.errors.append(_("第 %(n)s 行：SKU “%(sku)s” 不存在。") % {"n": n, "sku": sku})
        else:
            out.lines.append({"product_id": product.pk, "quantity": qty})
    return out


# -- spreadsheet import ---------------------------------------------------------------------------
@dataclass
class ImportResult:
    rows: list[list[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _table(upload) -> list[list[str]]:
    """The first two columns of the file's rows (crm.spreadsheets: CSV in UTF-8 or GBK, or the
    first sheet of an XLSX), at most IMPORT_MAX_ROWS + 2 of them; ValueError naming the problem."""
    name = (getattr(upload, "name", "") or "").lower()
    if not name.endswith((".csv", ".txt", ".xlsx")):
        raise ValueError(_("只支持 .csv 或 .xlsx 文件。"))
    data = upload.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        raise ValueError(_("文件超过 1 MB，请拆分后再导入。"))
    table: list[list[str]] = []
    try:
        rows, _format, _encoding = read_rows(file_name=name, content=data)
        for row in rows:
            table.append(row[:2])
            if len(table) > IMPORT_MAX_ROWS + 1:
                break
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None
    except csv.Error as exc:
        raise ValueError(_("CSV 文件格式错误：%(error)s") % {"error": exc}) from None
    return table


def import_rows(upload) -> ImportResult:
    """(SKU, quantity) rows of the first sheet or the CSV: a header row is recognised and skipped;
    each bad row is reported by its row number in the file (and left out)."""
    result = ImportResult()
    if upload is None:
        result.errors.append(_("请选择要导入的文件。"))
        return result
    try:
        table = _table(upload)
    except ValueError as exc:
        result.errors.append(str(exc))
        return result
    start = 0
    if table and (table[0][0].lower() in SKU_HEADERS or (len(table[0]) > 1 and table[0][1].lower() in QTY_HEADERS)):
        start = 1
    for n, row in enumerate(table[start:], start=start + 1):
        sku = row[0] if row else ""
        qty = row[1] if len(row) > 1 else ""
        if not sku and not qty:
            continue
        if len(result.rows) >= IMPORT_MAX_ROWS:
            result.errors.append(_("最多导入 %(n)s 行，其余的行已忽略。") % {"n": IMPORT_MAX_ROWS})
            break
        if not sku:
            result.errors.append(_("文件第 %(n)s 行：缺少 SKU。") % {"n": n})
            continue
        try:
            quantity = Decimal(qty.replace(",", ""))
            if not quantity.is_finite() or quantity <= 0:
                raise InvalidOperation
        except InvalidOperation:
            result.errors.append(_("文件第 %(n)s 行：数量“%(qty)s”不是正数。") % {"n": n, "qty": qty})
            continue
        result.rows.append([sku[:64], _text(quantity)])
    if not result.rows and not result.errors:
        result.errors.append(_("文件中没有找到产品行（第一列 SKU，第二列数量）。"))
    return result


def import_check_skus(actor, result: ImportResult) -> ImportResult:
    """Drop the rows whose SKU does not exist, each reported."""
    products = portal_products_by_sku(actor=actor, skus=[sku for sku, _q in result.rows])
    kept = []
    for sku, qty in result.rows:
        if sku.upper() in products:
            kept.append([products[sku.upper()].sku, qty])
        else:
            result.errors.append(_("SKU “%(sku)s” 不存在，已跳过。") % {"sku": sku})
    result.rows = kept
    return result
