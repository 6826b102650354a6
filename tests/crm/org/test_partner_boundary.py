"""Partner users (kind "partner") are kept out of everything but the portal: staff pages and the
staff API answer 404, the staff sign-ins refuse them, staff directories and approver pickers leave
them out; and a partner order's first approval step goes to the partner's channel manager."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import PASSWORD
from tests.crm.catalog.factories import price_list_make, stocked_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_world(tenant_a, in_tenant, user_in):
    """A gold partner of tenant alpha owned by the regional manager, with a partner admin, and a
    product on the gold price list (minimum order quantity 5)."""
    from crm.partners import services

    admin = user_in(tenant_a, "admin")
    manager = user_in(tenant_a, "manager")
    with in_tenant(tenant_a):
        services.tiers_seed_defaults()
        partner = services.partner_create(actor=admin, data={
            "name": "边界测试渠道有限公司", "tier": "gold", "owner_id": manager.pk}, duplicate_override=True)
        member = services.member_invite(actor=admin, partner_id=partner.pk, email="boss@boundary-partner.test",
                                        full_name="渠道老板", role="admin", password=PASSWORD)
        product, _w = stocked_make(on_hand="100", default=True)
        price_list_make(actor=admin, kind="partner_tier", code="gold", items=[(product, "80.00", Decimal("5"))])
    return {"partner": partner, "user": member.user, "manager": manager, "admin": admin, "product": product}


def test_partner_user_gets_404_on_staff_pages_and_the_root_sends_to_the_portal(partner_world, web_as, tenant_a):
    client = web_as(tenant_a, partner_world["user"])
    for path in ("/customers/", "/orders/", "/approvals/", "/staff/", "/calendar/", "/api/docs/"):
        assert client.get(path).status_code == 404, path
    root = client.get("/")
    assert root.status_code == 302 and root["Location"] == "/portal/"


def test_partner_token_gets_404_on_the_staff_api(partner_world, api_for, tenant_a):
    client = api_for(tenant_a, partner_world["user"])
    for path in ("/api/v1/customers/", "/api/v1/orders/", "/api/v1/auth/me", "/api/v1/staff/"):
        assert client.get(path).status_code == 404, path


def test_staff_sign_ins_refuse_partner_users(partner_world, tenant_a, api_for, web_as):
    api = api_for(tenant_a)
    response = api.post("/api/v1/auth/token", {"email": "boss@boundary-partner.test", "password": PASSWORD},
                        format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_credentials"
    page = web_as(tenant_a).post("/login/", {"username": "boss@boundary-partner.test", "password": PASSWORD})
    assert page.status_code == 200
    assert "渠道门户" in page.content.decode()
    assert "_auth_user_id" not in page.wsgi_request.session


def test_staff_directory_and_pickers_leave_partner_users_out(partner_world, in_tenant, tenant_a):
    from crm.org.selectors import staff_in_scope_of, staff_list

    with in_tenant(tenant_a):
        admin = partner_world["admin"]
        assert partner_world["user"].pk not in set(staff_list(actor=admin).values_list("pk", flat=True))
        assert partner_world["user"].pk not in set(staff_in_scope_of(actor=admin).values_list("pk", flat=True))


def test_a_partner_order_goes_first_to_the_channel_manager(partner_world, in_tenant, tenant_a):
    from crm.approvals.selectors import approval_request_pending_for
    from crm.orders.enums import OrderStatus
    from crm.orders.partner import partner_order_create

    with in_tenant(tenant_a):
        order = partner_order_create(actor=partner_world["user"], data={
            "lines": [{"product_id": partner_world["product"].pk, "quantity": "5"}]})
        assert order.status == OrderStatus.IN_APPROVAL
        assert order.partner_id == partner_world["partner"].pk and order.owner_id == partner_world["manager"].pk
        assert order.customer_id == partner_world["partner"].customer_id
        assert order.total == Decimal("452.00")  # 5 x 80.00 + 13 % VAT
        request = approval_request_pending_for(doc_type="partner_order", object_id=order.pk)
        first = request.steps.order_by("position").first()
        assert first.approver_ids == [partner_world["manager"].pk]


def test_a_partner_order_below_the_minimum_or_off_the_list_is_refused(partner_world, in_tenant, tenant_a):
    from django.core.exceptions import ValidationError

    from crm.orders.partner import partner_order_create
    from tests.crm.catalog.factories import product_make

    with in_tenant(tenant_a):
        off_list = product_make(name="不在渠道价格表的产品", list_price="10.00")
        with pytest.raises(ValidationError) as caught:
            partner_order_create(actor=partner_world["user"], data={"lines": [
                {"product_id": partner_world["product"].pk, "quantity": "2"},
                {"product_id": off_list.pk, "quantity": "1"},
                {"product_id": partner_world["product"].pk, "quantity": "5", "unit_price": "1.00"}]})
        messages = caught.value.message_dict["lines"]
        assert "起订量为 5" in messages[0]
        assert "不在你的价格表上" in messages[1]
        assert "不能填写单价或折扣" in messages[2]


def test_the_staff_password_reset_sends_nothing_to_a_partner_user(partner_world, web_as, tenant_a, mailoutbox):
    client = web_as(tenant_a)
    response = client.post("/password-reset/", {"email": "boss@boundary-partner.test"})
    assert response.status_code == 302
    assert mailoutbox == []
    client.post("/password-reset/", {"email": partner_world["manager"].email})  # staff still get theirs
    assert [m.to for m in mailoutbox] == [[partner_world["manager"].email]]
