"""The base of every staff API view: who the actor is, in their language."""

from django.utils import translation
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from crm.org.middleware import resolve_language


class IsActiveStaff(BasePermission):
    message = "只有在职员工可以访问。"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)


class StaffApiView(APIView):
    """Subclasses read records only through ``visible_to`` selectors, with the actor
    ``request.user``; a record outside the actor's scope answers 404."""

    permission_classes = [IsAuthenticated, IsActiveStaff]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Token users are known only now: speak their language from here on.
        language = resolve_language(request, user=request.user)
        translation.activate(language)
        request.LANGUAGE_CODE = language
