"""`settlement price`: one answer per line, clear errors, never a traceback."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "year-2025.jsonl"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "settlement.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=ROOT,
        check=False,
    )


def test_every_line_of_the_example_year_gets_exactly_one_answer_in_order() -> None:
    done = run("price", "--policies", "policies", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    inputs = [ln for ln in EXAMPLE.read_text("utf-8").splitlines() if ln.strip()]
    answers = [json.loads(ln) for ln in done.stdout.splitlines()]
    assert len(answers) == len(inputs)
    for number, answer in enumerate(answers, start=1):
        if answer["msg_type"] == "rejection":
            assert answer["source"] == f"{EXAMPLE}:{number}"
        else:
            assert answer["request_id"] == json.loads(inputs[number - 1])["request_id"]


def test_bad_lines_are_rejected_with_the_line_and_field_and_processing_continues() -> None:
    done = run("price", "--policies", "policies", str(EXAMPLE))
    rejections = {a["code"]: a for a in map(json.loads, done.stdout.splitlines()) if a["msg_type"] == "rejection"}
    assert rejections["invalid_message"]["field"] == "feedetail.0.det_item_fee_sumamt"
    assert "two decimals" in rejections["invalid_message"]["message"]
    assert rejections["unsupported_schema_version"]["request_id"] == "CLM-V1"
    assert rejections["malformed_json"]["source"].endswith(f":{len(EXAMPLE.read_text('utf-8').splitlines())}")
    assert "Traceback" not in done.stderr


def test_totals_print_one_annual_view_per_person_year_after_the_answers() -> None:
    done = run("price", "--policies", "policies", "--totals", str(EXAMPLE))
    views = [a for a in map(json.loads, done.stdout.splitlines()) if a["msg_type"] == "annual_totals"]
    assert sorted(v["psn_no"] for v in views) == [f"P{n:03d}" for n in range(1, 12)]
    p004 = next(v for v in views if v["psn_no"] == "P004")
    assert p004["annual_cap_left"] == "0.00"  # a long trastuzumab course used the 130,000 cap (004)


def test_a_bad_policy_folder_stops_with_the_file_key_and_problem_and_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        (ROOT / "policies" / "640000-390-2025.toml")
        .read_text("utf-8")
        .replace('annual_cap = "130000"', 'annual_cap = "lots"'),
        encoding="utf-8",
    )
    done = run("price", "--policies", str(tmp_path), str(EXAMPLE))
    assert done.returncode == 2
    assert "bad.toml" in done.stderr and "annual_cap" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_missing_input_file_is_a_one_sentence_error() -> None:
    done = run("price", "--policies", "policies", "no/such/file.jsonl")
    assert done.returncode == 2
    assert done.stderr.startswith("settlement: cannot read no/such/file.jsonl")


def test_standard_input_is_read_when_the_file_is_a_dash() -> None:
    first_two = "".join(EXAMPLE.read_text("utf-8").splitlines(keepends=True)[:2])
    done = run("price", "--policies", "policies", "-", stdin=first_two)
    assert [json.loads(ln)["msg_type"] for ln in done.stdout.splitlines()] == ["enrolment_accepted"] * 2


async def test_a_line_the_service_fails_on_is_answered_internal_error_and_the_next_is_read() -> None:
    from datetime import UTC, datetime

    from ledger.adapters.memory import MemoryLedger
    from settlement.entrypoints.offline import answer_line
    from settlement.service_layer.handlers import SettlementService

    from engine.policy_files import load_policy_book

    class Broken(SettlementService):
        async def handle(self, raw: bytes, **kwargs: object) -> object:  # type: ignore[override]
            raise ZeroDivisionError("a bug")

    service = Broken(MemoryLedger(), load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    answer = await answer_line(service, b'{"msg_type": "claim", "request_id": "R-1", "psn_no": "P\\u0000"}', "f:7")
    assert answer.msg_type == "rejection" and answer.code.value == "internal_error"  # type: ignore[union-attr]
    assert (answer.source, answer.request_id, answer.psn_no) == ("f:7", "R-1", None)  # type: ignore[union-attr]


def test_a_line_over_4_mb_is_answered_malformed_json_and_the_next_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"msg_type": "claim", "x": "' + b"y" * (5 * 1024 * 1024) + b'"}\n{"msg_type": "nothing"}\n')
    done = run("price", "--policies", "policies", str(path))
    assert done.returncode == 0
    assert [json.loads(line)["code"] for line in done.stdout.splitlines()] == ["malformed_json", "unknown_message_type"]


def test_log_lines_go_to_stderr_pseudonymised_and_stdout_holds_only_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from settlement.entrypoints import cli
    from settlement.service_layer.handlers import SettlementService

    async def fails(self: SettlementService, raw: bytes, **kwargs: object) -> object:
        raise KeyError("stream P7/2025")  # a bug whose text names a person-year stream

    monkeypatch.setattr(SettlementService, "handle", fails)
    path = tmp_path / "in.jsonl"
    path.write_text('{"msg_type": "claim", "psn_no": "P7"}\n', encoding="utf-8")
    try:
        assert cli.main(["price", "--policies", str(ROOT / "policies"), str(path)]) == 0
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    out, err = capsys.readouterr()
    (answer,) = [json.loads(line) for line in out.splitlines()]
    assert answer["code"] == "internal_error"
    (line,) = [json.loads(line) for line in err.splitlines()]
    assert line["message"] == "line_failed" and line["exception"][0]["exc_type"] == "KeyError"
    assert "P7" not in err
