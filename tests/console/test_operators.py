"""The operators page: who may use the console, their second factor, and a superuser resetting
another operator's second factor (a lost phone) with a reason, logged, their sessions ended."""

from __future__ import annotations

import pytest

from console.models import OperatorLogEntry, OperatorTOTP
from tests.console.conftest import _fresh_login_counters  # noqa: F401  (autouse fixture)
from tests.console.helpers import operator_make, signed_in_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(tenant_env):
    boss = operator_make(email="boss@qiao.cn")
    boss.is_superuser = True
    boss.save(update_fields=["is_superuser"])
    return signed_in_client(boss)


def test_a_superuser_resets_a_lost_second_factor_and_the_operator_enrols_again(superuser_client):
    client, boss = superuser_client
    lost, lost_operator = signed_in_client(operator_make(email="lost.phone@qiao.cn"))
    never = operator_make(email="never@qiao.cn")
    page = client.get("/console/operators/").content.decode()
    assert "lost.phone@qiao.cn" in page and "never@qiao.cn" in page
    assert f'data-testid="otp-reset-{lost_operator.pk}"' in page
    assert f'data-testid="otp-reset-{never.pk}"' not in page  # nothing to reset
    assert f'data-testid="otp-reset-{boss.pk}"' not in page  # never oneself

    assert lost.get("/console/").status_code == 200
    response = client.post("/console/operators/", {"operator_id": lost_operator.pk, "reason": "手机丢失，工单 #812"})
    assert response.status_code == 302
    assert not OperatorTOTP.objects.filter(operator=lost_operator).exists()
    entry = OperatorLogEntry.objects.get(action="otp_reset")
    assert entry.operator_email == boss.email and entry.reason == "手机丢失，工单 #812"
    assert entry.detail["operator"] == "lost.phone@qiao.cn" and entry.detail["sessions_ended"] >= 1
    # the lost phone's open session is over; the next sign-in enrols a new authenticator
    assert lost.get("/console/").status_code == 302
    again, _ = signed_in_client(lost_operator)
    assert again.get("/console/").status_code == 200
    assert OperatorTOTP.objects.get(operator=lost_operator).confirmed_at is not None


def test_a_reset_needs_a_superuser_a_reason_and_another_operator(superuser_client):
    client, boss = superuser_client
    plain, plain_operator = signed_in_client()
    other = operator_make()
    signed_in_client(other)
    page = plain.get("/console/operators/").content.decode()
    assert "otp-reset-" not in page  # no buttons for a plain operator
    refused = plain.post("/console/operators/", {"operator_id": other.pk, "reason": "x"})
    assert refused.status_code == 400 and "只有超级管理员" in refused.content.decode()
    no_reason = client.post("/console/operators/", {"operator_id": other.pk, "reason": " "})
    assert no_reason.status_code == 400 and "原因" in no_reason.content.decode()
    assert client.post("/console/operators/", {"operator_id": boss.pk, "reason": "x"}).status_code == 400
    assert client.post("/console/operators/", {"operator_id": "999999", "reason": "x"}).status_code == 400
    assert client.post("/console/operators/", {"operator_id": "abc", "reason": "x"}).status_code == 400
    assert OperatorTOTP.objects.filter(operator=other).exists()  # nothing happened
    assert not OperatorLogEntry.objects.filter(action="otp_reset").exists()
