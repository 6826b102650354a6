"""The demo channel every demo tenant gets (crm.partners.demo_data, tenants.demo): partners in
several regions and tiers with partner admins and sales who can sign in, a channel manager who
owns them, quotas, notices and partner orders in several states; made once; and the partner
admin's login printed by `make run`."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db

DOMAIN = "alpha.example.com"
PASSWORD = "Demo-pass-2026"


@pytest.fixture
def demo(tenant_a, in_tenant):
    from crm.catalog.services import catalog_load_demo
    from crm.partners.demo_data import partners_load_demo

    with in_tenant(tenant_a):
        catalog_load_demo()
        made = partners_load_demo(domain=DOMAIN, password=PASSWORD)
        yield made


def test_partners_tiers_regions_and_owner(demo):
    from crm.catalog.selectors import tier_offer
    from crm.partners.demo_data import PARTNERS, channel_manager_email
    from crm.partners.models import Partner, PartnerTier

    assert demo == len(PARTNERS) and 3 <= demo <= 5
    partners = list(Partner.objects.select_related("tier", "region", "owner", "customer").order_by("code"))
    assert len(partners) == len(PARTNERS)
    assert {"platinum", "gold", "silver"} <= set(PartnerTier.objects.values_list("code", flat=True))
    # tiers that the demo catalog prices (a partner-tier price list of the same code)
    assert {p.tier.code for p in partners} == {"gold", "silver"}
    assert all(tier_offer(tier_code=p.tier.code) for p in partners)
    assert len({p.region.name for p in partners}) == len(partners)  # each in its own region
    manager = partners[0].owner
    assert manager.email == channel_manager_email(DOMAIN) and not manager.is_partner_user
    assert manager.roles.filter(code="channel_manager").exists()
    assert {p.owner_id for p in partners} == {manager.pk}
    assert all(p.status == "active" and p.customer.name == p.name for p in partners)
    assert {p.sales_see_all for p in partners} == {True, False}


def test_partner_users_can_sign_in_and_use_the_portal(demo):
    from django.contrib.auth import authenticate

    from crm.partners.demo_data import PARTNERS, admin_email
    from crm.partners.models import PartnerMember
    from crm.partners.selectors import portal_member_active

    for spec in PARTNERS:
        members = list(PartnerMember.objects.filter(partner__name=spec.name).select_related("user"))
        roles = Counter(m.role for m in members)
        assert roles["admin"] == 1 and 1 <= roles["sales"] <= 2
        for m in members:
            assert m.user.kind == "partner" and m.user.is_active
            assert m.user.check_password(PASSWORD)
            assert portal_member_active(m.user) is not None
    admin = authenticate(email=admin_email(DOMAIN), password=PASSWORD)
    assert admin is not None and admin.is_partner_user
    assert PartnerMember.objects.get(user=admin).role == "admin"


def test_quotas_notices_and_orders_in_several_states(demo):
    from crm.finance.selectors import unscoped_outstanding_of_customer
    from crm.orders.models import Order
    from crm.partners.demo_data import ORDERS, PARTNERS, REJECTION
    from crm.partners.models import Partner, PartnerQuota
    from crm.partners.notices import notices_for_partner
    from crm.partners.quotas import quota_current_for_partner

    partners = list(Partner.objects.select_related("tier").order_by("code"))
    for partner in partners:
        assert PartnerQuota.objects.filter(partner=partner).count() == 3
        assert {q.period for q in PartnerQuota.objects.filter(partner=partner)} == {"month", "quarter", "year"}
        assert len(quota_current_for_partner(partner_id=partner.pk)) == 3
        assert notices_for_partner(partner=partner)
    gold = [p for p in partners if p.tier.code == "gold"][0]
    silver = [p for p in partners if p.tier.code == "silver"][0]
    assert len(notices_for_partner(partner=gold)) == len(notices_for_partner(partner=silver)) + 1

    orders = list(Order.objects.select_related("created_by"))
    assert len(orders) == len(ORDERS)
    assert all(o.partner_id and o.submitted_via == "portal" and o.created_by.is_partner_user for o in orders)
    assert {o.partner_id for o in orders} == {p.pk for p in partners}  # every partner has orders
    statuses = Counter(o.status for o in orders)
    assert statuses["draft"] >= 3 and statuses["in_approval"] >= 3
    assert statuses["approved"] >= 2 and statuses["shipped"] + statuses["invoiced"] >= 2
    assert [o for o in orders if o.rejection_note == REJECTION][0].status == "draft"
    first = Partner.objects.get(name=PARTNERS[0].name)
    assert unscoped_outstanding_of_customer(customer_id=first.customer_id) > 0  # an invoice to pay


def test_made_once(demo):
    from crm.orders.models import Order
    from crm.org.models import User
    from crm.partners.demo_data import partners_load_demo
    from crm.partners.models import Partner, PartnerQuota

    before = (Partner.objects.count(), User.objects.count(), Order.objects.count(), PartnerQuota.objects.count())
    assert partners_load_demo(domain=DOMAIN, password=PASSWORD) == 0
    assert (Partner.objects.count(), User.objects.count(), Order.objects.count(),
            PartnerQuota.objects.count()) == before


def test_a_tenant_without_the_catalog_gets_partners_without_orders(tenant_a, in_tenant):
    from crm.orders.models import Order
    from crm.partners.demo_data import PARTNERS, partners_load_demo
    from crm.partners.models import Partner, PartnerMember

    with in_tenant(tenant_a):  # no demo catalog loaded: no tier price lists
        assert partners_load_demo(domain=DOMAIN, password=PASSWORD) == len(PARTNERS)
        assert Partner.objects.count() == len(PARTNERS)
        assert PartnerMember.objects.filter(role="admin").count() == len(PARTNERS)
        assert not Order.objects.filter(partner__isnull=False).exists()


def test_make_run_prints_the_partner_admin_login(tenant_a, in_tenant):
    """qiao_setup prints one line per login; `make run` (config.devservices) keeps the lines
    with "password:" and shows them in its banner."""
    from django.contrib.auth import authenticate

    from crm.partners.demo_data import PARTNERS
    from tenants.demo import demo_logins, demo_partners_ensure
    from tenants.selectors import tenant_base_url

    assert demo_partners_ensure(tenant_a, password=PASSWORD) == len(PARTNERS)
    logins = demo_logins([tenant_a], password=PASSWORD)
    lines = [f"  {x.url}  {x.role:<20} {x.email:<36} password: {x.password}" for x in logins]
    partner_lines = [line for line in lines if "partner" in line]
    assert len(partner_lines) == 1
    line = partner_lines[0]
    assert tenant_base_url(tenant_a) in line and f"password: {PASSWORD}" in line
    email = line.split()[2]
    assert email == f"partner1@{tenant_a.slug}.example.com"
    with in_tenant(tenant_a):
        user = authenticate(email=email, password=PASSWORD)
        assert user is not None and user.is_partner_user
    assert demo_partners_ensure(tenant_a, password=PASSWORD) == 0


def test_a_mode_whose_staff_cannot_approve_partner_orders_still_gets_its_demo(tenant_a, in_tenant):
    """The promotion and key-account modes' demo staff have no business secretary: the partner
    orders that could not be submitted stay drafts, and the demo does not fail."""
    from crm.catalog.services import catalog_load_demo
    from crm.orders.models import Order
    from crm.org.models import User
    from crm.partners.demo_data import ORDERS, PARTNERS, partners_load_demo

    with in_tenant(tenant_a):
        catalog_load_demo()
        User.objects.filter(roles__code="business_secretary").update(is_active=False)
        assert partners_load_demo(domain=DOMAIN, password=PASSWORD) == len(PARTNERS)
        statuses = set(Order.objects.filter(partner__isnull=False).values_list("status", flat=True))
        assert Order.objects.filter(partner__isnull=False).count() == len(ORDERS)
        assert statuses <= {"draft", "in_approval"} and "draft" in statuses
