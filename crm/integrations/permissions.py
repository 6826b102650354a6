"""Pure predicates: may this actor manage the integrations? No queries beyond the actor's
cached roles. Webhooks and ERP clients carry the whole company's data out of (and into)
Qiao: only holders of ``integrations.manage`` (the tenant admin) see or change them."""

from crm.org.enums import Permission


def can_manage_integrations(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active
                and actor.has_qiao_perm(Permission.MANAGE_INTEGRATIONS))
