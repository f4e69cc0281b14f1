"""A service that cannot reach its database says so in one line and exits 2 (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", ["settlement", "ledger"])
def test_an_unreachable_database_is_one_sentence_and_exit_2(service: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "SETTLEMENT_POLICIES_DIR": str(ROOT / "policies"),
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / service), "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{service}: cannot reach the database at 127.0.0.1:1: ")
    assert "Traceback" not in done.stdout + done.stderr
