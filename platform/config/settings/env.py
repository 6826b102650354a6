"""The one typed door through which environment values enter the settings.

Every setting read from the environment goes through ``env``; a required value that is
missing or malformed stops start-up with a message naming the variable and what it wants.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = object()


class ImproperEnvironment(RuntimeError):
    """A required environment value is missing or cannot be parsed."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _parse_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


_PARSERS: dict[type, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _parse_bool,
    list: _parse_list,
}


def env(name: str, cast: type[T] = str, default: Any = _MISSING, *, help: str = "") -> T:
    """Read ``name`` from the environment as ``cast``.

    Without ``default`` the variable is required. ``help`` says what the value is for and
    appears in the error message.
    """
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        if default is _MISSING:
            hint = f" ({help})" if help else ""
            raise ImproperEnvironment(
                f"Environment variable {name} is required{hint}; see .env.example."
            )
        return default
    parser = _PARSERS.get(cast)
    if parser is None:
        raise TypeError(f"env(): unsupported type {cast!r} for {name}")
    try:
        return parser(raw)
    except ValueError as exc:
        raise ImproperEnvironment(
            f"Environment variable {name}={raw!r} is not a valid {cast.__name__}: {exc}"
        ) from exc
