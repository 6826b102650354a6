from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnerPortalConfig(AppConfig):
    """The distributors' portal (/portal/) and its API (/api/v1/portal/). It owns no models and
    no domain rules: it translates requests into calls of crm services and selectors."""

    name = "partner_portal"
    label = "partner_portal"
    verbose_name = _("渠道门户")
