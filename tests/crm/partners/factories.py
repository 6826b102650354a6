"""Partner test data, made through the services (as users make it). Call inside the tenant's
schema."""

from __future__ import annotations

import itertools
import uuid

from crm.partners import services

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:4].upper()
PASSWORD = "Test-pass-2026"


def partner_make(*, actor, owner=None, tier="gold", **data):
    n = next(_serial)
    services.tiers_seed_defaults()
    values = {"name": f"渠道测试伙伴{_run}{n:04d}有限公司", "tier": tier, **data}
    if owner is not None:
        values["owner_id"] = owner.pk
    return services.partner_create(actor=actor, data=values, duplicate_override=True, override_reason="test")


def member_make(*, actor, partner, role="sales", **data):
    n = next(_serial)
    return services.member_invite(actor=actor, partner_id=partner.pk, email=f"p{_run.lower()}{n}@partner.test",
                                  full_name=f"伙伴用户{n}", role=role, password=PASSWORD, **data)
