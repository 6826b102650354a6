"""Local development (`make run`)."""

import json
import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-change-me")
os.environ.setdefault("DEBUG", "true")


def _embedded_defaults() -> None:
    """Without DATABASE_URL / REDIS_URL, point at the embedded servers that `make run` keeps
    under .data/ (they may not be running: commands that need no database still work, and
    the others fail with the socket they tried). `python -m config.devservices exec -- CMD`
    starts them for one command."""
    data = Path(__file__).resolve().parents[3] / ".data"
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"postgresql://postgres:@/qiao?host={data / 'pg'}"
    if not os.environ.get("REDIS_URL"):
        redis_url = f"unix://{data / 'redis' / 'redis.sock'}?db=0"
        conn = data / "redis" / "connection.json"
        if conn.exists():
            info = json.loads(conn.read_text())
            if "port" in info and "socket" not in info:
                redis_url = f"redis://127.0.0.1:{info['port']}/0"
        os.environ["REDIS_URL"] = redis_url


_embedded_defaults()

from .base import *  # noqa: E402,F403
from .env import env  # noqa: E402

DEBUG = env("DEBUG", bool, True)
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
