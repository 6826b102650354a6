"""The tenant's full data export: a ZIP with one CSV per table of the tenant schema (UTF-8 with
a BOM so that Excel reads Chinese text, a header row), without password hashes, tokens, secrets
or sessions. A tenant admin asks for it on the billing page; a Celery task writes it to the
default storage under a random name, then the admin gets an email with a download link that
only a tenant admin of this tenant can use and that expires. It works while the tenant is
suspended or cancelled (the retention period): that is when it matters most.

Every request, every finished export and every download is written to the tenant's audit trail;
a finished export is also a DATA_EXPORTED TenantEvent in the public schema."""

from __future__ import annotations

import datetime
import logging
import re
import secrets
import tempfile
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.audit.models import AuditEntry
from crm.audit.services import audit_record

from .models import TenantConfig, User
from .permissions import is_tenant_admin

log = logging.getLogger(__name__)

EXPORT_DIR = "exports"
SALT = "crm.org.data_export"
LINK_DAYS = getattr(settings, "DATA_EXPORT_LINK_DAYS", 7)
RUNNING_KEY = "data-export-running"  # per schema (the cache key function adds it)
RUNNING_SECONDS = 30 * 60
BOM = "\ufeff".encode()

# Tables that are not business data, or that hold credentials: never exported.
EXCLUDED_TABLES = frozenset({
    "django_session", "authtoken_token", "django_migrations", "auth_permission",
    "auth_group_permissions", "org_user_user_permissions",
})
# Columns that hold a credential (password hashes, API and webhook secrets, token hashes).
SECRET_COLUMN = re.compile(r"password|secret|token|otp|api_key|private_key", re.IGNORECASE)
# Derived search data (tsvector columns, n-gram index tables): rebuilt from the records
# themselves, not the tenant's own data, and unreadable in a spreadsheet.
SKIPPED_TYPES = frozenset({"tsvector"})
DERIVED_TABLE = re.compile(r"gram$")
ACTION_REQUESTED, ACTION_READY, ACTION_DOWNLOADED = "data_export_request", "data_export", "data_export_download"


class ExportLinkExpired(Exception):
    pass


class ExportNotFound(Exception):
    pass


@dataclass(frozen=True)
class ExportFile:
    name: str  # storage name
    created_at: datetime.datetime
    expires_at: datetime.datetime
    size: int
    tables: int
    token: str

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()


def _config() -> TenantConfig:
    config, _created = TenantConfig.objects.get_or_create(id=1)
    return config


def _schema() -> str:
    return connection.schema_name


# -- the tables -----------------------------------------------------------------------------------
def export_tables(schema: str | None = None) -> list[tuple[str, list[str], bool]]:
    """(table, exported columns, has an id column) of every business table in ``schema`` only
    (never another schema's tables that the search path also shows)."""
    schema = schema or _schema()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name, c.udt_name FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position", [schema])
        rows = cursor.fetchall()
    tables: dict[str, list[str]] = {}
    for table, column, udt in rows:
        if table in EXCLUDED_TABLES or DERIVED_TABLE.search(table):
            continue
        columns = tables.setdefault(table, [])
        if SECRET_COLUMN.search(column) or udt in SKIPPED_TYPES:
            continue
        columns.append(column)
    return [(table, cols, "id" in cols) for table, cols in sorted(tables.items()) if cols]


def _copy_table(zf: zipfile.ZipFile, schema: str, table: str, columns: list[str], ordered: bool) -> None:
    quote = connection.ops.quote_name
    select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(schema)}.{quote(table)}"
    if ordered:
        select += f" ORDER BY {quote('id')}"
    with zf.open(f"{table}.csv", "w") as out, connection.cursor() as cursor:
        out.write(BOM)
        with cursor.cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')") as copy:
            for chunk in copy:
                out.write(bytes(chunk))


def _write_zip(fileobj, schema: str) -> int:
    tables = export_tables(schema)
    outermost = not connection.in_atomic_block
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with transaction.atomic():
            if outermost:  # one consistent snapshot of every table (in a task, not in a test's transaction)
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for table, columns, ordered in tables:
                _copy_table(zf, schema, table, columns, ordered)
        readme = render_to_string("org/billing/export_readme.txt", {
            "tables": tables, "at": timezone.now(), "schema": schema})
        zf.writestr("README.txt", BOM + readme.encode())
    return len(tables)


# -- links ----------------------------------------------------------------------------------------
def _token(*, schema: str, name: str, expires_at: datetime.datetime) -> str:
    return signing.dumps({"s": schema, "n": name, "e": int(expires_at.timestamp())}, salt=SALT)


def download_path(token: str) -> str:
    return reverse("org:billing-export-download", kwargs={"token": token})


# -- services -------------------------------------------------------------------------------------
def data_export_request(*, actor: User, base_url: str) -> None:
    """A tenant admin asks for the export: recorded, then built in a task after the commit.
    One export at a time per tenant."""
    from .tasks import org_data_export_task

    if not is_tenant_admin(actor):
        raise PermissionDenied(_("只有系统管理员可以导出全部数据。"))
    if not cache.add(RUNNING_KEY, actor.pk, RUNNING_SECONDS):
        raise ValidationError({"export": _("已有一份数据导出正在准备中，完成后会发送邮件，请稍后再试。")})
    try:
        with transaction.atomic():
            audit_record(actor=actor, instance=_config(), action=ACTION_REQUESTED,
                         note=_("申请导出全部数据"))
            transaction.on_commit(lambda: org_data_export_task.delay(actor.pk, base_url))
    except Exception:
        cache.delete(RUNNING_KEY)
        raise


def data_export_build(*, requested_by_id: int, base_url: str = "") -> ExportFile:
    """Write the ZIP to the default storage, record it, email the link to the admin who asked.
    Runs in the tenant's schema (the Celery task carries it)."""
    from tenants.enums import TenantEventKind
    from tenants.models import Tenant
    from tenants.services import tenant_event_record

    schema = _schema()
    requester = User.objects.filter(pk=requested_by_id).first()
    try:
        data_export_purge()
        with tempfile.TemporaryFile() as tmp:
            tables = _write_zip(tmp, schema)
            size = tmp.tell()
            tmp.seek(0)
            name = default_storage.save(f"{EXPORT_DIR}/{schema}/{secrets.token_urlsafe(24)}.zip", File(tmp))
        created = timezone.now()
        expires = created + datetime.timedelta(days=LINK_DAYS)
        export = ExportFile(name=name, created_at=created, expires_at=expires, size=size, tables=tables,
                            token=_token(schema=schema, name=name, expires_at=expires))
        with transaction.atomic():
            audit_record(actor=requester, instance=_config(), action=ACTION_READY,
                         changes={"file": {"old": None, "new": {
                             "name": name, "size": size, "tables": tables,
                             "expires_at": expires.isoformat()}}},
                         note=_("全部数据已导出"))
            tenant_id = Tenant.objects.filter(schema_name=schema).values_list("pk", flat=True).first()
            if tenant_id is not None:
                tenant_event_record(tenant_id=tenant_id, kind=TenantEventKind.DATA_EXPORTED,
                                    actor=requester.email if requester else "system",
                                    tables=tables, bytes=size, expires_at=expires.isoformat())
        if requester is not None and requester.email:
            transaction.on_commit(lambda: _send_ready_email(requester, export, base_url))
        return export
    finally:
        cache.delete(RUNNING_KEY)


def _send_ready_email(user: User, export: ExportFile, base_url: str) -> None:
    link = f"{base_url.rstrip('/')}{download_path(export.token)}" if base_url else download_path(export.token)
    with translation.override(user.language or translation.get_language()):
        subject = _("你的 Qiao 数据导出已完成")
        body = render_to_string("org/billing/email_export_ready.txt",
                                {"user": user, "link": link, "export": export})
    send_mail(subject, body, None, [user.email])


def data_export_list(*, limit: int = 5) -> list[ExportFile]:
    """The latest finished exports of this tenant, newest first, with their download tokens."""
    from django.contrib.contenttypes.models import ContentType

    schema = _schema()
    entries = (AuditEntry.objects.filter(action=ACTION_READY,
                                         content_type=ContentType.objects.get_for_model(TenantConfig))
               .order_by("-at", "-id")[:limit])
    files = []
    for entry in entries:
        info = (entry.changes or {}).get("file", {}).get("new") or {}
        if not info.get("name"):
            continue
        expires = datetime.datetime.fromisoformat(info["expires_at"])
        files.append(ExportFile(name=info["name"], created_at=entry.at, expires_at=expires,
                                size=info.get("size", 0), tables=info.get("tables", 0),
                                token=_token(schema=schema, name=info["name"], expires_at=expires)))
    return files


def data_export_open(*, actor: User, token: str):
    """The file behind a download link, for a tenant admin of the tenant it was made for.
    ExportNotFound for anyone else and for a forged link; ExportLinkExpired after expiry."""
    if not is_tenant_admin(actor):
        raise ExportNotFound
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise ExportNotFound from None
    if not isinstance(data, dict) or data.get("s") != _schema():
        raise ExportNotFound
    name = str(data.get("n", ""))
    if not name.startswith(f"{EXPORT_DIR}/{_schema()}/"):
        raise ExportNotFound
    if int(data.get("e", 0)) <= timezone.now().timestamp() or not default_storage.exists(name):
        raise ExportLinkExpired
    with transaction.atomic():
        audit_record(actor=actor, instance=_config(), action=ACTION_DOWNLOADED, note=name.rsplit("/", 1)[-1])
    return default_storage.open(name, "rb")


def data_export_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete this tenant's export files older than the link lifetime."""
    now = now or timezone.now()
    folder = f"{EXPORT_DIR}/{_schema()}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return 0
    removed = 0
    for filename in files:
        name = f"{folder}/{filename}"
        try:
            modified = default_storage.get_modified_time(name)
        except (NotImplementedError, OSError):
            continue
        if modified + datetime.timedelta(days=LINK_DAYS) < now:
            default_storage.delete(name)
            removed += 1
    return removed
