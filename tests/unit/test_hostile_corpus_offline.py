"""`settlement price` over the hostile corpus: every line answered once, in order, the canary
behind each poison settled, exit 0, nothing but answers on stdout (issue 10 item 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hostile_corpus import canary, corpus, enrolment

ROOT = Path(__file__).resolve().parents[2]
BAD_ANSWERS = ("internal_error", "invariant_broken")  # a failure of ours, not a refusal of the message


def test_every_hostile_line_is_answered_once_and_every_canary_behind_one_settles(tmp_path: Path) -> None:
    entries = [entry for entry in corpus() if entry.offline]
    lines = [enrolment()]
    for number, entry in enumerate(entries, start=1):
        assert b"\n" not in entry.body, entry.name
        lines += [entry.body, canary(number)]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    done = subprocess.run(
        [sys.executable, "-m", "settlement.entrypoints.cli", "price", "--policies", "policies", str(path)],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [json.loads(line) for line in done.stdout.splitlines()]  # stdout holds answers and nothing else
    assert len(answers) == len(lines)
    assert answers[0]["msg_type"] == "enrolment_accepted"
    for number, entry in enumerate(entries, start=1):
        poison, behind = answers[2 * number - 1], answers[2 * number]
        assert poison["msg_type"] == entry.answer, (entry.name, poison)
        if entry.answer == "rejection":
            assert poison["source"] == f"{path}:{2 * number}", entry.name
            assert poison["code"] not in BAD_ANSWERS, (entry.name, poison)
            assert entry.field is None or poison["field"] == entry.field, (entry.name, poison)
        assert (behind["msg_type"], behind["request_id"]) == ("settlement", f"CANARY-{number:03d}"), entry.name
    assert b"Traceback" not in done.stderr
