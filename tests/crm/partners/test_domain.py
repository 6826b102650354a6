"""End customers, deal registration (with conflicts), notices: every rule and bad input."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils import timezone

from crm.activities.models import Notification
from crm.audit.models import AuditEntry
from crm.customers.services import customer_create
from crm.partners import deals, end_customers, notices, services
from crm.partners.enums import DealStatus
from crm.partners.models import DealRegistration
from crm.partners.selectors import partner_settings_get

CODE = "91350100M000100Y43"  # a valid unified social credit code


# -- end customers -------------------------------------------------------------------------------------
def test_end_customer_register_flags_tenant_match_without_revealing(channel, people):
    customer_create(actor=people["sales"], data={"name": "华光科技有限公司", "phone": "010-88886666"},
                    duplicate_override=True)
    row, dup = end_customers.end_customer_register(actor=channel.psales, data={"name": "华光科技（北京）有限公司"})
    assert dup is True and row.tenant_match is True and row.partner_id == channel.partner.pk
    row2, dup2 = end_customers.end_customer_register(actor=channel.psales, data={
        "name": "全新客户甲", "phone": "13800138000", "credit_code": CODE.lower()})
    assert dup2 is False and row2.credit_code == CODE
    assert AuditEntry.objects.filter(action="create", object_id=str(row.pk)).exists()
    # the partner's own duplicate is refused, naming its row
    with pytest.raises(end_customers.EndCustomerExists) as err:
        end_customers.end_customer_register(actor=channel.padmin, data={"name": "全新客户甲有限公司"})
    assert "全新客户甲" in str(err.value.message_dict["name"][0])
    with pytest.raises(end_customers.EndCustomerExists):
        end_customers.end_customer_register(actor=channel.padmin, data={"name": "别名", "credit_code": CODE})
    # another partner may register the same name
    _row, _dup = end_customers.end_customer_register(actor=channel.other_admin, data={"name": "全新客户甲"})


@pytest.mark.parametrize("data, field", [
    ({"name": ""}, "name"), ({"name": "——"}, "name"), ({"name": "甲", "credit_code": "123"}, "credit_code"),
    ({"name": "甲", "phone": "abc"}, "phone"), ({"name": "甲", "email": "nope"}, "email"),
    ({"name": "甲", "region_id": "999999"}, "region_id"), ({"name": "x" * 201}, "name")])
def test_end_customer_bad_input(channel, data, field):
    with pytest.raises(ValidationError) as err:
        end_customers.end_customer_register(actor=channel.psales, data=data)
    assert field in err.value.message_dict


def test_end_customer_scope_and_update(channel, people):
    mine, _d = end_customers.end_customer_register(actor=channel.psales, data={"name": "销售一的客户"})
    theirs, _d = end_customers.end_customer_register(actor=channel.psales2, data={"name": "销售二的客户"})
    ids = lambda u: set(end_customers.end_customers_visible_to(actor=u).values_list("pk", flat=True))  # noqa: E731
    assert ids(channel.psales) == {mine.pk}
    assert ids(channel.padmin) == {mine.pk, theirs.pk}
    assert ids(channel.other_admin) == set() and ids(people["admin"]) == set()
    services.partner_sales_visibility_set(actor=channel.padmin, partner_id=channel.partner.pk, see_all=True)
    channel.psales._partner_member_cache = False
    assert ids(channel.psales) == {mine.pk, theirs.pk}
    with pytest.raises(ObjectDoesNotExist):
        end_customers.end_customer_update(actor=channel.other_admin, end_customer_id=mine.pk, data={"notes": "x"})
    updated = end_customers.end_customer_update(actor=channel.psales, end_customer_id=mine.pk,
                                                data={"notes": "重点客户"}, version=1)
    assert updated.version == 2 and updated.notes == "重点客户"
    with pytest.raises(end_customers.EndCustomerExists):
        end_customers.end_customer_update(actor=channel.psales, end_customer_id=mine.pk, data={"name": "销售二的客户"})
    staff_rows = end_customers.end_customer_list_for_partner(actor=people["manager"], partner_id=channel.partner.pk)
    assert {r.pk for r in staff_rows} == {mine.pk, theirs.pk}
    with pytest.raises(ObjectDoesNotExist):
        end_customers.end_customer_list_for_partner(actor=people["sales2"], partner_id=channel.partner.pk)
    with pytest.raises(PermissionDenied):
        end_customers.end_customer_register(actor=people["admin"], data={"name": "员工不能登记"})


def test_suspended_partner_cannot_register(channel, people):
    services.partner_status_set(actor=people["admin"], partner_id=channel.partner.pk, status="suspended", note="欠款")
    channel.psales._partner_member_cache = False
    with pytest.raises(PermissionDenied):
        end_customers.end_customer_register(actor=channel.psales, data={"name": "暂停期间"})


# -- deals -----------------------------------------------------------------------------------------------
def test_deals_refused_in_standard_mode(channel):
    with pytest.raises(deals.DealsUnavailable):
        deals.deal_register(actor=channel.psales, data={"customer_name": "某客户", "title": "项目", "amount": "1"})


def test_deal_register_conflicts_decide_and_expire(channel_b, people_b, django_capture_on_commit_callbacks):
    ch = channel_b
    manager, admin = people_b["manager"], people_b["admin"]
    with django_capture_on_commit_callbacks(execute=True):
        d1 = deals.deal_register(actor=ch.psales, data={
            "customer_name": "远景能源有限公司", "title": "一期改造", "amount": "500000", "credit_code": CODE,
            "expected_close": (timezone.localdate() + datetime.timedelta(days=30)).isoformat()})
    assert d1.number.startswith(f"DR{timezone.localdate().year}-") and d1.status == DealStatus.PENDING
    assert d1.conflicts == []
    assert Notification.objects.filter(recipient=manager, title__contains=d1.number).exists()
    # the same partner again: refused, naming its registration
    with pytest.raises(ValidationError) as err:
        deals.deal_register(actor=ch.padmin, data={"customer_name": "远景能源", "title": "再来", "amount": "1"})
    assert d1.number in err.value.message_dict["customer_name"][0]
    # another partner: a conflict (by credit code), recorded for staff only
    d2 = deals.deal_register(actor=ch.other_admin, data={"customer_name": "远景集团", "credit_code": CODE,
                                                         "title": "竞争项目", "amount": "100"})
    assert [c["kind"] for c in d2.conflicts] == ["deal"] and d2.conflicts[0]["id"] == d1.pk
    assert deals.deal_partner_view(d2)["conflict_flagged"] is True
    assert "conflicts" not in deals.deal_partner_view(d2)
    n2 = int(d2.number.split("-")[1])
    assert n2 == int(d1.number.split("-")[1]) + 1
    # a staff opportunity for a customer of that name is a conflict too
    from crm.sales.services import opportunity_create

    customer = customer_create(actor=people_b["sales"], data={"name": "星河数据有限公司"}, duplicate_override=True)
    opportunity_create(actor=people_b["sales"], data={"name": "星河数据中心", "customer_id": customer.pk,
                                                       "amount": "10000",
                                                       "expected_close_date": (timezone.localdate() + datetime.timedelta(days=60)).isoformat()})
    d3 = deals.deal_register(actor=ch.psales, data={"customer_name": "星河数据", "title": "机房", "amount": "9"})
    assert [c["kind"] for c in d3.conflicts] == ["opportunity"]
    # decide: a salesperson of another region cannot even see it; reject needs a reason
    with pytest.raises(ObjectDoesNotExist):
        deals.deal_decide(actor=people_b["sales"], deal_id=d1.pk, decision="approve")
    with pytest.raises(ValidationError):
        deals.deal_decide(actor=manager, deal_id=d1.pk, decision="maybe")
    with pytest.raises(ValidationError):
        deals.deal_decide(actor=manager, deal_id=d2.pk, decision="reject", note="")
    with django_capture_on_commit_callbacks(execute=True):
        approved = deals.deal_decide(actor=manager, deal_id=d1.pk, decision="approve", note="同意保护")
    assert approved.status == DealStatus.APPROVED
    days = partner_settings_get().deal_protection_days
    assert approved.protected_until == timezone.localdate() + datetime.timedelta(days=days)
    assert deals.deal_decide(actor=manager, deal_id=d1.pk, decision="approve").pk == d1.pk  # idempotent
    with pytest.raises(deals.DealTransitionRefused):
        deals.deal_decide(actor=manager, deal_id=d1.pk, decision="reject", note="改主意")
    with django_capture_on_commit_callbacks(execute=True):
        rejected = deals.deal_decide(actor=admin, deal_id=d2.pk, decision="reject", note="已有报备")
    assert rejected.status == DealStatus.REJECTED
    assert Notification.objects.filter(recipient=ch.psales, title__contains=d1.number).exists()
    assert Notification.objects.filter(recipient=ch.other_admin, title__contains=d2.number).exists()
    assert not Notification.objects.filter(recipient=ch.psales2).exists()
    # scope of partner users
    ids = lambda u: set(deals.deals_visible_to(actor=u).values_list("pk", flat=True))  # noqa: E731
    assert ids(ch.psales) == {d1.pk, d3.pk} and ids(ch.psales2) == set()
    assert ids(ch.padmin) == {d1.pk, d3.pk} and ids(ch.other_admin) == {d2.pk}
    assert {d.pk for d in deals.deals_for_staff(actor=manager, status="approved")} == {d1.pk}
    with pytest.raises(ValidationError):
        deals.deals_for_staff(actor=manager, status="bogus")
    # withdraw: only the registrant or the partner admin
    with pytest.raises(ObjectDoesNotExist):
        deals.deal_withdraw(actor=ch.psales2, deal_id=d3.pk)
    assert deals.deal_withdraw(actor=ch.padmin, deal_id=d3.pk).status == DealStatus.WITHDRAWN
    with pytest.raises(deals.DealTransitionRefused):
        deals.deal_withdraw(actor=ch.other_admin, deal_id=d2.pk)
    # expiry
    DealRegistration.objects.filter(pk=d1.pk).update(protected_until=timezone.localdate() - datetime.timedelta(days=1))
    assert deals.deals_expire() == 1
    d1.refresh_from_db()
    assert d1.status == DealStatus.EXPIRED and deals.deals_expire() == 0


@pytest.mark.parametrize("data, field", [
    ({"title": "t", "amount": "1"}, "customer_name"), ({"customer_name": "甲", "amount": "1"}, "title"),
    ({"customer_name": "甲", "title": "t", "amount": "-1"}, "amount"),
    ({"customer_name": "甲", "title": "t", "amount": "abc"}, "amount"),
    ({"customer_name": "甲", "title": "t", "amount": "1", "credit_code": "X"}, "credit_code"),
    ({"customer_name": "甲", "title": "t", "amount": "1", "expected_close": "2020-01-01"}, "expected_close"),
    ({"customer_name": "甲", "title": "t", "amount": "1", "expected_close": "soon"}, "expected_close"),
    ({"end_customer_id": "999999", "title": "t", "amount": "1"}, "end_customer_id")])
def test_deal_bad_input(channel_b, data, field):
    with pytest.raises(ValidationError) as err:
        deals.deal_register(actor=channel_b.psales, data=data)
    assert field in err.value.message_dict


def test_deal_from_end_customer(channel_b):
    row, _dup = end_customers.end_customer_register(actor=channel_b.psales, data={"name": "终端甲", "credit_code": CODE})
    deal = deals.deal_register(actor=channel_b.psales, data={"end_customer_id": row.pk, "title": "t", "amount": "1"})
    assert deal.customer_name == "终端甲" and deal.credit_code == CODE and deal.end_customer_id == row.pk
    with pytest.raises(ValidationError):  # another partner's end customer is not theirs
        deals.deal_register(actor=channel_b.other_admin, data={"end_customer_id": row.pk, "title": "t", "amount": "1"})


# -- notices ----------------------------------------------------------------------------------------------
def test_notices(channel, people):
    admin = people["admin"]
    now = timezone.now()
    everyone = notices.notice_publish(actor=admin, data={"title_zh": "春节放假", "title_en": "Holiday"})
    gold = notices.notice_publish(actor=admin, data={"title_zh": "金牌政策", "tiers": ["gold"]})
    notices.notice_publish(actor=admin, data={"title_zh": "未来", "published_at": now + datetime.timedelta(days=2)})
    expired = notices.notice_publish(actor=admin, data={"title_zh": "过期", "published_at": now - datetime.timedelta(days=3),
                                                        "expires_at": now - datetime.timedelta(days=1)})
    assert expired.pk
    seen = notices.notices_for_partner(partner=channel.partner, language="en")
    assert [n.pk for n in seen][:2] == [gold.pk, everyone.pk] and len(seen) == 2
    assert seen[1].title == "Holiday" and seen[0].title == "金牌政策"
    assert [n.pk for n in notices.notices_for_partner(partner=channel.other, language="zh-hans")] == [everyone.pk]
    notices.notice_unpublish(actor=admin, notice_id=everyone.pk)
    assert [n.pk for n in notices.notices_for_partner(partner=channel.other)] == []
    notices.notice_update(actor=admin, notice_id=gold.pk, data={"tiers": "silver"})
    assert [n.pk for n in notices.notices_for_partner(partner=channel.other)] == [gold.pk]
    for data, field in (({"title_zh": ""}, "title_zh"), ({"title_zh": "x", "tiers": ["nope"]}, "tiers"),
                        ({"title_zh": "x", "published_at": "someday"}, "published_at"),
                        ({"title_zh": "x", "expires_at": (now - datetime.timedelta(days=1)).isoformat()}, "expires_at")):
        with pytest.raises(ValidationError) as err:
            notices.notice_publish(actor=admin, data=data)
        assert field in err.value.message_dict
    with pytest.raises(PermissionDenied):
        notices.notice_publish(actor=people["sales"], data={"title_zh": "x"})
    with pytest.raises(PermissionDenied):
        notices.notice_publish(actor=channel.padmin, data={"title_zh": "x"})


def test_nobody_deactivates_their_own_partner_account(channel):
    from crm.partners.models import PartnerMember

    own = PartnerMember.objects.get(user=channel.padmin)
    with pytest.raises(ValidationError) as caught:
        services.member_active_set(actor=channel.padmin, partner_id=channel.partner.pk, member_id=own.pk, active=False)
    assert "不能停用你自己的账号" in caught.value.message_dict["is_active"][0]
    channel.padmin.refresh_from_db()
    assert channel.padmin.is_active
    sales = PartnerMember.objects.get(user=channel.psales)  # another user of the partner: allowed
    services.member_active_set(actor=channel.padmin, partner_id=channel.partner.pk, member_id=sales.pk, active=False)
    channel.psales.refresh_from_db()
    assert not channel.psales.is_active


def test_a_quota_is_deleted_only_under_its_own_partner(channel, people):

    from crm.partners import quotas
    from crm.partners.models import PartnerQuota

    start = timezone.localdate().replace(day=1)
    quota = quotas.quota_set(actor=people["admin"], partner_id=channel.partner.pk, period="month",
                             period_start=start, amount="1000")
    with pytest.raises(PartnerQuota.DoesNotExist):
        quotas.quota_delete(actor=people["admin"], quota_id=quota.pk, partner_id=channel.other.pk)
    assert PartnerQuota.objects.filter(pk=quota.pk).exists()
    quotas.quota_delete(actor=people["admin"], quota_id=quota.pk, partner_id=channel.partner.pk)
    assert not PartnerQuota.objects.filter(pk=quota.pk).exists()
