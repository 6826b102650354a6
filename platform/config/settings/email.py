"""Outgoing email: SMTP in production, the console in development."""

from .env import env

EMAIL_BACKEND = env(
    "EMAIL_BACKEND", str, "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", str, "localhost")
EMAIL_PORT = env("EMAIL_PORT", int, 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", str, "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", str, "")
EMAIL_USE_TLS = env("EMAIL_USE_TLS", bool, False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", str, "Qiao <no-reply@qiao.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
