"""Billing fixtures: the fake Stripe under the real SDK (see fake_stripe.py); the tests that
commit (the webhook race) use the suite's ``test_database``."""

from tests.billing.fake_stripe import fake_stripe  # noqa: F401  (the fixture, for every billing test)


