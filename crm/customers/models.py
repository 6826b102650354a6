from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Collate, Length
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import ContactRole, CustomerKind, CustomerLevel, CustomFieldType, OwnershipReason

# The collation of the name sort: pinyin (ICU's Chinese) where the server has ICU, else code
# points; created by migration 0004_customer_sort_indexes. Selectors sort by it.
NAME_COLLATION = "qiao_name_order"


class CustomerQuerySet(ScopedQuerySet):
    def live(self):
        """Not merged into another customer."""
        return self.filter(merged_into__isnull=True)

    def in_pool(self):
        return self.live().filter(owner__isnull=True)


class Customer(models.Model):
    """A customer company or person: a company asset with one owner (or none, in the pool)."""

    kind = models.CharField(_("类型"), max_length=16, choices=CustomerKind.choices, default=CustomerKind.COMPANY)
    name = models.CharField(_("名称"), max_length=200)
    short_name = models.CharField(_("简称"), max_length=100, blank=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, null=True, blank=True, unique=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    industry = models.CharField(_("行业"), max_length=100, blank=True)
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("区域"))
    address = models.CharField(_("地址"), max_length=300, blank=True)
    source = models.CharField(_("来源"), max_length=50, blank=True)
    stage = models.CharField(_("阶段"), max_length=32, default="prospect")
    level = models.CharField(_("等级"), max_length=1, choices=CustomerLevel.choices, blank=True)
    tags = ArrayField(models.CharField(max_length=32), default=list, blank=True, verbose_name=_("标签"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="customers", verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    external_id = models.CharField(_("外部编号"), max_length=64, null=True, blank=True, unique=True,
                                   help_text=_("ERP 或导入文件中的编号；重复导入时据此更新而不是新建"))

    # derived, kept by the services
    name_norm = models.CharField(max_length=200, editable=False, default="")
    phone_digits = models.CharField(max_length=40, editable=False, default="")
    # the full pinyin of the short name (else of the normalised name), letters and digits only,
    # in the C collation: the btree behind pinyin searches that many customers match
    pinyin_key = models.CharField(max_length=60, editable=False, default="", db_collation="C")
    search_vector = SearchVectorField(null=True, editable=False)

    # ownership and the shared pool
    last_activity_at = models.DateTimeField(_("最近跟进"), null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_from = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+",
                                      help_text="the owner it was released from (no reclaim for M days)")
    pool_warned_at = models.DateTimeField(null=True, blank=True)

    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="merged_from")
    merged_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope_fields = ScopeFields(owner="owner", department="department", region="region")
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-updated_at", "-id"], name="customer_owner_updated"),
            models.Index(fields=["region", "-updated_at", "-id"], name="customer_region_updated"),
            models.Index(fields=["department", "-updated_at", "-id"], name="customer_dept_updated"),
            models.Index(fields=["-updated_at", "-id"], name="customer_updated"),
            models.Index(fields=["stage", "-updated_at"], name="customer_stage_updated"),
            models.Index(fields=["name_norm"], name="customer_name_norm"),
            models.Index(F("pinyin_key"), Length("name"), F("updated_at").desc(), F("id").desc(),
                         name="customer_pinyin_key"),
            models.Index(fields=["phone_digits"], name="customer_phone_digits",
                         condition=~Q(phone_digits="")),
            models.Index(fields=["email"], name="customer_email", condition=~Q(email="")),
            models.Index(fields=["last_activity_at"], name="customer_owned_activity",
                         condition=Q(owner__isnull=False, merged_into__isnull=True)),
            models.Index(fields=["region", "-released_at"], name="customer_pool",
                         condition=Q(owner__isnull=True, merged_into__isnull=True)),
            GinIndex(fields=["tags"], name="customer_tags"),
            GinIndex(fields=["search_vector"], name="customer_search"),
            # The other sorts of the list (selectors.CUSTOMER_SORTS): (key, id) for everyone
            # and per owner, read forwards or backwards; only live customers are listed.
            # (-updated_at, -id) is served by the indexes above.
            models.Index(fields=["-created_at", "-id"], name="customer_created",
                         condition=Q(merged_into__isnull=True)),
            models.Index(fields=["owner", "-created_at", "-id"], name="customer_owner_created",
                         condition=Q(merged_into__isnull=True)),
            models.Index(F("last_activity_at").asc(nulls_first=True), F("id").asc(), name="customer_last_activity",
                         condition=Q(merged_into__isnull=True)),
            models.Index(F("owner"), F("last_activity_at").asc(nulls_first=True), F("id").asc(),
                         name="customer_owner_last_activity", condition=Q(merged_into__isnull=True)),
            models.Index(Collate("name", NAME_COLLATION), F("id"), name="customer_name_sort",
                         condition=Q(merged_into__isnull=True)),
            models.Index(F("owner"), Collate("name", NAME_COLLATION), F("id"), name="customer_owner_name_sort",
                         condition=Q(merged_into__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.name

    def in_pool(self) -> bool:
        return self.owner_id is None and self.merged_into_id is None


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contacts",
                                 verbose_name=_("客户"))
    name = models.CharField(_("姓名"), max_length=100)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    department = models.CharField(_("部门"), max_length=100, blank=True)
    role = models.CharField(_("角色"), max_length=32, choices=ContactRole.choices, blank=True)
    phones = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("电话"))
    emails = ArrayField(models.EmailField(), default=list, blank=True, verbose_name=_("邮箱"))
    wechat = models.CharField(_("微信"), max_length=64, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    search_vector = SearchVectorField(null=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope_fields = ScopeFields(owner="customer__owner", department="customer__department",
                               region="customer__region")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["customer_id", "name", "id"]
        indexes = [
            models.Index(fields=["customer", "name"], name="contact_customer"),
            GinIndex(fields=["search_vector"], name="contact_search"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerNameGram(models.Model):
    """One pair of neighbouring characters of a customer's folded name or short name (its
    ``b:XY`` search tokens) with the customer's update time: a query of two characters that
    thousands of customers share (a brand, 徐工) reads its newest matches from one range of
    ``customer_name_gram_newest`` instead of sorting every match's row by update time. Derived
    data, written with the customer's search tokens (crm.customers.search.customer_index)."""

    pk = models.CompositePrimaryKey("customer", "gram")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # the pk
    gram = models.IntegerField(help_text="the two characters' code points (16 bits each), minus 2**31")
    updated_at = models.DateTimeField(help_text="the customer's")

    class Meta:
        indexes = [models.Index(fields=["gram", "-updated_at", "-customer"], name="customer_name_gram_newest")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.gram}"


class ContactPhoneGram(models.Model):
    """One run of four consecutive digits of one of a contact's phone numbers (the contact's
    ``d:NNNN`` search tokens, ASCII digits only), with what the search ranks contacts by: a
    search by four digits reads the first entries of one range of ``contact_phone_gram_rank``
    (already in the ranking's order) and counts the range through the same index, instead of
    reading every matching contact's row (about 1,600 scattered rows at 2M contacts).
    Derived data, written with the contact's search tokens (crm.customers.search.contact_index)."""

    pk = models.CompositePrimaryKey("contact", "gram")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)  # the pk
    gram = models.SmallIntegerField(help_text="the four digits as a number (0755 -> 755)")
    rank = models.SmallIntegerField(help_text="0: the folded name is these digits, 1: starts with them, 2: else")
    name_len = models.SmallIntegerField(help_text="the length of the contact's name")
    updated_at = models.DateTimeField(help_text="the contact's")

    class Meta:
        indexes = [models.Index(fields=["gram", "rank", "name_len", "-updated_at", "contact"],
                                name="contact_phone_gram_rank")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.gram:04d}"


class ContactEmployment(models.Model):
    """Where a contact worked and in what role: one row per job, kept when they move."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="employments")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="past_contacts")
    title = models.CharField(max_length=100, blank=True)
    department = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["customer", "-started_at"], name="employment_customer")]

    def __str__(self) -> str:
        return f"{self.contact_id}@{self.customer_id} {self.title}"


class OwnershipChange(models.Model):
    """The owner history of a customer: every transfer, handover, release, claim."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ownership_changes")
    from_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    to_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=OwnershipReason.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    batch = models.UUIDField(default=uuid.uuid4, help_text="the one operation this change was part of")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-at"], name="ownership_customer"),
            models.Index(fields=["to_owner", "reason", "-at"], name="ownership_claims"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_owner_id} -> {self.to_owner_id} ({self.reason})"


class CustomFieldDefinition(models.Model):
    """A tenant's own typed field on customers."""

    code = models.SlugField(max_length=50, unique=True)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True, help_text="for choice fields: the allowed values")
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.code

    def label(self, language: str = "zh-hans") -> str:
        return self.label_en if language.startswith("en") else self.label_zh


class CustomerSettings(models.Model):
    """Per-tenant rules of the shared pool (one row)."""

    release_after_days = models.PositiveIntegerField(default=30, help_text="N: days without follow-up")
    warn_before_days = models.PositiveIntegerField(default=7)
    reclaim_block_days = models.PositiveIntegerField(default=14, help_text="M: the last owner waits")
    claim_limits = models.JSONField(default=dict, blank=True,
                                    help_text='daily claims per role code, e.g. {"salesperson": 10}')
    default_claim_limit = models.PositiveIntegerField(default=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="customersettings_singleton")]

    def __str__(self) -> str:
        return f"pool: release after {self.release_after_days} days"


class MergeRecord(models.Model):
    """One merge of a duplicate into a survivor: what moved, so that it can be undone."""

    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_received")
    merged = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_given")
    moved = models.JSONField(default=dict, help_text='{"contacts": [ids], "activities": [ids], ...}')
    merged_snapshot = models.JSONField(default=dict, help_text="the merged customer's fields before")
    survivor_snapshot = models.JSONField(default=dict, help_text="the survivor's fields before")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"merge {self.merged_id} -> {self.survivor_id}"


class ImportTemplate(models.Model):
    """A saved column mapping for imports."""

    name = models.CharField(max_length=100)
    target = models.CharField(max_length=16, default="customers")
    mapping = models.JSONField(default=dict, help_text='{"file column": "field"}')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["target", "name"], name="import_template_unique_name")]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """An uploaded file on its way in: dry run, then the real import in a Celery task."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        CHECKED = "checked", _("已预检")
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    target = models.CharField(max_length=16, default="customers")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)  # csv, xlsx
    encoding = models.CharField(max_length=16, blank=True)
    content = models.BinaryField(help_text="the uploaded file (size-limited)")
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    dry_run = models.JSONField(default=dict, blank=True, help_text="per-row errors and duplicates found")
    error_report = models.TextField(blank=True, help_text="CSV of rejected rows with the reason")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} {self.file_name} ({self.status})"


class SavedView(models.Model):
    """A named set of list filters a user keeps (the query string of the customer list)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name")]

    def __str__(self) -> str:
        return self.name
