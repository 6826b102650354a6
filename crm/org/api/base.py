"""The base of every staff API view: who the actor is, in their language."""

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from crm.org.middleware import resolve_language


class IsActiveStaff(BasePermission):
    message = _("只有在职员工可以访问。")

    def has_permission(self, request, view):
        user = request.user
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
