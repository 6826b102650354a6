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


DEMO_CUSTOMERS = (
    ("北京合众思壮科技股份有限公司", "010-5822 6688", "仪器仪表", "A", ("王总", "采购总监")),
    ("上海远景贸易有限公司", "021-6888 1234", "贸易", "B", ("李经理", "采购经理")),
    ("深圳华强电子有限公司", "0755-8321 0000", "电子", "A", ("陈工", "技术负责人")),
    ("杭州青禾食品有限公司", "0571-8765 4321", "食品饮料", "C", ("周女士", "店长")),
    ("成都天府医药连锁有限公司", "028-8666 5555", "医药", "B", ("赵主任", "采购主任")),
    ("广州南沙物流集团", "020-3909 8888", "物流", "B", ("孙经理", "运营经理")),
)


def demo_customers_ensure(tenant: Tenant) -> int:
    """A handful of customers with contacts and a logged call, owned by the salespeople, so
    the demo's lists, search and today page have something in them. Idempotent."""
    from django_tenants.utils import schema_context

    from crm.activities.services import activity_log
    from crm.customers.selectors import customer_list_visible_to
    from crm.customers.services import contact_create, customer_create
    from crm.org.models import User

    with schema_context(tenant.schema_name):
        sellers = list(User.objects.filter(roles__code="salesperson", is_active=True).order_by("pk"))
        if not sellers:
            return 0
        admin = User.objects.filter(roles__code="tenant_admin").order_by("pk").first()
        if admin is not None and customer_list_visible_to(actor=admin).exists():
            return 0
        made = 0
        for i, (name, phone, industry, level, (person, title)) in enumerate(DEMO_CUSTOMERS):
            owner = sellers[i % len(sellers)]
            customer = customer_create(actor=owner, data={
                "name": name, "phone": phone, "industry": industry, "level": level,
                "stage": "customer" if level == "A" else "prospect", "source": "demo"},
                duplicate_override=True)
            contact_create(actor=owner, customer_id=customer.pk, data={
                "name": person, "title": title, "phones": [f"1390000{i:04d}"]})
            activity_log(actor=owner, customer_id=customer.pk, kind="call", subject="电话沟通需求",
                         outcome="有采购意向")
            made += 1
        return made


def demo_email_domain(tenant: Tenant) -> str:
    return f"{tenant.slug}.example.com"


def demo_partners_ensure(tenant: Tenant, *, password: str = DEMO_PASSWORD) -> int:
    """The demo channel (crm.partners.demo_data): a channel manager, partners with partner
    admins and sales, quotas, a notice and partner orders in several states. Idempotent."""
    from django.apps import apps
    from django_tenants.utils import schema_context

    if not apps.is_installed("crm.partners"):
        return 0
    from crm.partners.demo_data import partners_load_demo

    with schema_context(tenant.schema_name):
        return partners_load_demo(domain=demo_email_domain(tenant), password=password)


def demo_facts_rebuild(tenant: Tenant) -> None:
    """The sales dashboard's facts recomputed once the demo data is in (crm.analytics): the
    demo's orders, shipments and payments appear on it whichever way they were made."""
    from django.apps import apps
    from django_tenants.utils import schema_context

    if not apps.is_installed("crm.analytics"):
        return
    from crm.analytics.services import sales_facts_rebuild

    with schema_context(tenant.schema_name):
        sales_facts_rebuild()


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
        if tenant.status == "active":
            # demo tenants run on the top plan without charge (made at provisioning; this
            # covers demo tenants created before billing existed)
            from billing.services import subscription_on_provisioned

            subscription_on_provisioned(tenant_id=tenant.pk, demo=True)
            demo_customers_ensure(tenant)
            if "catalog" in getattr(MODES.get(tenant.primary_mode or ""), "modules", ()):
                from django_tenants.utils import schema_context

                from crm.catalog.services import catalog_load_demo

                with schema_context(tenant.schema_name):
                    catalog_load_demo()
                    if "orders" in MODES[tenant.primary_mode].modules:
                        from crm.orders.services import orders_load_demo

                        orders_load_demo()
                        if "finance" in MODES[tenant.primary_mode].modules:
                            from crm.finance.services import finance_load_demo

                            finance_load_demo()
            if "sales" in getattr(MODES.get(tenant.primary_mode or ""), "modules", ()):
                from django_tenants.utils import schema_context

                from crm.sales.services import sales_load_demo

                with schema_context(tenant.schema_name):
                    sales_load_demo()
            demo_partners_ensure(tenant, password=password)
            demo_facts_rebuild(tenant)
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
        from crm.partners import demo_data as partner_demo

        domain = demo_email_domain(tenant)
        logins.append(DemoLogin(url, "channel_manager", partner_demo.channel_manager_email(domain), password))
        # the partner portal: its own login page under the tenant's URL
        logins.append(DemoLogin(f"{url}portal/", "partner_admin", partner_demo.admin_email(domain), password))
    return logins


DEMO_OPERATOR_EMAIL = "operator@example.com"


def demo_operator_ensure(*, password: str = DEMO_PASSWORD) -> str:
    """A demo platform operator (a public-schema staff user) for the console; the console asks
    them to enrol a TOTP authenticator at their first sign-in. Returns the email."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from crm.org.models import User

    with schema_context(get_public_schema_name()):
        if not User.objects.filter(email=DEMO_OPERATOR_EMAIL).exists():
            User.objects.create_user(email=DEMO_OPERATOR_EMAIL, password=password, full_name="平台运营（演示）",
                                     is_staff=True, is_superuser=True)
    return DEMO_OPERATOR_EMAIL

