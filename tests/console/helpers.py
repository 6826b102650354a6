"""Signing operators in to the console the way a browser does (password, then TOTP)."""

from __future__ import annotations

import time
import uuid

import pyotp
from django.test import Client

from console.models import OperatorTOTP
from crm.org.models import User

PASSWORD = "Ops-pass-2026"
PUBLIC_HOST = "localhost"


def operator_make(*, staff: bool = True, email: str | None = None, password: str = PASSWORD,
                  name: str = "运维小王") -> User:
    """A public-schema user (an operator when ``staff``)."""
    email = email or f"ops-{uuid.uuid4().hex[:8]}@qiao.cn"
    return User.objects.create_user(email=email, password=password, full_name=name, is_staff=staff)


def totp_code(operator: User, *, step: int = 0) -> str:
    """The operator's code ``step`` periods of 30 s from now (the console accepts -1..+1)."""
    secret = OperatorTOTP.objects.get(operator=operator).secret
    return pyotp.TOTP(secret).at(time.time() + step * 30)


def public_client(**extra) -> Client:
    return Client(HTTP_HOST=PUBLIC_HOST, **extra)


def sign_in(client: Client, operator: User, *, password: str = PASSWORD, step: int = 0):
    """Password, then (enrolling on the first sign-in) the TOTP code; the last response."""
    response = client.post("/console/login/", {"email": operator.email, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == "/console/login/code/"
    assert client.get("/console/login/code/").status_code == 200  # shows enrolment or the code form
    return client.post("/console/login/code/", {"code": totp_code(operator, step=step)})


def signed_in_client(operator: User | None = None) -> tuple[Client, User]:
    operator = operator or operator_make()
    client = public_client()
    response = sign_in(client, operator)
    assert response.status_code == 302 and response["Location"] == "/console/", response
    return client, operator
