from django.contrib import admin

from .models import OperatorLogEntry, OperatorTOTP, SupportSession


@admin.register(OperatorTOTP)
class OperatorTOTPAdmin(admin.ModelAdmin):
    """Deleting a row resets an operator's second factor (a lost phone): they enrol again."""

    list_display = ("operator", "confirmed_at", "created_at")
    fields = ("operator", "confirmed_at", "created_at")  # never the secret
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OperatorLogEntry)
class OperatorLogEntryAdmin(_ReadOnly):
    list_display = ("at", "operator_email", "action", "tenant", "reason", "ip")
    list_filter = ("action",)
    search_fields = ("operator_email", "reason", "tenant__slug")


@admin.register(SupportSession)
class SupportSessionAdmin(_ReadOnly):
    list_display = ("created_at", "operator_email", "tenant", "user_email", "minutes", "ended_at", "end_reason")
