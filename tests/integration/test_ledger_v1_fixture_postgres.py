"""The ledger written by version-1 code (tests/fixtures/ledger-v1/), loaded into the real
PostgreSQL store as the application role: the database accepts the stored events unchanged
(same hashes), `ledger verify` finds it intact, and today's fold and clearing follower give
the totals and clearing figures version-1 code computed."""

from __future__ import annotations

import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.domain import fold
from ledger.follower import FollowerRunner
from ledger.projections import ClearingProjection, verify_followers
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from ledger_v1 import ROOT_POLICIES, fixture_events, fixture_json, load_into, totals_figures

from engine.policy_files import load_policy_book

pytestmark = pytest.mark.integration
COLUMNS = ("settlements", "reversals", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


async def test_the_v1_ledger_in_postgresql_replays_to_the_figures_v1_code_computed(database_url: str) -> None:
    async with migrated_pool(database_url, role="ledger_app") as pool:
        store = PostgresLedger(pool)
        await load_into(store, with_projections=True)
        recorded = await store.read_all(0, 10_000)
        assert [(e.prev_hash, e.hash) for e in recorded] == [(e["prev_hash"], e["hash"]) for e in fixture_events()]

        book = load_policy_book(ROOT_POLICIES)
        expected = fixture_json("totals.json")
        assert sorted(await store.list_streams()) == sorted(expected)
        for stream in expected:
            assert totals_figures(fold(stream, await store.read_stream(stream)), book) == expected[stream], stream

        await FollowerRunner(pool, ClearingProjection(), batch_size=10).catch_up()
        clearing = fixture_json("clearing.json")
        institutions = {
            f"{r['fixmedins_code']} {r['period']}": {name: int(r[name]) for name in COLUMNS}
            for r in await pool.fetch("SELECT * FROM institution_period_totals")
        }
        recorded_rows = {key: {n: row.get(n, 0) for n in COLUMNS} for key, row in clearing["institution"].items()}
        assert institutions == recorded_rows
        funds = {
            f"{r['fund_pay_type']} {r['policy_id']} {r['period']}": int(r["fund_payamt"])
            for r in await pool.fetch("SELECT fund_pay_type, policy_id, period, fund_payamt FROM fund_period_totals")
        }
        assert funds == clearing["fund"]

        report = await verify_ledger(store, followers=lambda: verify_followers(pool))
        assert report.ok, report.problems()
