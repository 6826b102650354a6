"""The base of every portal API view (/api/v1/portal/): partner users only.

Authentication: a portal token (POST /api/v1/portal/auth/token) or the portal's session.
Permission: an active member of an active partner (crm.partners.selectors.portal_member_active).
Anonymous callers get 401; staff, and users of a suspended or terminated partner, get 404, the
same as for a URL that does not exist. Subclasses read records only through crm selectors scoped to
``request.user``; an id outside the partner's scope is 404.

Errors: bad input 400 naming the field (each order line by its number); a state that does not
allow the operation 409; a stale version 412; a reused Idempotency-Key with another body 422."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.utils import translation
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.approvals.services import ApprovalConflict
from crm.orders.services import TransitionRefused
from crm.org.middleware import resolve_language
from crm.partners.selectors import portal_member_active


class IsActivePartnerMember(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            raise exceptions.NotAuthenticated()
        member = portal_member_active(user)
        if member is None:
            raise exceptions.NotFound()
        if getattr(view, "admin_only", False) and not member.is_admin:
            raise exceptions.NotFound()
        request.portal_member = member
        return True


class PortalApiView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsActivePartnerMember]
    admin_only = False

    def perform_authentication(self, request):
        super().perform_authentication(request)
        language = resolve_language(request, user=request.user)
        translation.activate(language)
        request.LANGUAGE_CODE = language

    @property
    def member(self):
        return self.request.portal_member

    def handle_exception(self, exc):
        if isinstance(exc, TransitionRefused):
            return Response({"detail": " ".join(exc.messages), "code": exc.code or "transition_not_allowed",
                             "current_status": exc.current, "wanted_status": exc.wanted},
                            status=status.HTTP_409_CONFLICT)
        if isinstance(exc, ApprovalConflict):
            return Response({"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "conflict"},
                            status=status.HTTP_409_CONFLICT)
        if getattr(exc, "code", None) == "transition_not_allowed" and hasattr(exc, "current"):
            return Response({"detail": " ".join(exc.messages), "code": "transition_not_allowed",
                             "current_status": exc.current, "wanted_status": exc.wanted},
                            status=status.HTTP_409_CONFLICT)
        if isinstance(exc, ObjectDoesNotExist):
            exc = exceptions.NotFound()
        return super().handle_exception(exc)

    @staticmethod
    def edited_version(request, body_version: int | None) -> int | None:
        if body_version is not None:
            return body_version
        raw = (request.headers.get("If-Match") or "").strip('"W/ ')
        return int(raw) if raw.isdigit() else None


def validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
