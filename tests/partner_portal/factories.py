"""Portal test data, made through the services. Call inside the tenant's schema."""

from __future__ import annotations

import itertools
import uuid

from crm.partners import services
from tests.conftest import PASSWORD

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:4].upper()


def partner_make(*, actor, owner=None, tier="gold", **data):
    n = next(_serial)
    services.tiers_seed_defaults()
    values = {"name": f"门户测试伙伴{_run}{n:04d}有限公司", "tier": tier, **data}
    if owner is not None:
        values["owner_id"] = owner.pk
    return services.partner_create(actor=actor, data=values, duplicate_override=True, override_reason="test")


def member_make(*, actor, partner, role="sales", **data):
    n = next(_serial)
    return services.member_invite(actor=actor, partner_id=partner.pk, email=f"pp{_run.lower()}{n}@portal.test",
                                  full_name=f"门户用户{n}", role=role, **{"password": PASSWORD, **data})


def line(product, quantity) -> dict:
    return {"product_id": product.pk, "quantity": str(quantity)}


def order_make(*, actor, lines, submit=False, **data):
    from crm.orders.partner import partner_order_create

    return partner_order_create(actor=actor, data={"lines": lines, **data}, submit=submit)
