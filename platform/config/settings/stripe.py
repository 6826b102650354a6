"""Stripe and the billing lifecycle. Every Stripe call goes through billing/stripe_client.py."""

from .env import env

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", str, "")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", str, "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", str, "")
STRIPE_API_VERSION = "2025-10-29.clover"
# The Stripe price of each paid plan and interval ("<plan code>_<month|year>").
STRIPE_PRICE_IDS = {
    f"{code}_{interval}": env(f"STRIPE_PRICE_{code.upper()}_{interval.upper()}", str, "")
    for code in ("standard", "professional", "enterprise") for interval in ("month", "year")
}
# Dunning: days past due before a tenant is suspended (read-only); days a cancelled tenant's
# data is kept (the admin can still export it) before it is closed.
BILLING_GRACE_DAYS = env("BILLING_GRACE_DAYS", int, 7)
BILLING_RETENTION_DAYS = env("BILLING_RETENTION_DAYS", int, 30)
# Public sign-up: at most this many sign-ups per client address per hour.
SIGNUP_RATE_LIMIT_PER_HOUR = env("SIGNUP_RATE_LIMIT_PER_HOUR", int, 5)
