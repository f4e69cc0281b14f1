"""The ledger written by version-1 code (tests/fixtures/ledger-v1/), in the real PostgreSQL store
as an upgrade finds it (rows of hash algorithm 1, the projections that code stored): the stored
hashes are unchanged, `ledger verify` finds it intact, today's fold and clearing follower give
the totals and clearing figures version-1 code computed, and today's code appends after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.domain import fold
from ledger.follower import FollowerRunner, verify_followers
from ledger.period_totals import ClearingProjection
from ledger.store import NewEvent, StreamAppend
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from ledger_v1 import FIXTURE_POLICIES, fixture_events, fixture_json, restore_into_postgres, totals_figures

from engine.events import AccountCredited
from engine.person import apply
from engine.policy_files import load_policy_book
from engine.records import to_record
from engine.snapshot import to_json
from engine.totals import Totals

pytestmark = pytest.mark.integration
COLUMNS = ("settlements", "reversals", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


async def test_the_v1_ledger_in_postgresql_replays_to_the_figures_v1_code_computed(database_url: str) -> None:
    async with migrated_pool(database_url) as owner:
        await restore_into_postgres(owner)
    async with migrated_pool(database_url, role="ledger_app") as pool:
        store = PostgresLedger(pool)
        recorded = await store.read_all(0, 10_000)
        assert [(e.prev_hash, e.hash) for e in recorded] == [(e["prev_hash"], e["hash"]) for e in fixture_events()]

        book = load_policy_book(FIXTURE_POLICIES)
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

        # Today's code appends after the old rows: a v2-hashed event linked to a v1 head.
        stream = "P001/2025"
        old = await store.read_stream(stream)
        credit = AccountCredited(month=12, amount=16_000, delta=Totals(acct_credited=16_000))
        event_type, data = to_record(credit)
        new = NewEvent(uuid.uuid4(), event_type, data, datetime(2025, 12, 1, tzinfo=UTC))
        state = apply(fold(stream, old), credit)
        await store.commit([StreamAppend(stream, len(old), [new], projection=to_json(state))])
        appended = (await store.read_stream(stream))[-1]
        assert (appended.hash_alg, appended.prev_hash) == (2, old[-1].hash)
        report = await verify_ledger(store, followers=lambda: verify_followers(pool))
        assert report.ok, report.problems()
