"""Order and finance powers come from permission codes, so a custom role can carry them:
orders.manage (others' orders), orders.close, finance.manage (credit limits, invoices,
payments); the system roles have them by default, and the migration gave them to the system
roles of tenants that existed before."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied

from crm.finance import permissions as finance_permissions
from crm.orders import permissions, services
from crm.org.enums import SYSTEM_ROLE_DEFAULTS, Permission
from crm.org.models import Role
from crm.org.services import role_create, staff_create

from .factories import line, order_make

pytestmark = pytest.mark.django_db


def _staff(people, code: str, perms: list[str], scope: str = "all"):
    role_create(actor=people["admin"], code=code, name_zh=code, name_en=code, scope=scope, permissions=perms)
    return staff_create(actor=None, email=f"{code}@alpha.example.com", full_name=code, role_codes=[code])


def test_the_system_roles_have_the_order_and_finance_codes():
    defaults = {code: {str(p) for p in perms} for code, (_n, _s, perms) in SYSTEM_ROLE_DEFAULTS.items()}
    assert {"orders.manage", "orders.close", "finance.manage"} <= defaults["tenant_admin"]
    assert {"orders.manage", "orders.close"} <= defaults["business_secretary"]
    assert "orders.manage" in defaults["regional_manager"] and "finance.manage" not in defaults["regional_manager"]
    assert {"finance.manage", "orders.close"} <= defaults["finance"]
    assert not defaults["salesperson"] & {"orders.manage", "orders.close", "finance.manage"}


def test_a_custom_role_with_orders_manage_submits_a_colleagues_order(alpha, people, shop):
    clerk = _staff(people, "order_clerk", [Permission.MANAGE_ORDERS])
    plain = _staff(people, "plain_viewer", [])
    order = order_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps)])
    assert permissions.can_manage_order(clerk, order) and not permissions.can_manage_order(plain, order)
    with pytest.raises(PermissionDenied):
        services.order_submit(actor=plain, order_id=order.pk)
    assert services.order_submit(actor=clerk, order_id=order.pk).status in ("in_approval", "approved")


def test_finance_manage_gives_credit_and_invoicing_powers_to_a_custom_role(alpha, people):
    cashier = _staff(people, "cashier", [Permission.MANAGE_FINANCE])
    closer = _staff(people, "closer", [Permission.CLOSE_ORDERS])
    assert permissions.can_manage_credit(cashier) and finance_permissions.can_record_payment(cashier)
    assert not permissions.can_manage_credit(closer) and not finance_permissions.can_issue_invoice(closer)
    assert permissions.can_close_order(closer) and not permissions.can_close_order(cashier)
    assert not finance_permissions.can_issue_invoice(people["sales"])
    assert finance_permissions.can_issue_invoice(people["finance"]) and permissions.can_close_order(people["secretary"])


def test_the_migration_grants_the_codes_to_existing_system_roles_only(alpha, people):
    migration = importlib.import_module("crm.org.migrations.0002_order_and_finance_permissions")
    custom = Role.objects.create(code="old_custom", name_zh="旧角色", scope="own", permissions=["audit.view"])
    Role.objects.filter(code="finance").update(permissions=["analytics.view"])  # as before the codes existed
    Role.objects.filter(code="tenant_admin").update(permissions=["org.manage_staff"])
    migration.grant(django_apps, None)
    assert Role.objects.get(code="finance").permissions == ["analytics.view", "finance.manage", "orders.close"]
    assert set(Role.objects.get(code="tenant_admin").permissions) == {
        "org.manage_staff", "orders.manage", "orders.close", "finance.manage"}
    assert Role.objects.get(pk=custom.pk).permissions == ["audit.view"]
    migration.grant(django_apps, None)  # again: nothing added twice
    assert Role.objects.get(code="finance").permissions == ["analytics.view", "finance.manage", "orders.close"]
