"""Browser tests: Debian's Chromium, driven by Playwright, against a live server.

The server runs in threads of this process on the pytest-django test database and serves
the whole app as production does (static files through WhiteNoise's finders). Unlike
pytest-django's ``live_server`` it never requests ``transactional_db``: that fixture flushes
every table at teardown, which would wipe the session's committed tenants (``tenant_env``)
out from under every later test. Browser tests therefore commit, and each one puts back what
it changed (``alpha_restored``).

While Playwright's sync API is active an asyncio loop runs in the main thread. Django then
refuses ORM calls there (SynchronousOnlyOperation), and, worse, keeps the connections
opened in that state apart from its ordinary per-thread ones, so nothing closes them and the
test database cannot be dropped at the end. Database work in these tests therefore goes
through ``off_loop``: a short-lived thread that closes its connections when done.

Playwright never downloads a browser here: Chromium comes from apt (``apt-get install -y
chromium``); without it the tests are skipped.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Tenants live on <slug>.<BASE_DOMAIN>: send those names to the live server.
    f"--host-resolver-rules=MAP *.{settings.BASE_DOMAIN} 127.0.0.1",
]
SERVER_HOST = "127.0.0.1"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
# The configured (development) database, before pytest-django points Django at a test one.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


def off_loop(fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a thread of its own, without Playwright's event loop;
    returns its result or raises its exception. Its database connections are closed after."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run, name="e2e-db")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture(name="off_loop")
def off_loop_fixture():
    return off_loop


# --- the database --------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def _e2e_test_database(django_db_setup, django_db_blocker, django_db_keepdb, django_db_createdb):
    """pytest-django creates the test database only if some selected test asks for ``db``
    (or has the django_db mark). Browser tests must not (that transaction would hide their
    rows from the server), so when only they are selected nothing would, and ``tenant_env``
    would write into the configured database. Create the test database here in that case."""
    from django.test.utils import setup_databases, teardown_databases

    if connections["default"].settings_dict["NAME"] != _CONFIGURED_DATABASE:
        yield  # already set up for the other tests of this session
        return
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, keepdb=keepdb,
                                  aliases={"default"})
    assert connections["default"].settings_dict["NAME"] != _CONFIGURED_DATABASE
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0, keepdb=keepdb)


@pytest.fixture(autouse=True)
def _e2e_database_open(django_db_blocker):
    """pytest-django blocks database access process-wide (it patches the connection class),
    which would also block the server's request threads. Open it for each browser test,
    without the ``db`` fixture's transaction: the server could not see inside it."""
    with django_db_blocker.unblock():
        yield


# --- the browser ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"e2e: no Chromium at {CHROMIUM}; install Debian's (apt-get install -y "
                    "chromium) or point E2E_CHROMIUM at one. Playwright must not download one.")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path):
    """One Chromium per test module, closed before the next module runs, so that no event
    loop is left running in the main thread for the rest of the suite."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser):
    """Factory of fresh browser contexts (own cookie jar), in Chinese, desktop-sized, or
    phone-sized with ``phone=True``; all closed after the test."""
    made = []

    def _make(*, phone: bool = False, **options):
        options = {"locale": "zh-CN", **(PHONE if phone else DESKTOP), **options}
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield _make
    for context in made:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where tests leave screenshots for a human to look at: $E2E_SCREENSHOT_DIR, else a
    pytest temporary directory."""
    target = os.environ.get("E2E_SCREENSHOT_DIR")
    if target:
        path = Path(target)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("e2e-screenshots")


# --- the server ----------------------------------------------------------------------------

@dataclass
class LiveServer:
    thread: object
    _hosts: dict = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.thread.port

    def url(self, tenant, path: str = "/") -> str:
        """``http://<tenant's primary domain>:<port><path>``."""
        if tenant.pk not in self._hosts:
            from tenants.selectors import tenant_primary_domain

            self._hosts[tenant.pk] = off_loop(tenant_primary_domain, tenant)
        return f"http://{self._hosts[tenant.pk]}:{self.port}{path}"


def _no_static_interception(app):
    """Leave /static/ to WhiteNoise in the app's own middleware (WHITENOISE_USE_FINDERS), as
    in production, instead of Django's test-only static handler."""
    return app


@pytest.fixture(scope="session")
def e2e_server(tenant_env):
    """The app on a free port of 127.0.0.1 for the whole session, on the test database.
    Requests are handled in the server's own threads and connections (closed after each
    connection), so they see committed data only. Nothing is flushed at the end."""
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread(SERVER_HOST, _no_static_interception, connections_override=None,
                              port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield LiveServer(thread)
    finally:
        thread.terminate()  # stops serving and joins the request threads


# --- committed state -------------------------------------------------------------------------

@pytest.fixture
def alpha(tenant_env):
    return tenant_env["alpha"]


def _in_schema(tenant, fn, /, *args, **kwargs):
    from django_tenants.utils import schema_context

    with schema_context(tenant.schema_name):
        return fn(*args, **kwargs)


@pytest.fixture
def in_alpha(alpha):
    """``in_alpha(fn, *args)``: run ``fn`` in tenant alpha's schema, off the browser's loop."""
    return lambda fn, /, *args, **kwargs: off_loop(_in_schema, alpha, fn, *args, **kwargs)


@pytest.fixture
def alpha_admin(in_alpha):
    from crm.org.models import User

    return in_alpha(User.objects.get, email="admin@alpha.test")


@pytest.fixture
def alpha_restored(alpha, alpha_admin, in_alpha):
    """Browser tests commit: signing in writes sessions and ``last_login``, switching the
    language saves it on the user and in the audit trail. Put tenant alpha back afterwards
    so the rest of the suite sees the tenant as ``tenant_env`` made it."""
    from django.contrib.sessions.models import Session

    from crm.audit.models import AuditEntry
    from crm.org.models import User

    def snapshot():
        return (
            AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            set(Session.objects.values_list("session_key", flat=True)),
            User.objects.filter(pk=alpha_admin.pk).values("language", "last_login", "version").get(),
        )

    last_audit_id, sessions_before, admin_before = in_alpha(snapshot)
    yield alpha

    def restore():
        Session.objects.exclude(session_key__in=sessions_before).delete()
        AuditEntry.objects.filter(id__gt=last_audit_id).delete()
        User.objects.filter(pk=alpha_admin.pk).update(**admin_before)

    in_alpha(restore)


# --- translations ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def english_unavailable() -> str | None:
    """Compile the message catalogs the way an installation does (``manage.py
    compile_translations``) and make this process load them afresh. Returns why English
    cannot be checked, or None when it can."""
    from django.core.management import call_command, get_commands

    if "compile_translations" not in get_commands():
        return "the compile_translations management command does not exist"
    call_command("compile_translations", verbosity=0, stdout=io.StringIO())
    compiled = [Path(p) / "en" / "LC_MESSAGES" / "django.mo" for p in settings.LOCALE_PATHS]
    if not any(p.exists() for p in compiled):
        return f"compile_translations wrote no English catalog ({', '.join(map(str, compiled))})"
    _forget_loaded_catalogs()
    return None


def _forget_loaded_catalogs() -> None:
    """Catalogs are cached per process once loaded; drop them (as Django's autoreloader
    does when a .mo file changes) so that the server's threads read the fresh ones."""
    import gettext

    from asgiref.local import Local
    from django.utils.translation import trans_real

    gettext._translations = {}
    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()
