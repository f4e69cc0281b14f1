"""A short seeded slice of the chaos campaign (scripts/chaos.py): one SIGKILL of each target —
the settlement service, PostgreSQL, the Kafka broker, the outbox relay — mid-stream, and after
each nothing lost, nothing doubled, every total the offline CLI's, `ledger verify` intact.

The campaign of record (≥ 200 runs) and how to run it are in docs/reliability.md; this slice
runs in CI on servers of its own (so killing them never disturbs the rest of the session).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not under pytest's tmp_path: pytest makes its base folder private again at every session start,
# and PostgreSQL runs as an unprivileged user that must reach its data folder.
HOME = ROOT / ".devservers" / "chaos-slice"


def test_one_sigkill_of_each_target_loses_doubles_and_miscounts_nothing(tmp_path: Path) -> None:
    report = tmp_path / "chaos.jsonl"
    command = [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--runs", "4", "--seed", "11", "--target", "all",
               "--people", "15", "--home", str(HOME), "--report", str(report)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [json.loads(line) for line in report.read_text("utf-8").splitlines()]
    assert sorted(run["target"] for run in runs) == ["kafka", "postgres", "relay", "settlement"]
    for run in runs:
        assert (run["lost"], run["double"], run["wrong"], run["error"]) == (0, 0, 0, ""), run
        assert run["verify"] and run["ready"], run
        assert 0 < run["killed_after_settled"] < run["settlements"], run  # killed mid-stream, not before or after
