"""The base of every staff API view: who the actor is, in their language."""

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from crm.org.enums import UserKind
from crm.org.middleware import resolve_language


class IsActiveStaff(BasePermission):
    """Active staff only. A partner user (portal token or session) gets 404, as for any URL
    outside the portal (crm.org.middleware.PartnerBoundaryMiddleware)."""

    message = _("只有在职员工可以访问。")

    def has_permission(self, request, view):
        user = request.user
        if user and user.is_authenticated and getattr(user, "kind", UserKind.STAFF) != UserKind.STAFF:
            raise NotFound()
        return bool(user and user.is_authenticated and user.is_active)


class StaffApiView(APIView):
    """Subclasses read records only through ``visible_to`` selectors, with the actor
    ``request.user``; a record outside the actor's scope answers 404."""

    permission_classes = [IsAuthenticated, IsActiveStaff]

    def perform_authentication(self, request):
        super().perform_authentication(request)
        # Token users are known only now: speak their language from here on, including
        # in permission errors.
        language = resolve_language(request, user=request.user)
        translation.activate(language)
        request.LANGUAGE_CODE = language

    @staticmethod
    def edited_version(request, body_version: int | None) -> int | None:
        """The version the client edited: the body's ``version`` field, else the If-Match
        header (``"3"``, ``W/"3"``). The service answers a stale one with 412."""
        if body_version is not None:
            return body_version
        raw = (request.headers.get("If-Match") or "").strip('"W/ ')
        return int(raw) if raw.isdigit() else None


def validated(serializer_class, data, **kwargs) -> dict:
    """The input checked by ``serializer_class`` (a 400 naming the fields otherwise), as a dict."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
