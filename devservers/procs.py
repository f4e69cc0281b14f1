"""Process, port and lock helpers (Linux: /proc is read directly, no psutil needed)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCALHOST = "127.0.0.1"


def is_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as dead."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return _signal_zero(pid)
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        # A JVM's main thread turns zombie before its other threads have exited, and the
        # process's sockets stay open until the last one has: only then is it gone.
        if _thread_count(pid) > 1:
            return True
        _reap(pid)
        return False
    return True


def _thread_count(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def describe_gone(pid: int | None) -> str:
    """Why a pid from a pid file is not our server any more."""
    if pid and is_alive(pid):
        return f"pid {pid} now belongs to another program"
    return f"process {pid} is gone"


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child, so it does not stay a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_processes(*fragments: str) -> list[int]:
    """Live processes whose command line contains every fragment (e.g. our config file's path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        line = " ".join(cmdline(int(entry.name)))
        if line and all(fragment in line for fragment in fragments) and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def terminate(pid: int, *, grace: float, stop_signal: signal.Signals = signal.SIGTERM) -> None:
    """Ask politely (grace > 0), then SIGKILL the whole process group: our servers lead their
    own session, so this also takes PostgreSQL's backends that would hold its shared memory."""
    if not is_alive(pid):
        return
    if grace > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop_signal)
        if wait_until(lambda: not is_alive(pid), grace):
            return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(pid), 10)


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers bind with SO_REUSEADDR too, so TIME_WAIT leftovers of an earlier run
        # must not count as "taken".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = LOCALHOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def pick_port(*preferred: int | None, avoid: tuple[int, ...] = ()) -> int:
    """The first preferred port that is free, else any free one."""
    for port in preferred:
        if port and port not in avoid and port_is_free(port):
            return port
    while True:
        port = free_port()
        if port not in avoid:
            return port


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 600) -> Iterator[None]:
    """Serialise up/down between processes (two pytest runs, `make up` during a test run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"another process holds {path} for more than {timeout:.0f}s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def read_state(path: Path) -> dict[str, int]:
    """A server's state file (pid and ports); missing or unreadable means nothing is known."""
    try:
        loaded = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {key: int(value) for key, value in loaded.items() if isinstance(value, int)}


def forget_pid(path: Path) -> None:
    """The server is gone; its ports are kept so the next start prefers them (stable DSNs)."""
    ports = {key: value for key, value in read_state(path).items() if key != "pid"}
    path.write_text(json.dumps(ports) + "\n")
