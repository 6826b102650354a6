"""The sales facts behind the dashboard: a daily rollup (one row per day, kind, owner,
department, region and currency) and the same figures per month, so that no page view has to
GROUP BY over the order tables (a tenant may hold 1,000,000 orders and 5,000,000 lines).

Both are written only by crm.analytics.services: ``sales_fact_record`` adds to one row of each
with INSERT ... ON CONFLICT DO UPDATE inside the caller's transaction (the order approved, the
shipment made, the payment received commit together with their fact), and
``sales_facts_rebuild`` recomputes them from the base tables. The owner, department and region
are the business record's (the order's, the invoice's), so the role scopes of crm.org apply to
fact rows as they apply to orders: ``DailySalesFact.objects.visible_to(user)``.

Ids without foreign keys: a fact outlives nothing it points to and costs the writer no lock on
the staff or region rows; an owner, department or region may be empty (NULLs compare equal in
the unique keys, PostgreSQL 15+)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import FactKind

AMOUNT = {"max_digits": 18, "decimal_places": 2}
SCOPE = ScopeFields(owner="owner_id", department="department_id", region="region_id")
FACT_COLUMNS = ("kind", "owner_id", "department_id", "region_id", "currency")


class SalesFact(models.Model):
    kind = models.CharField(_("类型"), max_length=12, choices=FactKind.choices)
    owner_id = models.BigIntegerField(_("负责人"), null=True, blank=True)
    department_id = models.BigIntegerField(_("部门"), null=True, blank=True)
    region_id = models.BigIntegerField(_("区域"), null=True, blank=True)
    currency = models.CharField(_("币种"), max_length=3)
    amount = models.DecimalField(_("金额"), default=Decimal("0.00"), **AMOUNT)
    count = models.IntegerField(_("笔数"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_fields = SCOPE

    class Meta:
        abstract = True


class DailySalesFact(SalesFact):
    day = models.DateField(_("日期"))

    class Meta:
        verbose_name = _("销售日汇总")
        ordering = ["day", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["day", *FACT_COLUMNS], name="dailyfact_key", nulls_distinct=False),
        ]
        indexes = [
            # The key serves company-wide reads (a day range); these the own, department and
            # region scopes. Amount and count are in no index: adding to a row is a HOT update.
            models.Index(fields=["owner_id", "day"], name="dailyfact_owner_day"),
            models.Index(fields=["department_id", "day"], name="dailyfact_dept_day"),
            models.Index(fields=["region_id", "day"], name="dailyfact_region_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.owner_id} {self.currency} {self.amount} × {self.count}"


class MonthlySalesFact(SalesFact):
    """The daily rows summed per calendar month (``month`` is its first day): a year of the
    whole company is 12 × (salespeople × kinds) rows instead of 365 × that. Written in the same
    statement as the daily row."""

    month = models.DateField(_("月份"))

    class Meta:
        verbose_name = _("销售月汇总")
        ordering = ["month", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["month", *FACT_COLUMNS], name="monthlyfact_key", nulls_distinct=False),
        ]
        indexes = [
            models.Index(fields=["owner_id", "month"], name="monthlyfact_owner_month"),
            models.Index(fields=["department_id", "month"], name="monthlyfact_dept_month"),
            models.Index(fields=["region_id", "month"], name="monthlyfact_region_month"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.kind} {self.owner_id} {self.currency} {self.amount} × {self.count}"


class FactRebuild(models.Model):
    """One run of ``sales_facts_rebuild``: who asked (nobody: the nightly repair, a command),
    from which day, what it found before and after per kind, and how many rows it corrected
    (none when there was no drift)."""

    since = models.DateField(_("起始日期"), null=True, blank=True, help_text=_("留空表示全部重算"))
    kinds = models.JSONField(default=list)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    before = models.JSONField(default=dict, help_text="per kind: rows, amount, count")
    after = models.JSONField(default=dict)
    changed = models.JSONField(default=dict, help_text="rows deleted, updated and inserted, per rollup")

    class Meta:
        verbose_name = _("汇总重算")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"rebuild {self.since or 'all'} at {self.started_at:%Y-%m-%d %H:%M}"
