"""How an ERP client proves who it is: ``Authorization: Bearer qerp_...`` (its token, shown
once when the tenant admin created it). Separate from staff tokens: the ERP endpoints accept
nothing else, and the staff API does not accept ERP tokens."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from crm.integrations.services import erp_client_authenticate

KEYWORD = "Bearer"


class ErpPrincipal:
    """``request.user`` of an ERP request: not a staff member (no pk, no roles)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    pk = id = None
    language = ""

    def __init__(self, client):
        self.client = client

    def __str__(self) -> str:
        return f"erp:{self.client.name}"

    def has_qiao_perm(self, code) -> bool:
        return False

    def role_codes(self) -> set[str]:
        return set()


class ErpTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Authorization 头格式应为：Bearer <ERP 令牌>。"))
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("ERP 令牌无效或已吊销。")) from None
        client = erp_client_authenticate(token=token)
        if client is None:
            raise AuthenticationFailed(_("ERP 令牌无效或已吊销。"))
        return ErpPrincipal(client), client

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="erp"'


class ErpTokenScheme(OpenApiAuthenticationExtension):
    target_class = "crm.integrations.api.authentication.ErpTokenAuthentication"
    name = "erpToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An ERP client token (qerp_...), created by the tenant admin."}
