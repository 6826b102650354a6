"""The partner isolation matrix (issue 5, Isolation), fail-closed, over every URL pattern of a
tenant host read from the URL resolver (tests/security/partner_matrix.py):

(a) a partner user, by session and by API token, against every staff URL and staff API (ids of
    real rows): 404, or for pages a redirect into the portal; with a token on a page (which the
    token does not sign in to) or on a public staff URL, nothing more than an anonymous caller gets;
(b) every portal URL with an object id: partner A's admin with partner B's objects -> 404; A's
    sales user with A's admin's objects (sales_see_all off) -> 404; a partner user of another
    tenant -> 401/404 or the portal login; staff users -> 404 or the portal login;
(c) what the portal answers partner A (every portal URL, lists and pages, with A's own ids)
    never contains partner B's rows, nor, for A's sales user, A's admin's rows;
(d) nor internal fields or text: costs, margins, approvers' names, internal approval comments,
    the tenant's other customers.

The world (two partners of tenant beta with orders, shipments, invoices, payments, end
customers, deals and users; a partner of tenant alpha) is built once per test: each test walks
every URL and reports every failure at once."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import host_of

from . import partner_matrix as pm

pytestmark = pytest.mark.django_db

WEB_METHODS = ("get", "post")
API_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def world(tenant_b, tenant_a, user_in, in_tenant):
    with in_tenant(tenant_b):
        yield pm.build_world(tenant_b, tenant_a, user_in)


def _session(tenant, user=None) -> Client:
    from django_tenants.utils import schema_context

    client = Client(HTTP_HOST=host_of(tenant), raise_request_exception=False)
    if user is not None:
        with schema_context(tenant.schema_name):
            client.force_login(user)
    return client


def _token(tenant, user=None) -> APIClient:
    from django_tenants.utils import schema_context

    from crm.org.services import token_issue

    client = APIClient(HTTP_HOST=host_of(tenant), raise_request_exception=False)
    if user is not None:
        with schema_context(tenant.schema_name):
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


def _call(client, method: str, path: str):
    if method in ("get", "delete"):
        return getattr(client, method)(path)
    return getattr(client, method)(path, data="{}", content_type="application/json")


def _leaks(response, markers: set[str]) -> list[str]:
    text = pm.body_text(response)
    return sorted(m for m in markers if m and m in text)


# -- the tables cover every URL ---------------------------------------------------------------------------
@pytest.mark.parametrize("route", pm.tenant_routes(), ids=str)
def test_the_matrix_can_fill_every_url(route):
    """A URL whose kwargs the matrix cannot fill with real ids fails here: add its kwarg to
    partner_matrix.PORTAL_KWARGS (and World) or STAFF_KWARGS."""
    assert not pm.unfillable(route), f"{route}: add {pm.unfillable(route)} to tests/security/partner_matrix.py"


def test_the_portal_has_urls():
    routes = pm.portal_routes()
    assert any(r.api for r in routes) and any(not r.api for r in routes)
    assert any(r.params for r in routes if not r.public)


# -- (a) partners against staff URLs ----------------------------------------------------------------------
def test_partner_users_reach_no_staff_url(world):
    tenant = world.tenant
    failures = []
    markers = world.foreign_markers | world.internal_markers | world.admin_only_markers
    assert len(pm.staff_routes()) > 200
    for user in (world.a_admin, world.a_sales):
        session, token, anonymous = _session(tenant, user), _token(tenant, user), _token(tenant)
        for route in pm.staff_routes():
            if pm.unfillable(route):
                failures.append(f"{route}: kwargs the matrix cannot fill: {pm.unfillable(route)}")
                continue
            path = route.path(world.staff_values(route))
            for method in API_METHODS if route.api else WEB_METHODS:
                # by session: the boundary middleware answers 404 (the root: a redirect to the portal)
                r = _call(session, method, path)
                ok = r.status_code == 404 or (
                    path == "/" and method == "get" and r.status_code == 302 and r["Location"] == "/portal/") or (
                    route.name in pm.PARTNER_SHARED and r.status_code < 500 and not 200 <= r.status_code < 300
                    or route.name == "set-language")
                if not ok:
                    failures.append(f"session {user.email} {method.upper()} {path}: {r.status_code}")
                if leaks := _leaks(r, markers):
                    failures.append(f"session {user.email} {method.upper()} {path}: shows {leaks}")
                # by token: the staff API answers 404; elsewhere no more than to anonymous callers
                r = _call(token, method, path)
                if r.status_code != 404:
                    a = _call(anonymous, method, path)
                    if r.status_code != a.status_code or (200 <= r.status_code < 300 and not route.public):
                        failures.append(f"token {user.email} {method.upper()} {path}: {r.status_code} "
                                        f"(anonymous: {a.status_code})")
                if leaks := _leaks(r, markers):
                    failures.append(f"token {user.email} {method.upper()} {path}: shows {leaks}")
    assert not failures, "\n".join(failures)


# -- (b) object ids on portal URLs ----------------------------------------------------------------------------
def _object_routes():
    return [r for r in pm.portal_routes() if r.params and not r.public]


def test_portal_objects_of_another_partner_are_404(world):
    tenant = world.tenant
    failures = []
    for user in (world.a_admin, world.a_sales):
        clients = {"api": _token(tenant, user), "web": _session(tenant, user)}
        for route in _object_routes():
            if pm.unfillable(route):
                failures.append(f"{route}: kwargs the matrix cannot fill: {pm.unfillable(route)}")
                continue
            path = route.path(world.portal_values(route, "foreign"))
            for method in API_METHODS if route.api else WEB_METHODS:
                r = _call(clients["api" if route.api else "web"], method, path)
                if r.status_code not in (404, 405):
                    failures.append(f"{user.email} {method.upper()} {path} (partner B's): {r.status_code}")
                if leaks := _leaks(r, world.foreign_markers | world.internal_markers):
                    failures.append(f"{user.email} {method.upper()} {path}: shows {leaks}")
    assert not failures, "\n".join(failures)


def test_portal_objects_resolve_for_their_partner(world):
    """The positive control: the ids the matrix fills in are the partner's own (else the 404s
    above would prove nothing)."""
    tenant = world.tenant
    failures = []
    clients = {"api": _token(tenant, world.a_admin), "web": _session(tenant, world.a_admin)}
    for route in _object_routes():
        if pm.unfillable(route):
            continue
        path = route.path(world.portal_values(route, "own"))
        r = _call(clients["api" if route.api else "web"], "get", path)
        if r.status_code == 404:
            failures.append(f"{world.a_admin.email} GET {path} (partner A's own): 404")
    assert not failures, "\n".join(failures)


def test_partner_sales_do_not_reach_their_admins_objects(world):
    tenant = world.tenant
    failures = []
    user = world.a_sales  # sales_see_all is off for partner A
    clients = {"api": _token(tenant, user), "web": _session(tenant, user)}
    for route in _object_routes():
        if pm.unfillable(route):
            continue
        kinds = {pm.PORTAL_KWARGS[p] for p in route.params if p in pm.PORTAL_KWARGS}
        if not kinds & (pm.CREATOR_SCOPED | pm.ADMIN_ONLY):
            continue
        # the admin's objects for creator-scoped kinds; for admin-only kinds, any member
        path = route.path({p: world.objects[pm.PORTAL_KWARGS[p]]["own"] for p in route.params})
        for method in API_METHODS if route.api else WEB_METHODS:
            r = _call(clients["api" if route.api else "web"], method, path)
            if r.status_code not in (404, 405):
                failures.append(f"sales {method.upper()} {path} (the admin's): {r.status_code}")
            if leaks := _leaks(r, world.admin_only_markers | world.internal_markers):
                failures.append(f"sales {method.upper()} {path}: shows {leaks}")
        if kinds <= pm.CREATOR_SCOPED:  # and their own ones resolve
            own = route.path({p: world.objects[pm.PORTAL_KWARGS[p]]["sales_own"] for p in route.params})
            r = _call(clients["api" if route.api else "web"], "get", own)
            if r.status_code == 404:
                failures.append(f"sales GET {own} (their own): 404")
    assert not failures, "\n".join(failures)


def test_another_tenants_partner_and_staff_get_nothing_from_the_portal(world):
    tenant = world.tenant
    failures = []
    outsiders = {
        "other tenant's partner (token)": _token(world.other_tenant, world.x_admin),
        "other tenant's partner (session)": _session(world.other_tenant, world.x_admin),
        "staff admin (token)": _token(tenant, world.staff["admin"]),
        "staff admin (session)": _session(tenant, world.staff["admin"]),
        "channel manager (session)": _session(tenant, world.staff["channel"]),
    }
    for label, client in outsiders.items():
        client.defaults["HTTP_HOST"] = host_of(tenant)  # the other tenant's credentials on this host
        for route in pm.portal_routes():
            if route.public or pm.unfillable(route):
                continue
            path = route.path(world.portal_values(route, "own"))
            for method in API_METHODS if route.api else WEB_METHODS:
                r = _call(client, method, path)
                if not (r.status_code in (401, 404, 405) or pm.redirect_to_portal_login(r)):
                    failures.append(f"{label} {method.upper()} {path}: {r.status_code}")
                if leaks := _leaks(r, world.foreign_markers | world.internal_markers | world.admin_only_markers):
                    failures.append(f"{label} {method.upper()} {path}: shows {leaks}")
    assert not failures, "\n".join(failures)


# -- (c) and (d): what partners are shown ------------------------------------------------------------------
def test_portal_responses_show_only_the_partners_own_rows_and_no_internals(world):
    tenant = world.tenant
    failures = []
    cases = ((world.a_admin, "own", world.foreign_markers | world.internal_markers),
             (world.a_sales, "sales_own", world.foreign_markers | world.internal_markers | world.admin_only_markers))
    seen_rows = 0
    for user, which, markers in cases:
        clients = {"api": _token(tenant, user), "web": _session(tenant, user)}
        for route in pm.portal_routes():
            if pm.unfillable(route) or route.name in ("portal:logout",):
                continue
            if route.params and route.public:
                continue
            try:
                path = route.path(world.portal_values(route, which))
            except KeyError:
                continue
            r = _call(clients["api" if route.api else "web"], "get", path)
            if r.status_code >= 500:
                failures.append(f"{user.email} GET {path}: {r.status_code}")
            if leaks := _leaks(r, markers):
                failures.append(f"{user.email} GET {path}: shows {leaks}")
            if bad := sorted(k for k in pm.json_keys(r) if any(word in k.lower() for word in pm.FORBIDDEN_KEYS)):
                failures.append(f"{user.email} GET {path}: internal fields {bad}")
            seen_rows += r.status_code == 200
    assert seen_rows, "no portal page answered 200: the matrix proves nothing"
    assert not failures, "\n".join(failures)


def test_portal_lists_contain_only_the_partners_ids(world):
    """The list endpoints of the portal API: every row's id is one of the partner's (and, for
    the sales user who may not see all, one of those they made)."""
    import json

    from crm.finance.models import Invoice, Payment
    from crm.orders.models import Order
    from crm.partners.models import DealRegistration, PartnerCustomer, PartnerMember

    partner_id = PartnerMember.objects.get(user=world.a_admin).partner_id
    a_customer = Order.objects.get(pk=world.objects["order"]["own"]).customer_id
    own = {
        "orders": Order.objects.filter(partner_id=partner_id),
        "end-customers": PartnerCustomer.objects.filter(partner_id=partner_id),
        "deals": DealRegistration.objects.filter(partner_id=partner_id),
        "users": PartnerMember.objects.filter(partner_id=partner_id),
        "invoices": Invoice.objects.filter(customer_id=a_customer),
        "payments": Payment.objects.filter(customer_id=a_customer),
    }
    failures, checked = [], 0
    for user in (world.a_admin, world.a_sales):
        client = _token(world.tenant, user)
        for route in pm.portal_routes():
            if not route.api or route.params or route.public:
                continue
            last = route.route.rstrip("/").rsplit("/", 1)[-1]
            if last not in own:
                continue
            allowed = own[last]
            if user == world.a_sales and last in ("orders", "end-customers", "deals"):
                allowed = allowed.filter(created_by=user)  # sales_see_all is off
            allowed = set(allowed.values_list("pk", flat=True))
            r = client.get(route.path({}))
            if r.status_code == 404 and user == world.a_sales and last == "users":
                continue  # partner admins only
            if r.status_code != 200:
                failures.append(f"{user.email} GET {route.path({})}: {r.status_code}")
                continue
            data = json.loads(r.content)
            rows = data.get("results", data) if isinstance(data, dict) else data
            ids = {row.get("id") for row in rows if isinstance(row, dict)}
            if stray := ids - allowed:
                failures.append(f"{user.email} GET {route.path({})}: rows of others {sorted(stray)}")
            checked += bool(ids)
    assert checked >= 4, f"only {checked} portal lists had rows to check"
    assert not failures, "\n".join(failures)
