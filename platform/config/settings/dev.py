"""Local development (`make run`)."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-change-me")
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F403
from .env import env  # noqa: E402

DEBUG = env("DEBUG", bool, True)
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
