"""Plans, each tenant's subscription, Stripe's events and invoices (all in the public schema).
The tenant's billing history is kept as tenants.TenantEvent rows (billing kinds)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import get_language

from .enums import BillingStatus, Interval, StripeEventStatus


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100, help_text="Chinese name")
    name_en = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    price_monthly = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="CNY")
    price_yearly = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="CNY")
    currency = models.CharField(max_length=3, default="CNY")
    staff_seats = models.PositiveIntegerField(null=True, blank=True, help_text="empty: unlimited")
    partner_users = models.PositiveIntegerField(null=True, blank=True, help_text="empty: unlimited")
    modules = ArrayField(models.CharField(max_length=32), default=list, blank=True,
                         help_text="billing.modules keys; core modules are always on")
    trial_days = models.PositiveSmallIntegerField(default=0)
    is_trial = models.BooleanField(default=False, help_text="signed up for without a card")
    is_public = models.BooleanField(default=True, help_text="shown on the pricing page")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def display_name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") and self.name_en else self.name

    @property
    def display_description(self) -> str:
        if (get_language() or "").startswith("en") and self.description_en:
            return self.description_en
        return self.description

    def stripe_price_id(self, interval: str) -> str:
        """The Stripe price of this plan and interval, from settings (STRIPE_PRICE_IDS)."""
        return settings.STRIPE_PRICE_IDS.get(f"{self.code}_{interval}", "")

    def price(self, interval: str):
        return self.price_yearly if interval == Interval.YEAR else self.price_monthly


class Subscription(models.Model):
    """A tenant's plan and where its billing stands: one per tenant. ``stripe_*`` mirror the
    Stripe subscription; ``stripe_synced_at`` is the timestamp of the newest Stripe state
    applied, so an older event arriving late changes nothing."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    status = models.CharField(max_length=16, choices=BillingStatus.choices,
                              default=BillingStatus.TRIALING, db_index=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_status = models.CharField(max_length=32, blank=True)
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    trial_reminded_at = models.DateTimeField(null=True, blank=True,
                                             help_text="when the admins were told the trial ends soon")
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True, help_text="end of the data retention period")
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stripe_subscription_id"], name="billing_sub_stripe_id_unique",
                                    condition=~models.Q(stripe_subscription_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.plan_id} {self.status}"


class StripeEvent(models.Model):
    """Every webhook event received, stored once under Stripe's event id before it is processed."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    api_version = models.CharField(max_length=32, blank=True)
    livemode = models.BooleanField(default=False)
    created = models.DateTimeField(help_text="when Stripe created the event")
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="stripe_events")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=StripeEventStatus.choices,
                              default=StripeEventStatus.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} {self.status}"


class Invoice(models.Model):
    """A Stripe invoice of a tenant, as the invoice.* events and the reconcile last saw it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="invoices")
    stripe_invoice_id = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)  # draft, open, paid, uncollectible, void
    currency = models.CharField(max_length=3, default="CNY")
    amount_due = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amount_paid = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    invoice_pdf = models.URLField(max_length=1000, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(help_text="when Stripe created it")
    stripe_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id
