"""The aged receivables report as CSV (UTF-8 with a BOM, so Excel shows Chinese correctly) or
XLSX, streamed row by row, with the customers export's cell escaping (crm.customers.exports:
cells that a spreadsheet would run as a formula get a leading apostrophe)."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.customers.exports import XLSX_MAX_ROWS, escape_cell

from .enums import AGING_BUCKETS
from .selectors import AgingRow


def aging_headers() -> list[str]:
    return [_("客户"), _("币种"), _("发票张数"), *[str(label) for label, _low, _high in AGING_BUCKETS.values()],
            _("逾期合计"), _("应收合计")]


def _cells(row: AgingRow, currency: str) -> list[str]:
    return [escape_cell(v) for v in (row.customer_name, currency, row.invoices,
                                     *[row.amounts[k] for k in AGING_BUCKETS], row.overdue, row.total)]


class _Echo:
    def write(self, value):
        return value


def aging_csv_stream(rows: Iterable[AgingRow], *, currency: str, as_of) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([escape_cell(_("账龄日期")), as_of.isoformat()])
    yield writer.writerow([escape_cell(h) for h in aging_headers()])
    for row in rows:
        yield writer.writerow(_cells(row, currency))


def aging_xlsx_file(rows: Iterable[AgingRow], *, currency: str, as_of):
    """A temporary file holding the workbook (openpyxl's write-only mode: constant memory),
    positioned at its start; the caller streams and closes it. Amounts are numbers."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("应收账龄"))
    sheet.append([_("账龄日期"), as_of.isoformat()])
    sheet.append(aging_headers())
    for n, row in enumerate(rows):
        if n >= XLSX_MAX_ROWS:
            break
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", escape_cell(row.customer_name)), currency, row.invoices,
                      *[float(row.amounts[k]) for k in AGING_BUCKETS], float(row.overdue), float(row.total)])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def aging_file_name(extension: str) -> str:
    return f"receivables-aging-{timezone.localtime().strftime('%Y%m%d-%H%M')}.{extension}"
