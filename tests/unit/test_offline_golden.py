"""The offline engine answers a committed day byte for byte as main did before the speed work.

tests/fixtures/engine-golden/README.md says where the day and its answers come from.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from settlement.entrypoints.offline import price

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path("tests/fixtures/engine-golden")  # relative: a refusal names the file as it was given
REFUSED_AT = datetime(2025, 6, 16, 23, 0, tzinfo=UTC)  # make_golden.py's clock


async def test_a_priced_day_and_its_totals_are_byte_identical_to_the_golden_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    await price(
        str(GOLDEN / "day-300.jsonl"), "policies", totals=True, summary=False, out=out, clock=lambda: REFUSED_AT
    )
    got = out.getvalue().splitlines()
    want = (GOLDEN / "answers.jsonl").read_text("utf-8").splitlines()
    assert len(got) == len(want)
    for number, (line, golden) in enumerate(zip(got, want, strict=True), start=1):
        assert line == golden, f"answer {number} differs from the golden one"
