"""The settlement service's pool skips asyncpg's session reset (settlement.bootstrap.keep_session):
a connection it hands back must hold no session state for the next caller to inherit."""

from __future__ import annotations

import json

import pytest
from group_commit_scenarios import claim, enrolment, policy, records, service
from ledger.adapters.postgres import PostgresLedger
from ledger.migrate import migrate
from settlement.bootstrap import settlement_pool
from settlement.entrypoints.consumer import process_batch
from settlement.service_layer.people import load

from ops.metrics import SettlementMetrics

pytestmark = pytest.mark.integration

SESSION_STATE = {
    "advisory locks": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    "channels listened to": "SELECT count(*) FROM pg_listening_channels()",
    "open cursors": "SELECT count(*) FROM pg_cursors WHERE name <> ''",  # '': this very query's portal
    # asyncpg's type introspection turns jit off and back on (SET jit = on): the value counts, not the SET
    "settings changed for the session": "SELECT count(*) FROM pg_settings WHERE source = 'session'"
    " AND setting IS DISTINCT FROM reset_val",
}


async def test_a_connection_back_from_every_path_of_the_service_holds_no_session_state(database_url: str) -> None:
    await migrate(database_url)
    pool = await settlement_pool(database_url, max_size=1)  # one connection: every path below uses it
    try:
        store = PostgresLedger(pool)
        svc = service(store)
        batch = records(enrolment("P1"), claim("C-1", "P1", "800.00", 3), claim("C-2", "P1", "120.00", 4))
        await process_batch(svc, batch, SettlementMetrics(), policy())  # a group commit
        settled = await svc.handle(json.dumps(claim("C-3", "P1", "90.00", 5)).encode(), source="t/0/9")  # one alone
        assert settled.msg_type == "settlement"
        assert (await load(store, "P1", 2025)).state.totals is not None  # the HTTP routes' read
        async with pool.acquire() as connection:
            in_transaction = connection.is_in_transaction()
            found = {what: await connection.fetchval(query) for what, query in SESSION_STATE.items()}
    finally:
        await pool.close()
    assert found == dict.fromkeys(SESSION_STATE, 0) and not in_transaction
