"""Settings shared by every environment. Integrations live in their own modules."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from .cache import *  # noqa: F403
from .celery import *  # noqa: F403
from .database import *  # noqa: F403
from .email import *  # noqa: F403
from .env import env
from .stripe import *  # noqa: F403

CONFIG_DIR = Path(__file__).resolve().parent.parent
BASE_DIR = CONFIG_DIR.parent.parent  # the repository root

SECRET_KEY = env("SECRET_KEY", str, help="a long random string; keep it secret in production")
DEBUG = env("DEBUG", bool, False)
BASE_DOMAIN = env("BASE_DOMAIN", str, "localhost", help="public host; tenants live at <slug>.<BASE_DOMAIN>")
ALLOWED_HOSTS = env("ALLOWED_HOSTS", list, [BASE_DOMAIN, f".{BASE_DOMAIN}"])
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS", list, [])
SITE_SCHEME = env("SITE_SCHEME", str, "http")
SITE_PORT = env("SITE_PORT", str, "")

# --- applications -------------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "crm.org",  # the user model lives here; operators are users of the public schema
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "console",
    "billing",
    "signup",
]

TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework.authtoken",
    "crm.org",
    "crm.audit",
    "crm.customers",
    "crm.activities",
    "crm.catalog",
    "crm.approvals",
    "crm.sales",
    "crm.partners",
    "crm.orders",
    "crm.analytics",
    "crm.finance",
    "crm.integrations",
    "partner_portal",
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# `SET search_path` once per connection and schema switch, not before every statement: the
# backend forgets it on set_tenant, rollback and savepoint rollback (which revert a SET).
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_NAME = "public"
TENANT_TEMPLATE_SCHEMA = "qiao_template"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
TENANT_LOOKUP_CACHE_SECONDS = env("TENANT_LOOKUP_CACHE_SECONDS", int, 60)
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

AUTH_USER_MODEL = "org.User"
AUTHENTICATION_BACKENDS = ["crm.org.auth.EmailBackend"]
LOGIN_URL = "org:login"
LOGIN_REDIRECT_URL = "activities:today"
LOGOUT_REDIRECT_URL = "org:login"
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.health.HealthCheckMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.org.middleware.PartnerBoundaryMiddleware",
    "crm.org.middleware.LanguageMiddleware",
    "billing.middleware.ModuleEntitlementMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.audit.middleware.AuditContextMiddleware",
    "crm.org.support_access.SupportAccessMiddleware",  # inside the audit context: tags "operator"
    "console.middleware.ConsoleAdminGuardMiddleware",  # the admin needs the console's 2FA too
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [CONFIG_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenant",
                "crm.org.context_processors.navigation",
                "crm.org.support_access.support_banner",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- i18n: Simplified Chinese first, English alongside ------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "qiao_language"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static files: served by the app itself, no CDN ---------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", str, "") or None  # set in production (collectstatic)
WHITENOISE_USE_FINDERS = True  # serve installed packages' static files without collectstatic
STATICFILES_DIRS = [CONFIG_DIR / "static"]

# --- uploaded files (order attachments): served only through views that check access ----------
MEDIA_ROOT = env("MEDIA_ROOT", str, "") or str(BASE_DIR / ".data" / "media")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Qiao API",
    "DESCRIPTION": "Qiao CRM: the staff API of one tenant (company). Authenticate with "
    "`POST /api/v1/auth/token` and send `Authorization: Token <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("role") get their own schema names.
    "ENUM_NAME_OVERRIDES": {
        "ContactRoleEnum": "crm.customers.enums.ContactRole",
        "PartnerMemberRoleEnum": "crm.partners.enums.MemberRole",
    },
}

SESSION_COOKIE_NAME = "qiao_session"
SESSION_COOKIE_AGE = 14 * 24 * 3600
CSRF_COOKIE_NAME = "qiao_csrftoken"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", str, "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
