import os
import pathlib
import secrets
import subprocess
import sys

import pytest

from config.settings.database import parse_database_url
from config.settings.env import ImproperEnvironment, env

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_required_value_missing_names_the_variable(monkeypatch):
    monkeypatch.delenv("QIAO_SOMETHING", raising=False)
    with pytest.raises(ImproperEnvironment, match="QIAO_SOMETHING is required"):
        env("QIAO_SOMETHING", str, help="for testing")


def test_typed_values_and_clear_errors(monkeypatch):
    monkeypatch.setenv("QIAO_N", "12")
    monkeypatch.setenv("QIAO_B", "yes")
    monkeypatch.setenv("QIAO_L", "a, b,,c")
    assert env("QIAO_N", int) == 12
    assert env("QIAO_B", bool) is True
    assert env("QIAO_L", list) == ["a", "b", "c"]
    monkeypatch.setenv("QIAO_N", "twelve")
    with pytest.raises(ImproperEnvironment, match="QIAO_N='twelve' is not a valid int"):
        env("QIAO_N", int)
    monkeypatch.setenv("QIAO_N", "")
    assert env("QIAO_N", int, 3) == 3


def test_database_url_forms():
    tcp = parse_database_url("postgres://u:p%40ss@db.example:6543/qiao")
    assert (tcp["HOST"], tcp["PORT"], tcp["USER"], tcp["PASSWORD"], tcp["NAME"]) == (
        "db.example", "6543", "u", "p@ss", "qiao")
    sock = parse_database_url("postgresql://postgres:@/qiao?host=/tmp/pg")
    assert sock["HOST"] == "/tmp/pg" and sock["NAME"] == "qiao"
    with pytest.raises(ImproperEnvironment):
        parse_database_url("mysql://x/y")


def _manage(*args, **env_overrides):
    environ = {k: v for k, v in os.environ.items()}
    environ.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_prod_settings_pass_check_deploy_without_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     DJANGO_SETTINGS_MODULE="config.settings.prod",
                     SECRET_KEY=secrets.token_urlsafe(64), BASE_DOMAIN="qiao.example.cn")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_missing_database_url_stops_start_up_with_a_message():
    # production has no fallback (development points at the embedded servers under .data/)
    result = _manage("check", DJANGO_SETTINGS_MODULE="config.settings.prod", DATABASE_URL="")
    assert result.returncode != 0
    assert "DATABASE_URL is required" in result.stderr
