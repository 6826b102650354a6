from __future__ import annotations

from django.db.models import Q, QuerySet

from .enums import Scope
from .models import Department, Region, Role, TenantConfig, User


def staff_list(*, actor: User, search: str = "", include_inactive: bool = True) -> QuerySet[User]:
    """The staff directory. Every staff member may see colleagues' names and contact
    details (a company directory); managing them is a separate permission."""
    qs = User.staff.select_related("department", "region").prefetch_related("roles")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if search:
        qs = qs.filter(Q(full_name__icontains=search) | Q(email__icontains=search.lower())
                       | Q(phone__contains=search))
    return qs.order_by("-is_active", "full_name", "id")


def staff_get(*, actor: User, user_id) -> User:
    return staff_list(actor=actor).get(pk=user_id)


def staff_in_scope_of(*, actor: User) -> QuerySet[User]:
    """Colleagues whose records the actor's scope covers (for managers' views)."""
    scope = actor.effective_scope()
    qs = User.staff.filter(is_active=True)
    if scope == Scope.ALL:
        return qs
    if scope == Scope.DEPARTMENT and actor.department_id:
        return qs.filter(Q(pk=actor.pk) | Q(department__path__startswith=actor.department.path))
    if scope == Scope.REGION and actor.region_id:
        return qs.filter(Q(pk=actor.pk) | Q(region__path__startswith=actor.region.path))
    return qs.filter(pk=actor.pk)


def department_tree() -> list[Department]:
    return list(Department.objects.filter(is_active=True).select_related("manager").order_by("path"))


def region_tree() -> list[Region]:
    return list(Region.objects.filter(is_active=True).order_by("path"))


def role_list() -> QuerySet[Role]:
    return Role.objects.order_by("-is_system", "id")


def tenant_config_get() -> TenantConfig:
    config, _ = TenantConfig.objects.get_or_create(id=1)
    return config


def region_subtree_ids(*, region_id) -> list[int] | None:
    """The ids of a region and its sub-regions, or None when there is no such region."""
    from .scoping import subtree_ids

    region = Region.objects.filter(pk=region_id).first()
    return subtree_ids(region) if region else None


def region_get_active(*, region_id) -> Region | None:
    try:
        return Region.objects.filter(pk=int(region_id), is_active=True).first()
    except (TypeError, ValueError):
        return None


_ANCESTOR_TTL = 60.0  # seconds; a moved node re-indexes what depends on it (services.on_tree_moved)
_ancestor_cache: dict[tuple, tuple[float, tuple[int, ...]]] = {}


def tree_ancestor_ids(*, kind: str, node_id) -> tuple[int, ...]:
    """The ids of a department's or region's ancestors and itself, root first (from its
    materialised path), cached per process for a minute. ``kind``: "department" or "region"."""
    import time

    from django.db import connection

    if not node_id:
        return ()
    key = (getattr(connection, "schema_name", ""), kind, int(node_id))
    now = time.monotonic()
    hit = _ancestor_cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    model = Department if kind == "department" else Region
    path = model.objects.filter(pk=node_id).values_list("path", flat=True).first() or ""
    ids = tuple(int(part) for part in path.split(".") if part) or (int(node_id),)
    if len(_ancestor_cache) > 50_000:
        _ancestor_cache.clear()
    _ancestor_cache[key] = (now + _ANCESTOR_TTL, ids)
    return ids
