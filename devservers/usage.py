"""Who needs a local server to keep running: a person (`devservers up` pins it) or test sessions
(one lease file per pytest process). Several pytest runs may share the servers at once; the
last session to finish stops them, unless they are pinned. Callers hold the home's file lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from devservers.procs import is_alive


def pin(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pinned").touch()


def unpin(folder: Path) -> None:
    (folder / "pinned").unlink(missing_ok=True)


def is_pinned(folder: Path) -> bool:
    return (folder / "pinned").exists()


def take_lease(folder: Path) -> Path:
    lease = folder / "leases" / str(os.getpid())
    lease.parent.mkdir(parents=True, exist_ok=True)
    lease.touch()
    return lease


def live_leases(folder: Path) -> list[int]:
    """Pids of the sessions still using the server; leases of crashed sessions are removed."""
    alive = []
    for lease in (folder / "leases").glob("*"):
        if lease.name.isdigit() and is_alive(int(lease.name)):
            alive.append(int(lease.name))
        else:
            lease.unlink(missing_ok=True)
    return alive
