"""Reading the rows of an uploaded CSV or XLSX file as text: CSV in UTF-8 or GBK/GB18030
(detected, or as the user says; the delimiter sniffed), XLSX from its first sheet. Every problem
with the file itself (an old .xls, UTF-16, an encoding that does not decode, a damaged workbook)
is a ValidationError naming it, under "file" or "encoding". Used by the customer import and the
partner portal's cart import."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

ENCODINGS = {"": "auto", "auto": "auto", "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
             "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030"}


def file_error(message) -> ValidationError:
    return ValidationError({"file": message})


def detect_format(file_name: str, content: bytes) -> str:
    name = (file_name or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise file_error(_("不支持旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再上传。"))
    if name.endswith((".csv", ".txt")) or not name or "." not in name:
        return "csv"
    raise file_error(_("只支持 CSV 和 XLSX 文件，“%(name)s”不是。") % {"name": file_name})


def _decode(content: bytes, encoding: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    chosen = ENCODINGS.get((encoding or "").strip().lower())
    if chosen is None:
        raise ValidationError({"encoding": _("不支持的编码“%(enc)s”，可选：自动识别、UTF-8、GBK。") % {
            "enc": encoding}})
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError({"encoding": _("文件是 UTF-16 编码，请在 Excel 中另存为“CSV UTF-8”或 GBK 编码的 CSV。")})
    if content.startswith(b"\xef\xbb\xbf"):
        if chosen == "gb18030":
            raise ValidationError({"encoding": _("文件带有 UTF-8 标记（BOM），不是 GBK 编码，请选择 UTF-8 或自动识别。")})
        chosen = "utf-8"
    if chosen in ("auto", "utf-8"):
        try:
            return content.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            if chosen == "utf-8":
                raise ValidationError({"encoding": _(
                    "文件不是有效的 UTF-8 编码（第 %(pos)s 个字节无法解码）。如果是 Excel 导出的中文 CSV，"
                    "请选择 GBK 编码。") % {"pos": exc.start + 1}}) from None
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        if chosen == "gb18030":
            raise ValidationError({"encoding": _("文件不是有效的 GBK/GB18030 编码（第 %(pos)s 个字节无法解码）。") % {
                "pos": exc.start + 1}}) from None
        raise ValidationError({"encoding": _(
            "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030（第 %(pos)s 个字节）。请另存为 UTF-8 编码的 CSV。") % {
            "pos": exc.start + 1}}) from None


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value).strip()


def read_csv(content: bytes, encoding: str) -> tuple[Iterator[list[str]], str]:
    text, used = _decode(content, encoding)
    if "\x00" in text:
        raise file_error(_("文件包含空字符（NUL），不是有效的 CSV 文本文件。"))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return ([cell.strip() for cell in row] for row in reader), used


def read_xlsx(content: bytes) -> Iterator[list[str]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception:  # zip, XML and openpyxl errors alike: the file is damaged
        raise file_error(_("XLSX 文件已损坏或不是有效的 Excel（.xlsx）文件，无法读取。")) from None
    try:
        for row in sheet.iter_rows(values_only=True):
            yield [cell_text(v) for v in row]
    finally:
        workbook.close()



def read_rows(*, file_name: str, content: bytes, encoding: str = "") -> tuple[Iterator[list[str]], str, str]:
    """(rows, format "csv" | "xlsx", the encoding a CSV was read with). The rows are produced
    lazily: a damaged workbook or a malformed CSV raises while they are read (csv.Error, or the
    ValidationError of a workbook openpyxl cannot open)."""
    file_format = detect_format(file_name, content)
    if file_format == "xlsx":
        return read_xlsx(content), file_format, ""
    rows, used = read_csv(content, encoding)
    return rows, file_format, used
