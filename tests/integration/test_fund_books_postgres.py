"""Issue 12, item 14, on the real PostgreSQL: the "funds" follower keeps each fund's book from the
log (migration 0009), `ledger verify`'s recomputation agrees with it, and `ledger funds` shows
income, spending, balance and 基金可支付月数 per fund for a pooling region and year."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.follower import FollowerRunner
from ledger.funds import FundBookProjection, verify_fund_books
from ledger_contract import migrated_pool
from settlement.service_layer.handlers import SettlementService

from contracts.results import EnrolmentAccepted, SettlementResult
from engine.policy_files import load_policy_book

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SENT = "2024-11-01 09:00:00"
PSN_TYPES = {"adult": "1501", "retired": "1201"}  # national psn_type codes ([codes.psn_type])


def _enrol(psn: str, insutype: str, psn_type: str, region: str, **facts: Any) -> dict[str, Any]:
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}",
        "sent_at": SENT,
        "psn_no": psn,
        "insutype": insutype,
        "psn_type": PSN_TYPES[psn_type],
        "insuplc_admdvs": region,
        "year": 2025,
        "enrol_date": "2024-11-01",
        **facts,
    }


def _pay(psn: str, individual: str) -> dict[str, Any]:
    return {
        "msg_type": "contribution",
        "schema_version": "enrolments.v2",
        "request_id": f"C-{psn}",
        "sent_at": SENT,
        "psn_no": psn,
        "insutype": "390",
        "year": 2025,
        "individual": individual,
    }


def _stay(psn: str, amount: str) -> dict[str, Any]:
    """A stay at the SAMPLE registry's level-2 hospital, one class-A line (policies/payer/640000)."""
    line = {"feedetl_sn": "1", "med_list_codg": "002202000010000", "pric": amount, "cnt": "1"}
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": f"V-{psn}",
        "sent_at": "2025-03-10 09:00:00",
        "psn_no": psn,
        "insutype": "390",
        "mdtrt_id": f"MD-{psn}",
        "fixmedins_code": "H64010100002",
        "med_type": "21",
        "begntime": "2025-03-01",
        "endtime": "2025-03-10",
        "feedetail": [line | {"det_item_fee_sumamt": amount}],
    }


MESSAGES: list[dict[str, Any]] = [
    _enrol("R1", "390", "adult", "640104"),
    _pay("R1", "400.00"),
    _stay("R1", "10000.00"),
    _enrol("S2", "310", "retired", "640100"),
    {
        "msg_type": "account_credit",
        "schema_version": "enrolments.v2",
        "request_id": "A-S2",
        "sent_at": SENT,
        "psn_no": "S2",
        "year": 2025,
        "month": 1,
    },
    _enrol("Z1", "390", "adult", "640502"),  # Zhongwei: its own pool once the policies place it
    _pay("Z1", "400.00"),
]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database_url) as pool:
        service = SettlementService(
            PostgresLedger(pool), load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC)
        )
        answers = [await service.handle(json.dumps(m).encode()) for m in MESSAGES]
        assert all(isinstance(a, EnrolmentAccepted | SettlementResult) for a in answers), answers
        await FollowerRunner(pool, FundBookProjection(), batch_size=3).catch_up()
        yield pool


def ledger(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "ledger"), *args]
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


async def test_the_follower_books_what_a_recomputation_from_the_log_books(pool: asyncpg.Pool) -> None:
    assert await verify_fund_books(pool) == []
    rows = {
        (r["admdvs"], r["fund_pay_type"], r["kind"], r["item"]): r["amount"]
        for r in await pool.fetch("SELECT * FROM fund_book_entries WHERE year = 2025")
    }
    # R1's stay, Ningxia residents level 2: (10,000 − 600) × 0.75 = 7,050.00
    assert rows[("640104", "390100", "spending", "claims")] == 705_000
    assert rows[("640100", "310100", "spending", "retiree_account_credits")] == 6_200  # 62.00 [003]


async def test_a_tampered_book_row_is_found(pool: asyncpg.Pool, database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("UPDATE fund_book_entries SET amount = amount + 1 WHERE item = 'claims'")
    finally:
        await admin.close()
    problems = await verify_fund_books(pool)
    assert len(problems) == 1 and "fund_book_entries 640104 390100 2025 spending claims" in problems[0]


async def test_ledger_funds_shows_each_book_of_a_pool_with_its_months_payable(
    pool: asyncpg.Pool, database_url: str
) -> None:
    done = ledger(database_url, "funds", "--region", "640000", "--year", "2025", "--policies", "policies", "--json")
    assert done.returncode == 0, done.stderr
    books = {b["fund_pay_type"]: b for b in json.loads(done.stdout)["books"]}
    resident = books["390100"]
    # R1 only (Z1 is Zhongwei's pool): 400.00 individual + 670.00 fiscal subsidy (ASSUMPTIONs of the file)
    assert resident["income"] == "1070.00"
    # spending: 7,050.00 of claims + 100.00 moved to major illness (ASSUMPTION) = 7,150.00
    assert resident["spending"] == "7150.00"
    # balance 1,070 − 7,150 = −6,080.00; months 12 × (−6,080) ÷ 7,150 = −10.2
    assert (resident["balance"], resident["months_payable"]) == ("-6080.00", "-10.2")
    assert books["310100"]["spending"] == "62.00" and books["310200"]["income"] == "62.00"
    aid = books["610100"]  # the treasury's income is not in the ledger: no balance, no months
    assert (aid["income"], aid["balance"], aid["months_payable"]) == (None, None, None)
    text = ledger(database_url, "funds", "--region", "640000", "--year", "2025", "--policies", "policies").stdout
    assert "not recorded" in text and "Traceback" not in text
    zhongwei = ledger(database_url, "funds", "--region", "640500", "--year", "2025", "--policies", "policies")
    assert zhongwei.returncode == 0 and "390100" in zhongwei.stdout and "1070.00" in zhongwei.stdout
