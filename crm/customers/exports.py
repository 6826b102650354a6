"""Exporting a customer list (already limited to what the user may see and filtered) to CSV
(UTF-8 with a BOM, so Excel shows Chinese correctly) or XLSX, streamed row by row.

Cells that a spreadsheet would run as a formula (starting with = + - @, or a tab or carriage
return) get a leading apostrophe, so exported data cannot execute in the reader's Excel. The
headers are those the importer recognises, so an export can be edited and imported back.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .enums import DEFAULT_STAGES, CustomerKind, CustomerLevel
from .models import Customer

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def escape_cell(value) -> str:
    """Text for a spreadsheet cell that no spreadsheet will evaluate."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def export_headers() -> list[str]:
    return [_("客户名称"), _("简称"), _("类型"), _("统一社会信用代码"), _("电话"), _("邮箱"), _("行业"),
            _("区域"), _("地址"), _("来源"), _("阶段"), _("等级"), _("标签"), _("备注"), _("外部编号"),
            _("负责人"), _("负责人邮箱"), _("创建时间"), _("更新时间")]


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def export_rows(qs: QuerySet[Customer]) -> Iterator[list[str]]:
    """Escaped rows of the customers in ``qs`` (read in chunks, constant memory)."""
    stages = {k: str(v) for k, v in DEFAULT_STAGES.items()}
    kinds = {k.value: str(k.label) for k in CustomerKind}
    qs = qs.select_related("owner", "region").order_by("pk")
    for c in qs.iterator(chunk_size=2000):
        yield [escape_cell(v) for v in (
            c.name, c.short_name, kinds.get(c.kind, c.kind), c.credit_code or "", c.phone, c.email,
            c.industry, c.region.name if c.region else "", c.address, c.source, stages.get(c.stage, c.stage),
            c.level if c.level in CustomerLevel.values else "", "，".join(c.tags or []), c.notes,
            c.external_id or "", c.owner.full_name if c.owner else "", c.owner.email if c.owner else "",
            _local(c.created_at), _local(c.updated_at))]


class _Echo:
    def write(self, value):
        return value


def export_csv_stream(qs: QuerySet[Customer]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([escape_cell(h) for h in export_headers()])
    for row in export_rows(qs):
        yield writer.writerow(row)


def export_xlsx_file(qs: QuerySet[Customer]):
    """A temporary file holding the workbook (openpyxl's write-only mode: constant memory),
    positioned at its start; the caller streams and closes it."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if qs.count() > XLSX_MAX_ROWS:
        from django.core.exceptions import ValidationError

        raise ValidationError({"format": _("超过 Excel 的 %(n)s 行上限，请缩小筛选范围或导出为 CSV。") % {
            "n": f"{XLSX_MAX_ROWS:,}"}})
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("客户"))
    sheet.append(export_headers())
    for row in export_rows(qs):
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) for v in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_file_name(extension: str) -> str:
    return f"customers-{timezone.localtime().strftime('%Y%m%d-%H%M')}.{extension}"
