"""The ledger written by the last code of ClaimSettled version 3 (tests/fixtures/ledger-v3/, main at
0f49086) in the real PostgreSQL store as an upgrade finds it: the stored hashes are unchanged,
today's fold gives the totals that code computed, the clearing follower its clearing figures, the
casemix follower (which did not exist then) folds the old rows, `ledger verify` finds it intact
— visit streams included —, and today's gateway answers 3201 for a day of that ledger and
reverses a stay that code settled."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.clearing.audit import clearing_check
from ledger.clearing.casemix import CasemixProjection
from ledger.clearing.source import CaughtUpSource
from ledger.domain import fold
from ledger.follower import FollowerRunner, verify_followers
from ledger.period_totals import ClearingProjection
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from ledger_v1 import totals_figures
from ledger_v3 import POLICIES_THEN, ROOT_POLICIES, fixture_events, fixture_json, national_step, restore_into_postgres
from national import parsed
from settlement.gateway.context import Access, Deps
from settlement.gateway.people import PersonDirectory
from settlement.gateway.service import NationalGateway
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book

pytestmark = pytest.mark.integration
COLUMNS = ("settlements", "reversals", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")
BOOK = load_policy_book(ROOT_POLICIES)
BOOK_THEN = load_policy_book(POLICIES_THEN)


def _envelope(of: str, infno: str, msgid: str, payload: dict[str, Any]) -> bytes:
    envelope, _ = national_step(of)
    return json.dumps({**envelope, "infno": infno, "msgid": msgid, "input": payload}, ensure_ascii=False).encode()


def _the_stays_day(info: dict[str, Any]) -> dict[str, Any]:
    """H64010100002's 3201 for 2025-07-04: the one stay v3 code settled there that day."""
    return {"data": {"insutype": "390", "clr_type": "21", "setl_optins": "640100", "stmt_begndate": "2025-07-04",
                     "stmt_enddate": "2025-07-04", "medfee_sumamt": str(info["medfee_sumamt"]),
                     "fund_pay_sumamt": str(info["fund_pay_sumamt"]), "acct_pay": str(info["acct_pay"]),
                     "fixmedins_setl_cnt": 1}}  # fmt: skip


async def test_the_v3_ledger_in_postgresql_replays_verifies_and_takes_todays_gateway(database_url: str) -> None:
    async with migrated_pool(database_url) as owner:
        await restore_into_postgres(owner)
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        store = PostgresLedger(pool)
        recorded = await store.read_all(0, 10_000)
        assert [(e.prev_hash, e.hash, e.hash_alg) for e in recorded] == [
            (e["prev_hash"], e["hash"], e["hash_alg"]) for e in fixture_events()
        ]
        expected = fixture_json("totals.json")
        for stream in expected:
            assert totals_figures(fold(stream, await store.read_stream(stream)), BOOK_THEN) == expected[stream], stream

        await FollowerRunner(pool, ClearingProjection(), batch_size=10).catch_up()
        clearing = fixture_json("clearing.json")
        institutions = {
            f"{r['fixmedins_code']} {r['period']}": {name: int(r[name]) for name in COLUMNS}
            for r in await pool.fetch("SELECT * FROM institution_period_totals")
        }
        assert institutions == {k: {n: row.get(n, 0) for n in COLUMNS} for k, row in clearing["institution"].items()}
        funds = {
            f"{r['fund_pay_type']} {r['policy_id']} {r['period']}": int(r["fund_payamt"])
            for r in await pool.fetch("SELECT fund_pay_type, policy_id, period, fund_payamt FROM fund_period_totals")
        }
        assert funds == clearing["fund"]
        await FollowerRunner(pool, CasemixProjection(), batch_size=10).catch_up()
        # Every settlement of v3 is an entry without case facts (ClaimSettled v4's case is null).
        assert await pool.fetchval("SELECT count(*) FROM casemix_entries WHERE case_facts IS NOT NULL") == 0
        await _verified(store, pool)

        clock: Callable[[], datetime] = lambda: datetime(2026, 1, 2, tzinfo=UTC)  # noqa: E731 - today
        service = SettlementService(store, BOOK, clock=clock, clearing=CaughtUpSource(pool))
        gateway = NationalGateway(Deps(service, PersonDirectory()))
        _, settled = national_step("i5")
        info = settled["output"]["setlinfo"]
        for msgid in ("TODAY-3201-1", "TODAY-3201-2"):  # before and after today's reversal
            body = parsed(
                await gateway.handle(_envelope("i5", "3201", msgid, _the_stays_day(info)), access=Access.anyone())
            )
            assert body["output"]["stmtinfo"]["stmt_rslt"] == "0", body
            if msgid.endswith("1"):
                reverse = {"data": {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": "G002"}}
                back = parsed(
                    await gateway.handle(_envelope("i5", "2305", "TODAY-2305", reverse), access=Access.anyone())
                )
                assert back["infcode"] == "0", back["err_msg"]
                assert back["output"]["setlinfo"]["medfee_sumamt"] == -Decimal(str(info["medfee_sumamt"]))
        await FollowerRunner(pool, ClearingProjection(), batch_size=10).catch_up()
        await _verified(store, pool)


async def _verified(store: PostgresLedger, pool: Any) -> None:
    report = await verify_ledger(
        store, followers=lambda: verify_followers(pool), clearing=clearing_check(store, pool, BOOK)
    )
    assert report.ok, report.problems()
