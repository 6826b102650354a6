"""Chinese first, English alongside: the tenant's default language, the user's own choice,
API messages, and the English catalog compiled without GNU gettext."""

from __future__ import annotations

import gettext as gettext_module
import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import translation
from django.utils.translation import gettext

pytestmark = pytest.mark.django_db

PASSWORD = "Test-pass-2026"
LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
EN_MO = EN_PO.with_suffix(".mo")
COOKIE = settings.LANGUAGE_COOKIE_NAME


def _forget_loaded_catalogs():
    """Make Django (and Python's gettext cache) read the .mo files again."""
    from django.utils.translation import trans_real

    trans_real._translations = {}
    trans_real._default = None
    for cached in ("translation_catalog_exists", "check_for_language"):
        getattr(getattr(trans_real, cached, None), "cache_clear", lambda: None)()
    getattr(gettext_module, "_translations", {}).clear()


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs():
    """Installation compiles the catalogs; do it here when that has not happened (yet), so
    these tests do not depend on the order things were installed or edited in."""
    if not EN_MO.exists() or EN_MO.stat().st_mtime < EN_PO.stat().st_mtime:
        call_command("compile_translations", stdout=StringIO())
        _forget_loaded_catalogs()
    yield


def _page(client, path="/"):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response, response.content.decode()


def _set_user_language(in_tenant, tenant, user, language):
    from crm.org.services import user_set_language

    with in_tenant(tenant):
        user_set_language(user=user, language=language)


# -- (a) tenant default, then the language switch ---------------------------------------------
def test_tenant_pages_are_chinese_by_default(tenant_a, user_in, web_as):
    assert tenant_a.language == "zh-hans"
    response, page = _page(web_as(tenant_a, user_in(tenant_a, "sales")))
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-CN">' in page
    assert "今日工作" in page and "退出" in page
    assert "Today" not in page and "Sign out" not in page


def test_switching_to_english_is_stored_on_the_user_and_in_the_cookie(tenant_a, user_in, web_as,
                                                                     in_tenant):
    sales = user_in(tenant_a, "sales")
    assert sales.language == ""
    client = web_as(tenant_a, sales)
    assert "今日工作" in _page(client)[1]

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[COOKIE].value == "en"
    with in_tenant(tenant_a):
        sales.refresh_from_db()
    assert sales.language == "en"

    response, page = _page(client)
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in page
    assert "Today" in page and "Sign out" in page and "Staff" in page  # page, shell, menu
    assert "今日工作" not in page and "退出" not in page

    # ...and back
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    with in_tenant(tenant_a):
        sales.refresh_from_db()
    assert sales.language == "zh-hans"
    assert "今日工作" in _page(client)[1]


def test_signed_out_visitors_switch_with_the_cookie_alone(web):
    assert "登录" in _page(web, "/login/")[1]
    response = web.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302 and response.cookies[COOKIE].value == "en"
    page = _page(web, "/login/")[1]
    assert "Sign in" in page and "Forgot your password?" in page and "忘记密码" not in page


def test_an_unsupported_language_changes_nothing(tenant_a, user_in, web_as, in_tenant):
    sales = user_in(tenant_a, "sales")
    client = web_as(tenant_a, sales)
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert response.status_code == 302 and COOKIE not in response.cookies
    with in_tenant(tenant_a):
        sales.refresh_from_db()
    assert sales.language == ""
    page = _page(client)[1]
    assert "今日工作" in page and "不支持的语言。" in page


# -- (b) the user's own language wins -------------------------------------------------------
def test_a_users_own_language_wins_over_the_tenant_default(tenant_a, user_in, web_as, in_tenant):
    sales = user_in(tenant_a, "sales")
    _set_user_language(in_tenant, tenant_a, sales, "en")
    page = _page(web_as(tenant_a, sales))[1]  # a fresh browser: no language cookie
    assert "Today" in page and "今日工作" not in page
    # a colleague without a choice of their own still gets the company's language
    assert "今日工作" in _page(web_as(tenant_a, user_in(tenant_a, "sales2")))[1]


def test_a_users_own_language_wins_over_a_leftover_cookie(tenant_a, user_in, web_as, in_tenant):
    sales = user_in(tenant_a, "sales")
    _set_user_language(in_tenant, tenant_a, sales, "zh-hans")
    client = web_as(tenant_a, sales)
    client.cookies[COOKIE] = "en"  # e.g. someone else chose English on this browser
    page = _page(client)[1]
    assert "今日工作" in page and "Today" not in page


def test_the_tenant_default_applies_to_users_without_a_choice(tenant_a, user_in, web_as, in_tenant):
    from tenants.models import Tenant
    from tenants.selectors import tenant_cache_forget

    tenant = Tenant.objects.get(pk=tenant_a.pk)  # not the session-wide object: rolled back only in the DB
    tenant.language = "en"
    tenant.save(update_fields=["language"])
    tenant_cache_forget(tenant)
    assert "Today" in _page(web_as(tenant_a, user_in(tenant_a, "sales2")))[1]
    sales = user_in(tenant_a, "sales")
    _set_user_language(in_tenant, tenant_a, sales, "zh-hans")
    assert "今日工作" in _page(web_as(tenant_a, sales))[1]


# -- (c) API messages -------------------------------------------------------------------------
BAD_LOGIN = {"email": "sales@alpha.example.com", "password": "wrong-password"}
BAD_LOGIN_ZH = "邮箱或密码不正确，或账号已停用。"
BAD_LOGIN_EN = "Incorrect email or password, or the account has been deactivated."


def test_api_token_error_is_chinese_by_default(tenant_a, api_for):
    response = api_for(tenant_a).post("/api/v1/auth/token", BAD_LOGIN, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": BAD_LOGIN_ZH, "code": "invalid_credentials"}


def test_api_token_error_follows_the_language_cookie(tenant_a, api_for):
    client = api_for(tenant_a)
    client.cookies[COOKIE] = "en"
    response = client.post("/api/v1/auth/token", BAD_LOGIN, format="json")
    assert response.status_code == 400 and response.json()["detail"] == BAD_LOGIN_EN
    assert response["Content-Language"] == "en"


def test_api_token_error_follows_accept_language(tenant_a, api_for):
    response = api_for(tenant_a).post("/api/v1/auth/token", BAD_LOGIN, format="json",
                                      HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and response.json()["detail"] == BAD_LOGIN_EN


def test_api_errors_follow_the_token_users_language(tenant_a, user_in, api_for, in_tenant):
    sales = user_in(tenant_a, "sales")
    zh = api_for(tenant_a, sales)
    denied = zh.post("/api/v1/departments/", {"name": "新部门"}, format="json")
    assert denied.status_code == 403
    assert denied.json()["detail"] == "你没有管理组织架构的权限。"
    assert zh.get("/api/v1/staff/999999/").json()["detail"] == "未找到。"

    _set_user_language(in_tenant, tenant_a, sales, "en")
    en = api_for(tenant_a, sales)
    denied = en.post("/api/v1/departments/", {"name": "新部门"}, format="json")
    assert denied.status_code == 403
    assert denied.json()["detail"] == "You don't have permission to manage the organisation structure."
    missing = en.get("/api/v1/staff/999999/")
    assert missing.status_code == 404 and missing.json()["detail"] == "Not found."


def test_api_validation_errors_follow_the_users_language(tenant_a, user_in, api_for, in_tenant):
    admin = user_in(tenant_a, "admin")
    sales = user_in(tenant_a, "sales")
    path = f"/api/v1/staff/{sales.pk}/"
    zh = api_for(tenant_a, admin).patch(path, {"language": "fr"}, format="json")
    assert zh.status_code == 400 and zh.json()["language"] == ["不支持的语言：fr"]

    _set_user_language(in_tenant, tenant_a, admin, "en")
    en = api_for(tenant_a, admin).patch(path, {"language": "fr"}, format="json")
    assert en.status_code == 400 and en.json()["language"] == ["Unsupported language: fr"]


# -- (d) the catalog and its compilation ------------------------------------------------------
def test_the_compiled_english_catalog_is_what_django_loads():
    assert EN_MO.exists()
    with translation.override("en"):
        assert gettext("今日工作") == "Today"
        assert gettext("业务员") == "Salesperson"
        assert gettext("商务秘书") == "Business secretary"
        assert gettext("%(name)s，你好。") % {"name": "Li"} == "Hello, Li."
    with translation.override("zh-hans"):
        assert gettext("今日工作") == "今日工作"


def test_every_catalog_entry_is_translated_and_loaded():
    with EN_PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    entries = [m for m in catalog if m.id]
    assert entries
    assert not [m.id for m in entries if m.fuzzy], "fuzzy entries are left out of the .mo"
    assert not [m.id for m in entries if not (all(m.string) if m.pluralizable else m.string)]
    assert not list(catalog.check()), "placeholders must match their msgid"
    with translation.override("en"):
        for m in entries:
            if m.pluralizable:
                assert translation.ngettext(m.id[0], m.id[1], 1) == m.string[0]
                assert translation.ngettext(m.id[0], m.id[1], 2) == m.string[1]
            elif m.context:
                assert translation.pgettext(m.context, m.id) == m.string
            else:
                assert gettext(m.id) == m.string, m.id


@pytest.fixture
def scratch_locale(tmp_path):
    """A copy of the English catalog in a locale folder of its own."""
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(EN_PO, target / "django.po")
    with override_settings(LOCALE_PATHS=[tmp_path]):
        yield tmp_path
    _forget_loaded_catalogs()


def test_compile_translations_writes_mo_files_gettext_reads(scratch_locale):
    out = StringIO()
    call_command("compile_translations", stdout=out)
    mo = scratch_locale / "en" / "LC_MESSAGES" / "django.mo"
    assert mo.exists()
    assert "en/LC_MESSAGES/django.po" in out.getvalue() and "compiled" in out.getvalue()
    with mo.open("rb") as fh:
        compiled = gettext_module.GNUTranslations(fh)
    assert compiled.gettext("今日工作") == "Today"
    assert compiled.gettext("不支持的语言：%(lang)s") == "Unsupported language: %(lang)s"


def test_compile_translations_refuses_a_broken_catalog(scratch_locale):
    po = scratch_locale / "en" / "LC_MESSAGES" / "django.po"
    po.write_text(po.read_text(encoding="utf-8") + '\nmsgid "未闭合\nmsgstr "unclosed"\n',
                  encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="could not be compiled"):
        call_command("compile_translations", stdout=StringIO(), stderr=err)
    assert "en/LC_MESSAGES/django.po" in err.getvalue() and "未闭合" in err.getvalue()
    assert not (po.with_suffix(".mo")).exists()


def test_compile_translations_refuses_mismatched_placeholders(scratch_locale):
    po = scratch_locale / "en" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(text.replace('msgstr "Unsupported language: %(lang)s"',
                               'msgstr "Unsupported language: %(language)s"'), encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("compile_translations", stdout=StringIO(), stderr=err)
    assert "language" in err.getvalue()


def test_compile_translations_needs_no_database_or_gettext_tools(tmp_path):
    """As on a fresh machine during installation: nothing listening, no msgfmt on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # manage.py's own
    env.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing", REDIS_URL="redis://127.0.0.1:1/0",
               PATH=str(Path(sys.executable).parent))
    result = subprocess.run([sys.executable, "manage.py", "compile_translations", "-l", "en"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "compiled locale/en/LC_MESSAGES/django.po" in result.stdout
    assert EN_MO.exists()
