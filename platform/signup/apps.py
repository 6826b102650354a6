from django.apps import AppConfig


class SignupConfig(AppConfig):
    name = "signup"
    verbose_name = "Public site and sign-up"
    default_auto_field = "django.db.models.BigAutoField"
