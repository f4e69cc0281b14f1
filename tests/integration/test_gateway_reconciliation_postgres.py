"""Read your writes on the real PostgreSQL ledger: the gateway's 3201 counts a settlement committed
a moment ago even while the clearing's follower is held back (another replica mid-batch holds its
lock), by waiting — bounded — for the follower (ledger.clearing.source.CaughtUpSource); past the
bound it answers "-1" saying so. The plain ProjectionSource, which answers from wherever the
follower is, would have missed the settlement: the contrast is the reason for the wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.clearing.casemix import NAME
from ledger.clearing.source import CaughtUpSource, ProjectionSource
from ledger.follower import LOCK_SPACE, lock_key
from ledger_contract import migrated_pool
from national import envelope, parsed, pharmacy_purchase, sample_gateway
from settlement.gateway.context import Access
from settlement.gateway.service import NationalGateway

pytestmark = pytest.mark.integration
CODE, PERSON, DAY = "H43010200456", "43000000000000009900000002", "2025-03-14"  # the fixed clock's China day
ANYONE = Access.anyone()


async def _send(gateway: NationalGateway, infno: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
    return parsed(await gateway.handle(envelope(infno, msgid, payload, fixmedins_code=CODE), access=ANYONE))


async def _purchase(gateway: NationalGateway, msgid: str) -> dict[str, Any]:
    """2102: 24 × 0.85 = 20.40 yuan of amoxicillin at a pharmacy counter."""
    body = await _send(gateway, "2102", msgid, pharmacy_purchase(DAY, psn_no=PERSON))
    assert body["infcode"] == "0", body["err_msg"]
    info: dict[str, Any] = body["output"]["setlinfo"]
    return info


def _day_of(settled: list[dict[str, Any]]) -> dict[str, Any]:
    """The hospital's totals of these settlements (both of 20.40: 40.80 in all)."""

    def total(name: str) -> str:
        return str(sum((s[name] for s in settled), Decimal("0.00")))

    return {"data": {"insutype": "310", "clr_type": "41", "setl_optins": "430100", "stmt_begndate": DAY,
                     "stmt_enddate": DAY, "medfee_sumamt": total("medfee_sumamt"),
                     "fund_pay_sumamt": total("fund_pay_sumamt"), "acct_pay": total("acct_pay"),
                     "fixmedins_setl_cnt": len(settled)}}  # fmt: skip


@asynccontextmanager
async def follower_held(pool: asyncpg.Pool, release_after_s: float | None = None) -> AsyncIterator[None]:
    """Another replica applying the casemix follower's batch: its advisory lock held in a
    transaction of its own, released after ``release_after_s`` (None: at the end of the block)."""
    held, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_SPACE, lock_key(NAME))
            held.set()
            await (asyncio.sleep(release_after_s) if release_after_s is not None else stop.wait())

    task = asyncio.create_task(hold())
    await held.wait()
    try:
        yield
    finally:
        stop.set()
        await task


async def _behind(pool: asyncpg.Pool) -> tuple[int, int]:
    checkpoint = await pool.fetchval("SELECT position FROM projection_checkpoints WHERE name = $1", NAME)
    return int(checkpoint or 0), int(await pool.fetchval("SELECT max(position) FROM events"))


async def test_3201_counts_a_settlement_made_a_moment_ago_while_the_follower_is_held_back(database_url: str) -> None:
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        gateway, service = await sample_gateway(PostgresLedger(pool))
        settled = [await _purchase(gateway, "M-2102-1"), await _purchase(gateway, "M-2102-2")]
        checkpoint, head = await _behind(pool)
        assert checkpoint < head  # nothing has applied the casemix projection yet

        async with follower_held(pool):  # the plain source answers from where the follower is
            service.clearing = ProjectionSource(pool)
            stale = await _send(gateway, "3201", "M-3201-1", _day_of(settled))
        assert stale["output"]["stmtinfo"]["stmt_rslt"] == "1"
        assert "fixmedins_setl_cnt 医保 0 / 机构 2" in stale["output"]["stmtinfo"]["stmt_rslt_dscr"]

        service.clearing = CaughtUpSource(pool, wait_s=10.0)
        async with follower_held(pool, release_after_s=0.5):
            fresh = await _send(gateway, "3201", "M-3201-2", _day_of(settled))
        assert fresh["infcode"] == "0", fresh["err_msg"]
        assert fresh["output"]["stmtinfo"] == {"setl_optins": "430100", "stmt_rslt": "0", "stmt_rslt_dscr": "平"}


async def test_3201_answers_minus_1_when_the_follower_stays_behind_past_the_bound(database_url: str) -> None:
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        gateway, service = await sample_gateway(PostgresLedger(pool))
        settled = [await _purchase(gateway, "M-2102-1")]
        service.clearing = CaughtUpSource(pool, wait_s=0.3, poll_s=0.05)
        async with follower_held(pool):
            body = await _send(gateway, "3201", "M-3201", _day_of(settled))
        checkpoint, head = await _behind(pool)
        assert body["infcode"] == "-1"
        assert f"clearing index reaches log position {checkpoint}, not yet {head}" in body["err_msg"]
        assert "ask again in a moment" in body["err_msg"]
        # Released, the same question is answered: one settlement of 20.40.
        again = await _send(gateway, "3201", "M-3201", _day_of(settled))
        assert again["output"]["stmtinfo"]["stmt_rslt"] == "0", again
