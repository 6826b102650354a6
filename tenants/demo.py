"""The demo tenants `make run` creates: one per business mode, with staff in several roles."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Tenant
from .modes import MODES
from .selectors import tenant_base_url
from .services import tenant_create

DEMO_PASSWORD = "Qiao@2026"
DEMO_TENANTS = {
    "standard": "华信仪器有限公司",
    "promotion": "康泰医药股份有限公司",
    "project": "远景暖通工程有限公司",
    "membership": "悦享生活会员俱乐部",
    "keyaccount": "鼎盛通信服务有限公司",
}


@dataclass
class DemoLogin:
    url: str
    role: str
    email: str
    password: str


def demo_tenants_ensure(*, password: str = DEMO_PASSWORD) -> list[Tenant]:
    tenants = []
    for slug, name in DEMO_TENANTS.items():
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None or tenant.status == "failed":
            if tenant is None:
                tenant = tenant_create(
                    name=name, slug=slug, mode=slug, admin_email=f"admin@{slug}.example.com",
                    admin_name="系统管理员", admin_password=password, demo=True,
                    demo_password=password, actor="demo")
            else:
                from .services import tenant_provision

                tenant = tenant_provision(tenant_id=tenant.pk, demo_password=password)
        tenants.append(tenant)
    return tenants


def demo_logins(tenants: list[Tenant], *, password: str = DEMO_PASSWORD) -> list[DemoLogin]:
    logins = []
    for tenant in tenants:
        url = tenant_base_url(tenant)
        logins.append(DemoLogin(url, "tenant_admin", f"admin@{tenant.slug}.example.com", password))
        mode = MODES[tenant.slug] if tenant.slug in MODES else None
        if mode:
            for person in mode.demo.staff:
                logins.append(DemoLogin(url, person.role, f"{person.key}@{tenant.slug}.example.com", password))
    return logins
