"""The real stack, started as separate processes, for reliability tests and soak runs.

- `start_web(database_url, ...)`: gunicorn (`gthread` workers) serving `wsgi:app` as in
  production (`APP_ENV=production`); its workers can be killed and are respawned by the master.
- `start_scheduler(database_url, ...)`: the scheduler process (`flask --app wsgi scheduler`).
- `private_postgres()` / `private_redis()`: throwaway servers on free ports, which a test may
  stop, start and restart without disturbing anyone else's database.
- `Api`: a small keep-alive HTTP/JSON client (standard library only; one per thread).

Every process writes its output to a log file (`.log_path`); `.log_tail()` helps when an
assertion fails. A missing binary skips the test (fails it under REQUIRE_FULL_SUITE=1).
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60.0


# --- helpers ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc; zombies excluded)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                raw = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = raw[raw.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(raw.split(" ", 1)[0]))
    return sorted(found)


def _app_env(database_url: str, redis_url: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "reliability-test-secret",
        "DATABASE_URL": database_url,
        "GEOCODER_PROVIDER": "none",
        "AUTO_ASSIGN_ON_INTAKE": "0",
        "SCHEDULER_IN_PROCESS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("RATELIMIT_STORAGE_URI", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


class Proc:
    """One child process with its log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.args, self.env, self.log_path, self.cwd = args, env, log_path, cwd
        self.popen: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        if self.alive:
            return
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process (not its group) and, for SIGKILL, reap it."""
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(sig)
            if sig == signal.SIGKILL:
                self.popen.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL to the whole process group if it does not go in time."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


# --- the web tier -----------------------------------------------------------------------------


class WebStack:
    """A gunicorn master and its workers on 127.0.0.1:`port`."""

    def __init__(self, proc: Proc, port: int, workers: int, workdir: Path):
        self.proc, self.port, self.workers, self.workdir = proc, port, workers, workdir
        self.base_url = f"http://127.0.0.1:{port}"

    @property
    def log_path(self) -> Path:
        return self.proc.log_path

    @property
    def master_pid(self) -> int:
        return self.proc.pid

    @property
    def pids(self) -> list[int]:
        """The worker processes alive now (booting or serving)."""
        return children_of(self.proc.pid)

    @property
    def ready_pids(self) -> list[int]:
        """The workers alive now that have loaded the app (gunicorn's post_worker_init hook
        leaves a marker for each), oldest first."""
        alive = set(self.pids)
        marks = [(m.stat().st_mtime, int(m.name)) for m in (self.workdir / "ready").iterdir() if int(m.name) in alive]
        return [pid for _, pid in sorted(marks)]

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Until every worker has loaded the app and the app answers HTTP."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive:
                raise RuntimeError(f"gunicorn exited with {self.proc.popen.returncode}:\n{self.log_tail()}")
            if len(self.ready_pids) >= self.workers and _answers(self.base_url):
                return
            time.sleep(0.1)
        raise TimeoutError(f"gunicorn did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def kill_worker(self, sig: int = signal.SIGKILL, pid: int | None = None) -> int:
        """Send `sig` to one worker (the oldest serving one, or `pid`) and return its pid. The
        master starts a replacement; `wait_ready()` waits until it serves."""
        pids = self.ready_pids or self.pids
        if not pids:
            raise RuntimeError("no gunicorn worker is alive")
        victim = pid if pid is not None else pids[0]
        os.kill(victim, sig)
        return victim

    def stop(self) -> None:
        self.proc.stop()
        if not os.environ.get("RELIABILITY_KEEP_LOGS"):  # set it to read gunicorn.log afterwards
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        return self.proc.log_tail(lines)

    def __enter__(self) -> WebStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers(base_url: str) -> bool:
    api = Api(base_url, timeout=2)
    try:
        status, _ = api.request("GET", "/api/me")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        api.close()
    return status in (200, 401)


# A worker marks itself ready once it has loaded the app, so tests kill serving workers,
# not ones still booting, and know when a replacement serves.
GUNICORN_CONFIG = """
import pathlib


def post_worker_init(worker):
    pathlib.Path({ready!r}, str(worker.pid)).touch()
"""


def start_web(
    database_url: str,
    redis_url: str | None = None,
    workers: int = 2,
    port: int | None = None,
    env: dict[str, str] | None = None,
    threads: int = 8,
) -> WebStack:
    """Start gunicorn serving `wsgi:app` against a migrated database, and wait until it answers.

    `env` adds or overrides environment variables (e.g. `AUTO_ASSIGN_ON_INTAKE=1`). Workers
    that are killed are restarted by the master. Use as a context manager or call `.stop()`.
    """
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            skip_or_fail("gunicorn is not installed (pip install -r requirements.txt)")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="web-"))
    (workdir / "ready").mkdir()
    config = workdir / "gunicorn_conf.py"
    config.write_text(GUNICORN_CONFIG.format(ready=str(workdir / "ready")))
    args = [
        sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(config),
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--timeout", "60", "--graceful-timeout", "5", "--keep-alive", "30",
        "--worker-tmp-dir", str(workdir), "--no-control-socket",
    ]  # fmt: skip
    proc = Proc(args, _app_env(database_url, redis_url, env), workdir / "gunicorn.log")
    stack = WebStack(proc, port, workers, workdir)
    try:
        stack.wait_ready()
    except BaseException:
        proc.stop()
        raise
    return stack


def start_scheduler(
    database_url: str, redis_url: str | None = None, interval_s: float = 1, env: dict[str, str] | None = None
) -> Proc:
    """Start `flask --app wsgi scheduler --interval interval_s` (returns at once; the process
    takes the scheduler lock within a tick)."""
    workdir = Path(tempfile.mkdtemp(prefix="scheduler-"))
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--interval", str(interval_s)]
    return Proc(args, _app_env(database_url, redis_url, env), workdir / "scheduler.log")


# --- private PostgreSQL ------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries, or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (trust auth, user `postgres`, database `dispatch`)."""

    def __init__(self, bindir: Path, workdir: Path, port: int):
        self.bindir, self.workdir, self.port = bindir, workdir, port
        self.datadir = workdir / "data"
        self.log_path = workdir / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/dispatch"
        # initdb refuses to run as root: run the server as the `postgres` system user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as, *args], cwd=self.workdir, check=check, capture_output=True, text=True, timeout=120
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.start()
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "dispatch")

    def start(self) -> None:
        """Start the server (on the same port and data) and wait until it accepts connections."""
        if self.running:
            return
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-l", str(self.log_path),
            "-w", "-t", "60", "start", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stdout}{result.stderr}\n{_tail(self.log_path)}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back sessions, clean shutdown) or `immediate` (like a crash)."""
        if not self.running:
            return
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status", check=False)
        return result.returncode == 0

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


@contextlib.contextmanager
def private_postgres(migrate: bool = True) -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL cluster on a free port, migrated to the newest schema unless
    `migrate=False`; removed afterwards."""
    bindir = postgres_bin()
    if bindir is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's tmp_path: the `postgres` user must be able to reach the directory.
    workdir = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    server = PrivatePostgres(bindir, workdir, free_port())
    try:
        server.init()
        if migrate:
            from core.migrate import upgrade

            upgrade(server.url)
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)


# --- private Redis ------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server without persistence on its own port."""

    def __init__(self, binary: str, workdir: Path, port: int):
        self.binary, self.workdir, self.port = binary, workdir, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = workdir / "redis.log"
        self.proc: Proc | None = None

    def start(self, timeout: float = 20.0) -> None:
        if self.proc is not None and self.proc.alive:
            return
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--daemonize", "no",
        ]  # fmt: skip
        self.proc = Proc(args, dict(os.environ), self.log_path, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            if not self.proc.alive:
                break
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{_tail(self.log_path)}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.alive

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A fresh redis-server on a free port (`--save "" --appendonly no`); removed afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="redis-"))
    server = PrivateRedis(binary, workdir, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- an HTTP client ------------------------------------------------------------------------------


class Api:
    """JSON over one keep-alive HTTP connection. Not thread-safe: one per thread.

    `request` returns (status, parsed JSON or None); a dropped connection (a killed worker)
    raises OSError / http.client.HTTPException and the next call reconnects. Nothing is
    retried here: what a client does about a lost answer is what the tests are about.
    """

    MAX_IDLE_S = 10.0  # well under the server's keep-alive (30 s)

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token, self.timeout = token, timeout
        self._conn: http.client.HTTPConnection | None = None
        self._last_used = time.monotonic()

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        hdrs = {"Accept": "application/json", **(headers or {})}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if self._conn is not None and time.monotonic() - self._last_used > self.MAX_IDLE_S:
            self.close()  # the server may have dropped it (gunicorn --keep-alive): never reuse a stale one
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self._conn.request(method, path, body=data, headers=hdrs)
            response = self._conn.getresponse()
            raw = response.read()
        except BaseException:
            self.close()
            raise
        finally:
            self._last_used = time.monotonic()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.request("POST", path, body, **kw)

    def login(self, username: str, password: str) -> Api:
        """Log in through /api/auth/login and keep the bearer token."""
        status, body = self.post("/api/auth/login", {"username": username, "password": password})
        if status != 200:
            raise AssertionError(f"login as {username} failed: {status} {body}")
        self.token = body["token"]
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
