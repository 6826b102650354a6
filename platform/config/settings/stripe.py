"""Stripe keys (billing arrives with the SaaS issue; the keys are read here already)."""

from .env import env

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", str, "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", str, "")
STRIPE_API_VERSION = "2025-10-29.clover"
