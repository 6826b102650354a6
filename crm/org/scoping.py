"""The one visibility mechanism every customer-facing model plugs into.

A model declares which of its fields hold the owner, the department and the region, and uses
``ScopedQuerySet`` as its manager. ``Model.objects.visible_to(user)`` then returns what the
user's widest role scope allows:

* own        - records the user owns
* department - records of the user's department and its sub-departments (plus own)
* region     - records of the user's region and its sub-regions (plus own)
* all        - every record

A deactivated or anonymous user sees nothing. Selectors call ``visible_to``; views and APIs
call selectors, never ``objects.all()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, In

from .enums import Scope


@dataclass(frozen=True)
class ScopeFields:
    owner: str = "owner"
    department: str | None = "department"
    region: str | None = "region"


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user) -> ScopedQuerySet:
        return self.filter(scope_q(self.model, user))


def scope_fields_of(model) -> ScopeFields:
    fields = getattr(model, "scope_fields", None)
    if not isinstance(fields, ScopeFields):
        raise TypeError(f"{model.__name__} must declare scope_fields = ScopeFields(...)")
    return fields


def scope_q(model, user, *, indexable: bool = True) -> Q:
    """The filter that limits ``model`` rows to what ``user`` may see.

    ``indexable=False`` gives the same test on expressions that no btree index serves, so the
    planner checks it row by row on the rows another index found (e.g. the few matches of a
    search) instead of building a bitmap of the whole scope (a region holding a third of a
    million customers) to intersect with them."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    fields = scope_fields_of(model)
    scope = user.effective_scope()

    def cond(field: str, lookup: str, value) -> Q:
        if indexable:
            return Q(**{f"{field}__{lookup}": value})
        column = Coalesce(F(field), Value(0))
        return Q((Exact if lookup == "exact" else In)(column, value))

    own = cond(fields.owner, "exact", user.pk)
    if scope == Scope.ALL:
        return Q()
    if scope == Scope.DEPARTMENT and fields.department and user.department_id:
        return own | cond(fields.department, "in", subtree_ids(user.department))
    if scope == Scope.REGION and fields.region and user.region_id:
        return own | cond(fields.region, "in", subtree_ids(user.region))
    return own


def subtree_ids(node) -> list[int]:
    """The ids of a tree node and everything below it. Filtering records by this list (rather
    than by a join on the path) lets PostgreSQL walk a (region, updated_at) style index."""
    cached = getattr(node, "_subtree_ids", None)
    if cached is None:  # once per node object, i.e. per request for the actor's own nodes
        cached = list(type(node).objects.filter(path__startswith=node.path).values_list("pk", flat=True))
        node._subtree_ids = cached
    return cached


def can_see(user, instance) -> bool:
    """One-row check through the same rule (used for 404-vs-yours decisions)."""
    return type(instance)._default_manager.filter(pk=instance.pk).filter(
        scope_q(type(instance), user)
    ).exists()
