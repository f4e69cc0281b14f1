"""The institution side on the real PostgreSQL, as the application role: a generated quarter
settled by the service, the casemix follower's tables, month closes through the CLI, the
statement, and `ledger verify` — intact, then naming an edited close."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from casemix_sample import REGION
from clearing_run import Oracle, answers_of
from clearing_year import enrolments, year_of_claims
from ledger.adapters.postgres import PostgresLedger
from ledger.clearing.casemix import verify_casemix
from ledger.clearing.source import LogSource, ProjectionSource
from ledger_contract import migrated_pool
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book

pytestmark = pytest.mark.integration
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def ledger(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LEDGER_POLICIES_DIR": str(POLICIES)}
    command = [sys.executable, "-m", "ledger.entrypoints.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


async def settle_quarter(database_url: str) -> Oracle:
    oracle = Oracle()
    async with migrated_pool(database_url, role="ledger_app") as pool:
        service = SettlementService(PostgresLedger(pool), load_policy_book(POLICIES), lambda: datetime.now(UTC))
        for m in enrolments(20):
            await service.handle(m.raw, received_at=m.received_at)
        for batch in year_of_claims(people=20, per_month=8, months=3):
            oracle.take(answers_of([await service.handle(m.raw, received_at=m.received_at) for m in batch]))
    return oracle


async def test_the_casemix_tables_are_the_fold_of_the_log(database_url: str) -> None:
    await settle_quarter(database_url)
    async with migrated_pool(database_url, role="ledger_app") as pool:
        source = ProjectionSource(pool)
        await source.reach()
        from_tables = await source.region_cases(REGION, 2025)
        from_log = await LogSource(PostgresLedger(pool)).region_cases(REGION, 2025)
        assert from_tables == from_log and len(from_tables) > 10
        assert await verify_casemix(pool) == []


async def test_month_closes_through_the_cli_prepay_and_verify_recounts_them(database_url: str) -> None:
    oracle = await settle_quarter(database_url)
    for month in (1, 2, 3):
        done = ledger(database_url, "close-month", "--region", REGION, "--year", "2025", "--month", str(month))
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        paid = {(i["fixmedins_code"], b["fund_pay_type"]): b["prepay"] for i in answer["institutions"]
                for b in i["books"] if b["prepay"]}  # fmt: skip
        assert paid == {k: v for k, v in oracle.prepay(month).items() if v}
    again = ledger(database_url, "close-month", "--region", REGION, "--year", "2025", "--month", "3")
    assert again.returncode == 0 and "done before" in again.stdout
    statement = ledger(database_url, "clearing", "--region", REGION, "--year", "2025", "--format", "json")
    body = json.loads(statement.stdout)
    assert body["closed_months"] == [1, 2, 3]
    h2_statement = next(i for i in body["institutions"] if i["fixmedins_code"] == "H64010100002")
    assert h2_statement["paymtd"] == "dip" and h2_statement["books"]
    replayed = ledger(
        database_url, "replay", "--institution", "H64010100002", "--region", REGION, "--year", "2025", "--json"
    )
    assert replayed.returncode == 0 and json.loads(replayed.stdout)["closed_months"] == [1, 2, 3]
    early = ledger(database_url, "replay", "--institution", "H64010100002", "--region", REGION, "--year", "2025",
                   "--as-of", "2000-01-01T00:00:00+08:00")  # fmt: skip
    assert early.returncode == 2 and "holds no clearing for H64010100002 in 2025 as of" in early.stderr
    repriced = ledger(database_url, "reprice", "--clearing", "--region", REGION, "--year", "2025", "--policies",
                      str(POLICIES), "--dip-budget", "390100=300000.00", "--json")  # fmt: skip
    assert repriced.returncode == 2 and "no DIP budget is recorded for fund book 310100" in repriced.stderr
    budgets = ("--dip-budget", "390100=300000.00", "--dip-budget", "310100=200000.00")
    repriced = ledger(database_url, "reprice", "--clearing", "--region", REGION, "--year", "2025", "--policies",
                      str(POLICIES), *budgets, "--json")  # fmt: skip
    assert repriced.returncode == 0, repriced.stderr
    assert {b["fund_pay_type"] for b in json.loads(repriced.stdout)["books"]} == {"310100", "390100"}
    intact = ledger(database_url, "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "casemix tables and closes" in intact.stdout

    admin = await asyncpg.connect(database_url)
    await admin.execute("SET session_replication_role = replica")  # a superuser silencing the triggers
    await admin.execute(
        """UPDATE events SET data = jsonb_set(data, '{books,0,prepay}', '999999')
            WHERE stream_id = 'inst/H64010100002/2025' AND event_type = 'MonthClosed' AND data->>'month' = '2'"""
    )
    await admin.close()
    broken = ledger(database_url, "verify")
    assert broken.returncode == 1
    assert "inst/H64010100002/2025 v2" in broken.stdout  # the hash no longer fits
    assert "region/640000/2025: the close of 2025-02: H64010100002's figures differ from a recount" in broken.stdout
