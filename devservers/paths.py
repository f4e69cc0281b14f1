"""Where the local servers keep their state, data and logs, and where the Kafka jars are cached."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def default_home() -> Path:
    """$DEVSERVERS_HOME, else .devservers/ in the checkout (git-ignored)."""
    configured = os.environ.get("DEVSERVERS_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = _PACKAGE.parent
    # An editable install sits in the checkout; a regular install in site-packages has no
    # pyproject.toml next to it, so fall back to the working directory there.
    root = checkout if (checkout / "pyproject.toml").exists() else Path.cwd()
    return root / ".devservers"


def cache_root() -> Path:
    """Downloads that outlive a checkout (the Kafka jars): shared by every clone on the machine."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medins-devservers"


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def kafka(self) -> Path:
        return self.home / "kafka"

    @property
    def postgres(self) -> Path:
        return self.home / "postgres"

    @property
    def lock(self) -> Path:
        return self.home / ".lock"

    def create(self) -> Layout:
        for folder in (self.home, self.logs, self.kafka, self.postgres):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def layout(home: Path | None = None) -> Layout:
    return Layout(home or default_home())
