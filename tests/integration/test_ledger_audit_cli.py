"""The auditor's commands on the real database: replay, verify, reprice — and the clearing
projection they check, kept by the follower from the global log.

The ledger holds the example year (examples/year-2025.jsonl) settled through the real
settlement use case; the follower has caught up.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from ledger.follower import FollowerRunner
from ledger.period_totals import ClearingProjection
from ledger_audit_helpers import ROOT, as_superuser, example_year, ledger

from contracts.results import ReversalResult, SettlementResult


@pytest.fixture
async def settled(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, list[object]]]:
    async with example_year(database_url, clearing_batch=7) as settled:
        yield settled


async def test_an_intact_ledger_verifies_and_a_replay_equals_the_stored_totals(settled, database_url: str) -> None:
    verify = ledger(database_url, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout and "Traceback" not in verify.stderr
    replay = ledger(database_url, "replay", "--psn", "P002", "--year", "2025", "--policies", "policies")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "projection equals the replay" in replay.stdout and "annual_cap_left" in replay.stdout


async def test_an_event_rewritten_by_a_superuser_is_found_by_verify(settled, database_url: str) -> None:
    await as_superuser(
        database_url,
        """UPDATE events SET data = jsonb_set(data, '{amounts,hifp_pay}', '1')
            WHERE stream_id = 'P002/2025' AND event_type = 'ClaimSettled'
              AND version = (SELECT min(version) FROM events
                            WHERE stream_id = 'P002/2025' AND event_type = 'ClaimSettled')""",
    )
    verify = ledger(database_url, "verify")
    assert verify.returncode == 1
    assert "P002/2025" in verify.stdout and "edited after it was recorded" in verify.stdout


async def test_stored_totals_that_differ_from_their_events_are_found_by_verify_and_replay(
    settled, database_url: str
) -> None:
    await as_superuser(
        database_url,
        "UPDATE person_year_totals SET totals = jsonb_set(totals::jsonb, '{totals,fund_pay_sumamt}', '1')"
        " WHERE stream_id = $1",
        "P002/2025",
    )
    verify = ledger(database_url, "verify")
    assert verify.returncode == 1 and "P002/2025: the stored totals" in verify.stdout
    replay = ledger(database_url, "replay", "--psn", "P002", "--year", "2025")
    assert replay.returncode == 1 and "DIFFERENT" in replay.stdout


async def test_a_clearing_row_that_differs_from_the_log_is_found_by_verify(settled, database_url: str) -> None:
    pool, _ = settled
    code = await pool.fetchval("SELECT fixmedins_code FROM institution_period_totals ORDER BY 1 LIMIT 1")
    tamper = "UPDATE institution_period_totals SET fund_pay_sumamt = fund_pay_sumamt + 1 WHERE fixmedins_code = $1"
    await as_superuser(database_url, tamper, code)
    verify = ledger(database_url, "verify")
    assert verify.returncode == 1 and f"institution_period_totals {code}" in verify.stdout


async def test_the_clearing_tables_add_up_to_the_answers_with_reversals_netted(settled) -> None:
    pool, replies = settled
    expected: Counter[tuple[str, str]] = Counter()
    by_setl = {r.setl_id: r for r in replies if isinstance(r, SettlementResult)}  # a retry's answer once
    for reply in by_setl.values():
        expected[(reply.fixmedins_code, "fund")] += reply.setlinfo.fund_pay_sumamt
        expected[(reply.fixmedins_code, "n")] += 1
    reversals = [r for r in replies if isinstance(r, ReversalResult)]
    assert reversals, "the example year has a reversal"
    for reversal in reversals:
        original = by_setl[reversal.reversed_setl_id]
        expected[(original.fixmedins_code, "fund")] -= original.setlinfo.fund_pay_sumamt

    rows = await pool.fetch(
        "SELECT fixmedins_code, sum(fund_pay_sumamt) AS fund, sum(settlements) AS n, sum(reversals) AS r"
        " FROM institution_period_totals GROUP BY 1"
    )
    assert {(r["fixmedins_code"], "fund"): int(r["fund"]) for r in rows} == {
        k: v for k, v in expected.items() if k[1] == "fund"
    }
    assert sum(int(r["r"]) for r in rows) == len(reversals)
    assert sum(int(r["n"]) for r in rows) == len(by_setl)
    paid = await pool.fetchval("SELECT sum(fund_payamt) FROM fund_period_totals WHERE fund_pay_type = '310100'")
    recorded = sum(
        d.fund_payamt
        for r in by_setl.values()
        if r.setl_id not in {x.reversed_setl_id for x in reversals}
        for d in r.setldetail
        if d.fund_pay_type == "310100"
    )
    assert int(paid) == recorded


async def test_catching_up_again_changes_nothing(settled) -> None:
    pool, _ = settled
    before = await pool.fetch("SELECT * FROM institution_period_totals ORDER BY 1, 2")
    assert await FollowerRunner(pool, ClearingProjection()).catch_up() == 0
    assert await pool.fetch("SELECT * FROM institution_period_totals ORDER BY 1, 2") == before


async def test_reprice_under_a_richer_policy_reports_the_difference_and_writes_nothing(
    settled, database_url: str, tmp_path: Path
) -> None:
    pool, _ = settled
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    resident = folder / "640000-390-2025.toml"
    text = resident.read_text("utf-8")
    assert "version = 1" in text
    richer = text.replace('"2" = "0.75"', '"2" = "0.85"', 1).replace("version = 1", "version = 2", 1)
    resident.write_text(richer, "utf-8")
    counts = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM outbox), (SELECT count(*) FROM idempotency)"
    before = await pool.fetchrow(counts)

    reprice = ledger(database_url, "reprice", "--policies", str(folder), "--year", "2025")

    assert reprice.returncode == 0, reprice.stdout + reprice.stderr
    hifp = next(line for line in reprice.stdout.splitlines() if line.strip().startswith("hifp_pay"))
    assert not hifp.rstrip().endswith(" 0.00"), reprice.stdout
    assert "P006" in reprice.stdout
    assert await pool.fetchrow(counts) == before


async def test_a_bad_policy_folder_or_unknown_person_is_one_sentence_and_exit_2(settled, database_url: str) -> None:
    bad = ledger(database_url, "reprice", "--policies", "/no/such/folder", "--year", "2025")
    assert bad.returncode == 2 and "policy folder refused" in bad.stderr and "Traceback" not in bad.stderr
    nobody = ledger(database_url, "replay", "--psn", "NOBODY", "--year", "2025")
    assert nobody.returncode == 2 and "no events for NOBODY" in nobody.stderr
