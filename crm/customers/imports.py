"""Importing customers from CSV (UTF-8 with or without BOM, GBK/GB18030) and XLSX files.

The flow: upload (size-limited; the file is read completely, so a malformed file is refused
before anything is written) -> column mapping (suggested from Chinese or English headers, or
a saved template) -> dry run (per-row errors, rows that will update an existing customer,
likely duplicates; for a file of more than ``DRY_RUN_SYNC_ROWS`` rows in the Celery task
``customers.import_check``, the job staying "uploaded" with ``dry_run.checking`` meanwhile) ->
the real import in the Celery task ``customers.import_run``, in batches of ``BATCH_SIZE``
rows, each batch one transaction together with its audit rows, search tokens and the job's
counters (written by crm.customers.import_write). A failed batch leaves nothing behind, and
a re-run resumes after the last committed batch.

A file of more than ``CHUNK_ROWS`` rows is split into chunks (crm.customers.import_chunks:
rows that name the same customer, credit code, name, phone or e-mail stay in one chunk, so
the result is the serial one) that parallel ``customers.import_chunk`` tasks import, each in
batches as above; the job's counters are increments, each chunk's progress is kept in
``dry_run.run``, and the task that completes the last chunk marks the job done. A failed
chunk fails the job; running it again imports only what is left.

Re-runs are idempotent: a row whose external id (外部编号) or credit code matches an existing
customer updates it instead of creating a second one.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.audit.services import audit_diff, audit_record
from crm.org.enums import Scope
from crm.org.selectors import region_tree, staff_in_scope_of, tenant_config_get
from crm.spreadsheets import file_error as _file_error
from crm.spreadsheets import read_rows

from . import import_chunks
from .enums import DEFAULT_STAGES, CustomerKind
from .import_write import CustomerStats, existing_customers, write_batch
from .models import Customer, ImportJob, ImportTemplate
from .normalize import company_name_normalize, phone_digits
from .services import _clean_customer

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_LABEL = "20 MB"
MAX_ROWS = 200_000
BATCH_SIZE = 1000
CHUNK_ROWS = 25_000  # a bigger file is imported in chunks of about this many rows, by parallel tasks
DRY_RUN_SYNC_ROWS = 20_000  # larger files are dry-run by a task (customers.import_check)
DRY_RUN_ROWS_KEPT = 1000  # rows with findings shown in the review; the counts cover all rows
# field -> label; the order is the order of the mapping form
FIELDS: dict[str, object] = {
    "name": gettext_lazy("客户名称"),
    "short_name": gettext_lazy("简称"),
    "kind": gettext_lazy("类型"),
    "credit_code": gettext_lazy("统一社会信用代码"),
    "phone": gettext_lazy("电话"),
    "email": gettext_lazy("邮箱"),
    "industry": gettext_lazy("行业"),
    "region": gettext_lazy("区域"),
    "address": gettext_lazy("地址"),
    "source": gettext_lazy("来源"),
    "stage": gettext_lazy("阶段"),
    "level": gettext_lazy("等级"),
    "tags": gettext_lazy("标签"),
    "notes": gettext_lazy("备注"),
    "external_id": gettext_lazy("外部编号"),
    "owner_email": gettext_lazy("负责人邮箱"),
}

_ALIASES = {
    "name": ["客户名称", "名称", "客户", "客户名", "公司名称", "企业名称", "公司", "单位名称",
             "name", "customer", "customername", "company", "companyname"],
    "short_name": ["简称", "客户简称", "shortname", "abbreviation"],
    "kind": ["类型", "客户类型", "kind", "type", "customertype"],
    "credit_code": ["统一社会信用代码", "社会信用代码", "信用代码", "creditcode", "uscc",
                    "unifiedsocialcreditcode", "socialcreditcode"],
    "phone": ["电话", "联系电话", "电话号码", "主要电话", "手机", "手机号", "phone", "tel",
              "telephone", "mobile", "phonenumber"],
    "email": ["邮箱", "电子邮箱", "邮件", "电子邮件", "email", "mail", "emailaddress"],
    "industry": ["行业", "所属行业", "industry"],
    "region": ["区域", "地区", "所属区域", "region", "area"],
    "address": ["地址", "详细地址", "公司地址", "联系地址", "address"],
    "source": ["来源", "客户来源", "source", "leadsource"],
    "stage": ["阶段", "客户阶段", "生命周期", "生命周期阶段", "stage", "lifecyclestage"],
    "level": ["等级", "客户等级", "级别", "level", "grade", "rating"],
    "tags": ["标签", "tags", "tag", "labels"],
    "notes": ["备注", "说明", "notes", "note", "remark", "remarks", "comment", "comments"],
    "external_id": ["外部编号", "外部id", "客户编号", "erp编号", "编号", "externalid", "erpid",
                    "externalcode", "customerno", "customerid"],
    "owner_email": ["负责人邮箱", "负责人email", "业务员邮箱", "所有者邮箱", "owneremail",
                    "owner", "salesemail"],
}
_BRACKETS = re.compile(r"[(\[【（][^)\]】）]*[)\]】）]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_FREE_TEXT = ("name", "short_name", "phone", "email", "industry", "address", "source", "notes", "external_id")
_TAG_SPLIT = re.compile(r"[,，;；、|/]+")


def _header_key(header: str) -> str:
    text = unicodedata.normalize("NFKC", header or "").lower()
    text = _BRACKETS.sub("", text)
    return _NON_WORD.sub("", text)


_ALIAS_INDEX = {_header_key(alias): fieldname for fieldname, aliases in _ALIASES.items()
                for alias in aliases}


# -- reading files -------------------------------------------------------------------------------
@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]  # data rows (blank rows dropped), as text
    file_format: str
    encoding: str


def read_table(*, file_name: str, content: bytes, encoding: str = "") -> Table:
    """The whole file as text rows, or ValidationError naming what is wrong with it."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise _file_error(_("文件大小 %(size)s 超过上限 %(limit)s。") % {
            "size": f"{len(content) / 1024 / 1024:.1f} MB", "limit": MAX_UPLOAD_LABEL})
    if not content.strip():
        raise _file_error(_("文件是空的。"))
    rows, file_format, used = read_rows(file_name=file_name, content=content, encoding=encoding)
    headers: list[str] | None = None
    data: list[list[str]] = []
    try:
        for row in rows:
            if not any(row):
                continue
            if headers is None:
                headers = row
                continue
            data.append(row)
            if len(data) > MAX_ROWS:
                raise _file_error(_("文件超过 %(n)s 行的上限，请拆分后分批导入。") % {"n": f"{MAX_ROWS:,}"})
    except ValidationError:
        raise
    except csv.Error as exc:
        raise _file_error(_("CSV 文件格式错误：%(error)s") % {"error": exc}) from None
    except Exception:
        raise _file_error(_("XLSX 文件已损坏或不是有效的 Excel（.xlsx）文件，无法读取。")) from None
    if headers is None:
        raise _file_error(_("文件是空的。"))
    if not data:
        raise _file_error(_("文件只有表头，没有数据行。"))
    return Table(headers=_unique_headers(headers), rows=data, file_format=file_format, encoding=used)


def _unique_headers(raw: list[str]) -> list[str]:
    headers, seen = [], {}
    for i, header in enumerate(raw, start=1):
        header = header.strip() or _("第 %(n)s 列") % {"n": i}
        if header in seen:
            seen[header] += 1
            header = f"{header} ({seen[header]})"
        seen.setdefault(header, 1)
        headers.append(header)
    return headers


# -- mapping -------------------------------------------------------------------------------------
def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """{header: field} for the headers we recognise (each field at most once)."""
    mapping, taken = {}, set()
    for header in headers:
        fieldname = _ALIAS_INDEX.get(_header_key(header))
        if fieldname and fieldname not in taken:
            mapping[header] = fieldname
            taken.add(fieldname)
    return mapping


def clean_mapping(headers: list[str], mapping: dict) -> dict[str, str]:
    """A user-supplied mapping, checked against the file's headers; blank targets dropped."""
    if not isinstance(mapping, dict):
        raise ValidationError({"mapping": _("列映射格式错误，应为 {\"文件列名\": \"字段\"}。")})
    errors, clean, used = {}, {}, {}
    for header, target in mapping.items():
        if not target:
            continue
        if header not in headers:
            errors[f"mapping.{header}"] = _("文件中没有名为“%(col)s”的列。") % {"col": header}
        elif target not in FIELDS:
            errors[f"mapping.{header}"] = _("未知的字段“%(field)s”，可选：%(choices)s") % {
                "field": target, "choices": ", ".join(FIELDS)}
        elif target in used:
            errors[f"mapping.{header}"] = _("字段“%(field)s”已经映射到列“%(col)s”。") % {
                "field": FIELDS[target], "col": used[target]}
        else:
            used[target] = header
            clean[header] = target
    if errors:
        raise ValidationError(errors)
    return clean


def mapping_problem(mapping: dict[str, str]) -> str:
    if "name" not in mapping.values() and "external_id" not in mapping.values() \
            and "credit_code" not in mapping.values():
        return _("找不到客户名称列：请把文件中的一列映射到“客户名称”（已识别的表头见下方）。")
    return ""


# -- planning rows -------------------------------------------------------------------------------
@dataclass
class RowPlan:
    number: int  # the row number in the file (the header is row 1)
    values: list[str]
    data: dict = field(default_factory=dict)
    action: str = "create"  # create, update, reject
    errors: dict = field(default_factory=dict)
    duplicates: list = field(default_factory=list)
    existing: Customer | None = None
    owner: object = None
    keys: tuple = ()

    def reasons(self) -> str:
        parts = [f"{FIELDS.get(k, k)}: {v}" for k, v in self.errors.items()]
        if self.duplicates and not self.errors:
            parts.append(_("疑似重复客户：%(names)s") % {
                "names": "、".join(f"{d['name']}" + (f" (#{d['id']})" if d.get("id") else "")
                                  for d in self.duplicates[:5])})
        return "；".join(parts)


class Planner:
    """Turns file rows into validated plans against the current database, batch by batch,
    remembering keys across batches (a file that names one customer twice is caught)."""

    def __init__(self, *, actor, headers: list[str], mapping: dict[str, str], full: bool = False):
        """``full``: the matched customers are read whole, to be updated (the real import)."""
        self.actor = actor
        self.full = full
        self.columns = [(headers.index(h), f) for h, f in mapping.items() if h in headers]
        self.stages = _stage_lookup()
        self.regions = {}
        for region in region_tree():
            self.regions.setdefault(region.name.strip().lower(), region)
        self.staff = {u.email.lower(): u for u in staff_in_scope_of(actor=actor)
                      .select_related("department", "region")}
        self.kinds = {k: k for k in CustomerKind.values}
        for kind in CustomerKind:
            for lang in ("zh-hans", "en"):
                with translation.override(lang):
                    self.kinds[str(kind.label).lower()] = kind.value
        self.max_length = {f.name: f.max_length for f in Customer._meta.fields if getattr(f, "max_length", None)}
        self.seen_ext: dict[str, int] = {}
        self.seen_code: dict[str, int] = {}
        self.seen_name: dict[str, int] = {}
        self.seen_phone: dict[str, int] = {}
        self.seen_email: dict[str, int] = {}

    # one row, no queries
    def parse(self, number: int, values: list[str]) -> RowPlan:
        plan = RowPlan(number=number, values=values)
        raw = {}
        for index, fieldname in self.columns:
            raw[fieldname] = values[index].strip() if index < len(values) else ""
        errors, data = {}, {}
        for fieldname, value in raw.items():
            limit = self.max_length.get(fieldname)
            if limit and len(value) > limit and fieldname in _FREE_TEXT:
                errors[fieldname] = _("长度 %(n)s 超过上限 %(max)s 个字符。") % {"n": len(value), "max": limit}
        if raw.get("external_id"):
            data["external_id"] = raw["external_id"]
        if raw.get("kind"):
            kind = self.kinds.get(raw["kind"].lower())
            if kind is None:
                errors["kind"] = _("类型“%(v)s”无效，可选：企业、个人。") % {"v": raw["kind"]}
            else:
                data["kind"] = kind
        if raw.get("stage"):
            stage = self.stages.get(raw["stage"].strip().lower())
            if stage is None:
                errors["stage"] = _("阶段“%(stage)s”不存在，可选：%(choices)s") % {
                    "stage": raw["stage"], "choices": "、".join(sorted(set(self.stages.values())))}
            else:
                data["stage"] = stage
        if raw.get("level"):
            level = unicodedata.normalize("NFKC", raw["level"]).replace(" ", "").upper()
            data["level"] = level[0] if re.match(r"^[ABCD](级.*)?$", level) else level
        if raw.get("tags"):
            data["tags"] = [t for t in _TAG_SPLIT.split(raw["tags"]) if t.strip()]
        if raw.get("region"):
            region = self.regions.get(raw["region"].strip().lower())
            if region is None:
                errors["region"] = _("区域“%(v)s”不存在。") % {"v": raw["region"]}
            else:
                data["region"] = region
        if raw.get("owner_email"):
            owner = self.staff.get(raw["owner_email"].strip().lower())
            if owner is None:
                errors["owner_email"] = _("负责人邮箱“%(email)s”不存在、已停用，或不在你的管辖范围内。") % {
                    "email": raw["owner_email"]}
            else:
                plan.owner = owner
        for name in ("name", "short_name", "credit_code", "phone", "email", "industry", "address",
                     "source", "notes"):
            if raw.get(name):
                data[name] = raw[name]
        checkable = {k: v for k, v in data.items()
                     if k in ("name", "kind", "credit_code", "phone", "email", "level", "tags")}
        try:
            data.update(_clean_customer(checkable, partial=True))
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, " ".join(messages))
        plan.data = {k: v for k, v in data.items() if k not in errors}
        plan.errors = errors
        if errors:
            plan.action = "reject"
        return plan

    def _reject(self, plan: RowPlan, key: str, message: str) -> None:
        plan.errors[key] = message
        plan.action = "reject"

    def plan_batch(self, rows: list[tuple[int, list[str]]]) -> list[RowPlan]:
        """Plans of these rows. The customers they match are read without a lock, with their
        row version (``xmin``): the import writes an update only over the version it read
        (crm.customers.import_write)."""
        plans = [self.parse(number, values) for number, values in rows]
        ext_ids = {p.data["external_id"] for p in plans if p.data.get("external_id")}
        codes = {p.data["credit_code"] for p in plans if p.data.get("credit_code")}
        existing_by_ext, existing_by_code = {}, {}
        if ext_ids or codes:
            matches = existing_customers(Q(external_id__in=ext_ids) | Q(credit_code__in=codes), full=self.full)
            for customer in matches:
                if customer.external_id:
                    existing_by_ext[customer.external_id] = customer
                if customer.credit_code:
                    existing_by_code[customer.credit_code] = customer
        visible = set()
        if existing_by_ext or existing_by_code:
            ids = {c.pk for c in existing_by_ext.values()} | {c.pk for c in existing_by_code.values()}
            visible = set(Customer.objects.visible_to(self.actor).filter(pk__in=ids).values_list("pk", flat=True))

        for plan in plans:
            if plan.action == "reject":
                continue
            ext, code = plan.data.get("external_id"), plan.data.get("credit_code")
            # the same customer twice in one file
            if ext and ext in self.seen_ext:
                self._reject(plan, "external_id", _("外部编号“%(v)s”与第 %(row)s 行重复。") % {
                    "v": ext, "row": self.seen_ext[ext]})
                continue
            if code and code in self.seen_code:
                self._reject(plan, "credit_code", _("统一社会信用代码“%(v)s”与第 %(row)s 行重复。") % {
                    "v": code, "row": self.seen_code[code]})
                continue
            by_ext = existing_by_ext.get(ext) if ext else None
            by_code = existing_by_code.get(code) if code else None
            target = by_ext or by_code
            if by_ext and by_code and by_ext.pk != by_code.pk:
                self._reject(plan, "credit_code", _("统一社会信用代码“%(code)s”已属于另一个客户“%(name)s”。") % {
                    "code": code, "name": by_code.name})
                continue
            if by_code and not by_ext and ext and by_code.external_id and by_code.external_id != ext:
                self._reject(plan, "credit_code", _(
                    "统一社会信用代码“%(code)s”已属于客户“%(name)s”（外部编号 %(ext)s），与本行的外部编号不一致。") % {
                    "code": code, "name": by_code.name, "ext": by_code.external_id})
                continue
            if target is not None:
                if target.merged_into_id:
                    self._reject(plan, "external_id" if by_ext else "credit_code",
                                 _("匹配到的客户“%(name)s”已合并到另一个客户（#%(id)s），请改用该客户。") % {
                                     "name": target.name, "id": target.merged_into_id})
                    continue
                if target.pk not in visible:
                    self._reject(plan, "external_id" if by_ext else "credit_code", _(
                        "客户“%(name)s”已存在（负责人：%(owner)s），不在你的可见范围内，不能更新。") % {
                        "name": target.name, "owner": target.owner_name if target.owner_id else _("公海")})
                    continue
                plan.action, plan.existing = "update", target
            else:
                if not plan.data.get("name"):
                    self._reject(plan, "name", _("客户名称不能为空。"))
                    continue
                plan.action = "create"
            self._remember(plan)

        self._flag_likely_duplicates([p for p in plans if p.action == "create"])
        return plans

    def _remember(self, plan: RowPlan) -> None:
        if plan.data.get("external_id"):
            self.seen_ext[plan.data["external_id"]] = plan.number
        if plan.data.get("credit_code"):
            self.seen_code[plan.data["credit_code"]] = plan.number

    def _flag_likely_duplicates(self, creates: list[RowPlan]) -> None:
        """Creates that look like an existing customer (normalised name, phone, email) or
        like an earlier row of the file: flagged, not written unless the user confirms."""
        if not creates:
            return
        keys = {}
        for plan in creates:
            keys[plan.number] = (company_name_normalize(plan.data.get("name", "")),
                                 phone_digits(plan.data.get("phone", "")),
                                 (plan.data.get("email") or "").lower())
        names = {k[0] for k in keys.values() if k[0]}
        phones = {k[1] for k in keys.values() if len(k[1]) >= 5}
        emails = {k[2] for k in keys.values() if k[2]}
        # the phone and e-mail indexes are partial (non-empty values): say so, or a long IN
        # list is not proven to match them and the table is scanned
        condition = (Q(name_norm__in=names) | (Q(phone_digits__in=phones) & ~Q(phone_digits=""))
                     | (Q(email__in=emails) & ~Q(email="")))
        found = list(Customer.objects.live().filter(condition).values("pk", "name", "name_norm",
                                                                        "phone_digits", "email")[:5000]) \
            if (names or phones or emails) else []
        by_name, by_phone, by_email = {}, {}, {}
        for row in found:
            by_name.setdefault(row["name_norm"], []).append(row)
            if row["phone_digits"]:
                by_phone.setdefault(row["phone_digits"], []).append(row)
            if row["email"]:
                by_email.setdefault(row["email"], []).append(row)
        for plan in creates:
            norm, digits, email = keys[plan.number]
            hits: dict[int | str, dict] = {}
            for row, reason in ([(r, "name") for r in by_name.get(norm, []) if norm]
                                + [(r, "phone") for r in by_phone.get(digits, []) if len(digits) >= 5]
                                + [(r, "email") for r in by_email.get(email, []) if email]):
                hit = hits.setdefault(row["pk"], {"id": row["pk"], "name": row["name"], "matched_on": []})
                hit["matched_on"].append(reason)
            for seen, value, reason in ((self.seen_name, norm, "name"), (self.seen_phone, digits, "phone"),
                                        (self.seen_email, email, "email")):
                if value and (reason != "phone" or len(value) >= 5) and value in seen:
                    hit = hits.setdefault(f"row{seen[value]}", {"row": seen[value], "name": _("第 %(n)s 行") % {
                        "n": seen[value]}, "matched_on": []})
                    hit["matched_on"].append(reason)
            plan.duplicates = list(hits.values())
            plan.keys = (norm, digits, email)
            for seen, value in ((self.seen_name, norm), (self.seen_phone, digits), (self.seen_email, email)):
                if value:
                    seen.setdefault(value, plan.number)


def _stage_lookup() -> dict[str, str]:
    stages = tenant_config_get().customer_stages or list(DEFAULT_STAGES)
    lookup = {}
    for key in stages:
        lookup[key.lower()] = key
        label = DEFAULT_STAGES.get(key)
        if label is not None:
            for lang in ("zh-hans", "en"):
                with translation.override(lang):
                    lookup[str(label).strip().lower()] = key
    return lookup


# -- jobs: visibility ----------------------------------------------------------------------------
def import_job_list_visible_to(*, actor) -> QuerySet[ImportJob]:
    """Jobs the actor created, and for managers, those of staff in their scope."""
    qs = ImportJob.objects.select_related("created_by")
    if not actor.is_active:
        return qs.none()
    if actor.effective_scope() == Scope.OWN:
        return qs.filter(created_by=actor)
    return qs.filter(Q(created_by=actor) | Q(created_by__in=staff_in_scope_of(actor=actor)))


def import_job_get_for_actor(*, actor, job_id, for_update: bool = False) -> ImportJob:
    """ImportJob.DoesNotExist (a 404) when the job is not the actor's to see."""
    qs = import_job_list_visible_to(actor=actor).filter(pk=job_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return qs.get()


# -- jobs: dry run -------------------------------------------------------------------------------
def _dry_run(*, actor, table: Table, mapping: dict[str, str]) -> dict:
    summary = {"total": len(table.rows), "create": 0, "update": 0, "reject": 0, "duplicates": 0}
    findings = []
    planner = Planner(actor=actor, headers=table.headers, mapping=mapping)
    for start in range(0, len(table.rows), BATCH_SIZE):
        batch = [(start + i + 2, row) for i, row in enumerate(table.rows[start:start + BATCH_SIZE])]
        for plan in planner.plan_batch(batch):
            summary[plan.action] += 1
            if plan.action == "create" and plan.duplicates:
                summary["duplicates"] += 1
            if (plan.errors or plan.duplicates) and len(findings) < DRY_RUN_ROWS_KEPT:
                findings.append({"row": plan.number, "action": plan.action, "errors": plan.errors,
                                 "duplicates": plan.duplicates,
                                 "name": plan.data.get("name") or (plan.existing.name if plan.existing else ""),
                                 "existing_id": plan.existing.pk if plan.existing else None})
            elif plan.action == "update" and len(findings) < DRY_RUN_ROWS_KEPT:
                findings.append({"row": plan.number, "action": "update", "errors": {}, "duplicates": [],
                                 "name": plan.existing.name, "existing_id": plan.existing.pk})
    mapped = set(mapping)
    return {"summary": summary, "rows": findings, "headers": table.headers,
            "ignored_columns": [h for h in table.headers if h not in mapped],
            "checked_at": timezone.now().isoformat()}


def import_job_create(*, actor, file_name: str, content: bytes, encoding: str = "",
                      mapping: dict | None = None, template_id: int | None = None) -> ImportJob:
    """Read the upload, map its columns (given, from a template, or suggested) and dry-run it.
    Nothing is imported yet. A file that cannot be read raises ValidationError and no job
    is kept. A file of more than DRY_RUN_SYNC_ROWS rows is dry-run by a task after commit
    (the job stays "uploaded" with ``dry_run.checking`` until the result is in)."""
    table = read_table(file_name=file_name, content=content, encoding=encoding)
    if template_id:
        template = ImportTemplate.objects.filter(pk=template_id, target="customers").first()
        if template is None:
            raise ValidationError({"template": _("所选的导入模板不存在。")})
        mapping = {h: f for h, f in template.mapping.items() if h in table.headers}
    mapping = clean_mapping(table.headers, mapping) if mapping else suggest_mapping(table.headers)
    job = ImportJob(target="customers", file_name=(file_name or "upload")[:255], file_format=table.file_format,
                    encoding=table.encoding, content=content, mapping=mapping, created_by=actor,
                    total_rows=len(table.rows))
    _check(job, actor=actor, table=table)
    with transaction.atomic():
        job.save()
        audit_record(actor=actor, instance=job, action="create",
                     changes={"file_name": {"old": None, "new": job.file_name},
                              "rows": {"old": None, "new": job.total_rows}})
        _queue_check(job)
    return job


def _check(job: ImportJob, *, actor, table: Table) -> None:
    problem = mapping_problem(job.mapping)
    ignored = [h for h in table.headers if h not in job.mapping]
    if problem:
        job.status = ImportJob.Status.UPLOADED
        job.dry_run = {"mapping_error": problem, "headers": table.headers, "ignored_columns": ignored,
                       "summary": {"total": len(table.rows)}}
        return
    if len(table.rows) > DRY_RUN_SYNC_ROWS:
        # The note goes where the pages and the API already show why a job cannot run yet.
        job.status = ImportJob.Status.UPLOADED
        job.dry_run = {"checking": True, "check_id": uuid.uuid4().hex, "headers": table.headers,
                       "ignored_columns": ignored, "summary": {"total": len(table.rows)},
                       "mapping_error": _("正在后台预检 %(n)s 行，完成后刷新本页即可查看结果并开始导入。") % {
                           "n": f"{len(table.rows):,}"}}
        return
    job.dry_run = _dry_run(actor=actor, table=table, mapping=job.mapping)
    job.status = ImportJob.Status.CHECKED


def _queue_check(job: ImportJob) -> None:
    """After commit, queue the dry run that ``_check`` left to a task (in this tenant's schema)."""
    if not job.dry_run.get("checking"):
        return
    from .tasks import customers_import_check_task

    job_pk, check_id, schema = job.pk, job.dry_run["check_id"], connection.schema_name
    transaction.on_commit(lambda: customers_import_check_task.apply_async(
        args=[job_pk, check_id], headers={"_schema_name": schema}))


def import_job_check(*, actor, job_id: int, mapping: dict | None = None, encoding: str | None = None,
                     template_name: str = "") -> ImportJob:
    """Change the mapping (or the encoding) of a job not yet run, and dry-run it again (a big
    file in a task, as on upload); optionally save the mapping as a named template."""
    with transaction.atomic():
        job = import_job_get_for_actor(actor=actor, job_id=job_id, for_update=True)
        if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.CHECKED):
            raise ValidationError({"status": _("导入已开始或已完成，不能再修改列映射。")})
        table = read_table(file_name=job.file_name, content=bytes(job.content),
                           encoding=encoding if encoding is not None else job.encoding)
        if mapping is not None:
            job.mapping = clean_mapping(table.headers, mapping)
        job.encoding = table.encoding
        job.total_rows = len(table.rows)
        _check(job, actor=job.created_by, table=table)
        job.save(update_fields=["mapping", "encoding", "total_rows", "dry_run", "status"])
        _queue_check(job)  # a check still running for the former mapping will be discarded
        if template_name:
            import_template_save(actor=actor, name=template_name, mapping=job.mapping)
    return job


def _check_is_current(job: ImportJob, check_id: str) -> bool:
    return (job.status == ImportJob.Status.UPLOADED and job.dry_run.get("checking")
            and job.dry_run.get("check_id") == check_id)


def import_job_check_execute(*, job_id: int, check_id: str) -> ImportJob:
    """The body of the check task: the dry run of a big file, with the creator's scope, as on
    upload. Idempotent: only the newest check of a job that has not started writes its result
    (a mapping changed meanwhile queued another one); a repeated delivery does it again."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if not _check_is_current(job, check_id):
        return job
    actor = job.created_by
    if actor is None or not actor.is_active:
        result, status = {**job.dry_run, "checking": False,
                          "mapping_error": _("发起导入的员工已停用，不能预检。")}, ImportJob.Status.UPLOADED
    else:
        table = read_table(file_name=job.file_name, content=bytes(job.content), encoding=job.encoding)
        result, status = _dry_run(actor=actor, table=table, mapping=job.mapping), ImportJob.Status.CHECKED
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).get(pk=job_id)
        if not _check_is_current(job, check_id):
            return job
        job.dry_run, job.status = result, status
        job.save(update_fields=["dry_run", "status"])
    return job


def import_job_check_fail(*, job_id: int, check_id: str, error: str) -> None:
    """A check task that failed: the job says so (it can be checked again by saving its mapping)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).filter(pk=job_id).first()
        if job is None or not _check_is_current(job, check_id):
            return
        job.dry_run = {**job.dry_run, "checking": False, "mapping_error": error[:2000]}
        job.save(update_fields=["dry_run"])


# -- jobs: the real import -----------------------------------------------------------------------
def import_job_run(*, actor, job_id: int, allow_duplicates: bool = False) -> tuple[ImportJob, bool]:
    """Queue the import (after commit). Idempotent: a job already queued, running or done is
    returned as it is, with ``queued`` False."""
    from .tasks import customers_import_run_task

    with transaction.atomic():
        job = import_job_get_for_actor(actor=actor, job_id=job_id, for_update=True)
        if job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.DONE):
            return job, False
        if job.status == ImportJob.Status.UPLOADED:
            raise ValidationError({"mapping": job.dry_run.get("mapping_error") or _("请先完成列映射并预检。")})
        job.status = ImportJob.Status.QUEUED
        job.error = ""
        job.dry_run = {**job.dry_run, "options": {"allow_duplicates": bool(allow_duplicates),
                                                  "requested_by": actor.pk}}
        job.save(update_fields=["status", "error", "dry_run"])
        audit_record(actor=actor, instance=job, action="run",
                     changes={"allow_duplicates": {"old": None, "new": bool(allow_duplicates)}})
        job_pk, schema = job.pk, connection.schema_name  # the task runs in this tenant's schema
        transaction.on_commit(lambda: customers_import_run_task.apply_async(
            args=[job_pk], headers={"_schema_name": schema}))
    return job, True


def import_job_fail(*, job_id: int, error: str) -> None:
    ImportJob.objects.filter(pk=job_id).exclude(status=ImportJob.Status.DONE).update(
        status=ImportJob.Status.FAILED, error=error[:2000], finished_at=timezone.now())


def _report_line(values: list) -> str:
    from .exports import escape_cell

    buffer = io.StringIO()
    csv.writer(buffer).writerow([escape_cell(v) for v in values])
    return buffer.getvalue()


def import_job_execute(*, job_id: int, batch_size: int = BATCH_SIZE) -> ImportJob:
    """The body of the import task: write the file in batches, each batch one transaction
    with its audit rows, search tokens and the job's counters. Resumes after the last
    committed batch; a job already done, or being run by another worker (a redelivered
    task), is left alone."""
    key = f"customers.import:{connection.schema_name}:{job_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        if not cursor.fetchone()[0]:
            return ImportJob.objects.get(pk=job_id)
    try:
        return _execute(job_id=job_id, batch_size=batch_size)
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
        except DatabaseError:  # a broken connection: the session's lock went with it
            pass


def _execute(*, job_id: int, batch_size: int) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).select_related("created_by").get(pk=job_id)
        if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
            return job
        actor = job.created_by
        if actor is None or not actor.is_active:
            job.status, job.error = ImportJob.Status.FAILED, _("发起导入的员工已停用，导入未执行。")
            job.save(update_fields=["status", "error"])
            return job
        # the whole file is read before anything is written: a malformed one fails here
        table = read_table(file_name=job.file_name, content=bytes(job.content), encoding=job.encoding)
        job.status = ImportJob.Status.RUNNING
        job.total_rows = len(table.rows)
        job.error = ""
        if not job.error_report:
            job.error_report = "\ufeff" + _report_line([_("行号"), _("原因"), *table.headers])
        run = job.dry_run.get("run")
        if run is None and not job.processed_rows and len(table.rows) > CHUNK_ROWS:
            n = -(-len(table.rows) // CHUNK_ROWS)  # chunks of equal size, at most CHUNK_ROWS rows each
            chunks = import_chunks.partition(table.rows, headers=table.headers, mapping=job.mapping,
                                             size=-(-len(table.rows) // n))
            run = {"chunks": [{"rows": import_chunks.ranges(c), "size": len(c), "done": 0} for c in chunks]}
            job.dry_run = {**job.dry_run, "run": run}
        job.save(update_fields=["status", "total_rows", "error", "error_report", "dry_run"])
        if run is not None:
            pending = [i for i, chunk in enumerate(run["chunks"]) if chunk["done"] < chunk["size"]]
            if pending:
                _queue_chunks(job.pk, pending)
                return job
    if run is not None:  # every chunk done, the job not marked so (its last task was cut short)
        return _finish(job_id=job.pk, actor=actor)
    _import_rows(job=job, actor=actor, table=table, rows=range(len(table.rows)), done=job.processed_rows,
                 batch_size=batch_size)
    return _finish(job_id=job.pk, actor=actor)


def _queue_chunks(job_id: int, chunks: list[int]) -> None:
    """After commit, one task per chunk (a group; there is no result backend for a chord, so
    the task that completes the last chunk marks the job done)."""
    from .tasks import customers_import_chunk_task

    schema = connection.schema_name
    transaction.on_commit(lambda: [customers_import_chunk_task.apply_async(
        args=[job_id, i], headers={"_schema_name": schema}) for i in chunks])


class _JobStopped(Exception):
    """The job is no longer running (another chunk failed): this task stops."""


def _import_rows(*, job: ImportJob, actor, table: Table, rows, done: int, batch_size: int,
                 chunk: int | None = None) -> None:
    """Import the table rows at these indexes (in file order), the first ``done`` of them
    handled already: batches of ``batch_size``, each one transaction with its audit rows,
    search tokens and the job's counters (and, for a chunk, its progress)."""
    allow_duplicates = bool(job.dry_run.get("options", {}).get("allow_duplicates"))
    planner = Planner(actor=actor, headers=table.headers, mapping=job.mapping, full=True)
    for start in range(0, done, batch_size):  # resuming: remember the keys of the rows already handled
        planner.plan_batch([(i + 2, table.rows[i]) for i in rows[start:min(start + batch_size, done)]])
    stats = CustomerStats()
    for start in range(done, len(rows), batch_size):
        batch = [(i + 2, table.rows[i]) for i in rows[start:start + batch_size]]
        stats.refresh()
        try:
            with transaction.atomic():
                plans = planner.plan_batch(batch)
                created, updated, rejected = write_batch(plans, actor=actor, job=job,
                                                         allow_duplicates=allow_duplicates)
                report = "".join(_report_line([p.number, p.reasons(), *p.values]) for p in rejected)
                if chunk is None:
                    progress = {"processed_rows": start + len(batch)}
                else:  # several tasks add to the same job: increments, and this chunk's own count
                    progress = {"processed_rows": F("processed_rows") + len(batch), "dry_run": RawSQL(
                        "jsonb_set(dry_run, %s::text[], to_jsonb(%s::integer))",
                        (["run", "chunks", str(chunk), "done"], start + len(batch)))}
                if not ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
                        **progress, created_rows=F("created_rows") + created,
                        updated_rows=F("updated_rows") + updated,
                        rejected_rows=F("rejected_rows") + len(rejected),
                        error_report=Concat(F("error_report"), Value(report)) if report else F("error_report")):
                    raise _JobStopped  # this batch is rolled back
        except _JobStopped:
            return
        stats.created(created)


def _finish(*, job_id: int, actor) -> ImportJob:
    """Mark a running job done once all its rows are handled (for a chunked job: when every
    chunk is; the rejected rows of the error report then put back in file order)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update(of=("self",)).get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return job
        chunks = job.dry_run.get("run", {}).get("chunks")
        if chunks and any(c["done"] < c["size"] for c in chunks):
            return job  # the other chunks' tasks are still at work
        if chunks:
            job.error_report = _report_sorted(job.error_report)
        job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
        job.save(update_fields=["status", "finished_at", "error_report"])
        audit_record(actor=actor, instance=job, action="done", changes={
            "created": {"old": None, "new": job.created_rows}, "updated": {"old": None, "new": job.updated_rows},
            "rejected": {"old": None, "new": job.rejected_rows}})
    return job


def _report_sorted(report: str) -> str:
    """The error report with its rows in file order (chunks append theirs as they go)."""
    lines = list(csv.reader(io.StringIO(report.removeprefix("\ufeff"), newline="")))
    if len(lines) < 3:
        return report
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(lines[0])
    writer.writerows(sorted(lines[1:], key=lambda line: int(line[0])))
    return "\ufeff" + buffer.getvalue()


def import_chunk_execute(*, job_id: int, chunk: int, batch_size: int = BATCH_SIZE) -> ImportJob:
    """The body of a chunk task: import this chunk's rows, resuming after its last committed
    batch; the task that completes the last chunk marks the job done. A chunk being run by
    another worker (a redelivered task), or of a job no longer running, is left alone."""
    key = f"customers.import:{connection.schema_name}:{job_id}:{chunk}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        if not cursor.fetchone()[0]:
            return ImportJob.objects.get(pk=job_id)
    try:
        job = ImportJob.objects.select_related("created_by").get(pk=job_id)
        if job.status != ImportJob.Status.RUNNING:
            return job
        spec = job.dry_run["run"]["chunks"][chunk]
        table = read_table(file_name=job.file_name, content=bytes(job.content), encoding=job.encoding)
        _import_rows(job=job, actor=job.created_by, table=table, rows=import_chunks.expand(spec["rows"]),
                     done=spec["done"], batch_size=batch_size, chunk=chunk)
        return _finish(job_id=job_id, actor=job.created_by)
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
        except DatabaseError:
            pass


# -- templates -----------------------------------------------------------------------------------
def import_template_list() -> QuerySet[ImportTemplate]:
    return ImportTemplate.objects.filter(target="customers").order_by("name")


def import_template_save(*, actor, name: str, mapping: dict) -> ImportTemplate:
    """Save (or replace) a named column mapping."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"template_name": _("模板名称不能为空。")})
    if len(name) > 100:
        raise ValidationError({"template_name": _("模板名称最长 100 个字符。")})
    bad = [f for f in (mapping or {}).values() if f and f not in FIELDS]
    if not mapping or bad:
        raise ValidationError({"mapping": _("模板的列映射为空或包含未知字段：%(f)s") % {"f": ", ".join(bad) or "-"}})
    with transaction.atomic():
        template, created = ImportTemplate.objects.select_for_update().get_or_create(
            target="customers", name=name, defaults={"mapping": mapping, "created_by": actor})
        before = {} if created else {"mapping": template.mapping}
        if not created:
            template.mapping = mapping
            template.save(update_fields=["mapping"])
        audit_record(actor=actor, instance=template, action="create" if created else "update",
                     changes=audit_diff(before, {"mapping": mapping}))
    return template


def field_choices() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, label in FIELDS.items()]
