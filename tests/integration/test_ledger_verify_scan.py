"""verify reads the log in one COPY and hashes PostgreSQL's own text: what it still catches."""

from __future__ import annotations

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.audit import verify_chains
from ledger.verify import verify_ledger
from ledger_contract import append, migrated_pool

pytestmark = pytest.mark.integration

# The application role appends a float, hashed by the database's own v2 function: the trigger
# accepts it (it checks the hash, not the meaning).
FLOAT_CREDIT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
SELECT pg_current_xact_id()::text::bigint << 16, 'P1/2025', 2, x.id, 'AccountCredited', d, now(), h.hash,
       ledger_event_hash_v2('P1/2025', 2, x.id, 'AccountCredited', d, now(), h.hash), 2
  FROM (SELECT '{"month": 6, "amount": 1.5}'::jsonb AS d) AS v,
       (SELECT hash FROM events WHERE stream_id = 'P1/2025' AND version = 1) AS h,
       (SELECT gen_random_uuid() AS id) AS x
"""


async def test_a_float_the_trigger_accepted_is_named_and_the_other_chains_verify(database_url: str) -> None:
    async with migrated_pool(database_url) as pool:
        store = PostgresLedger(pool)
        await store.commit([append("P1/2025", 0, 1), append("P2/2025", 0, 3)])
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                await connection.execute("SET LOCAL ROLE ledger_app")
                await connection.execute(
                    FLOAT_CREDIT.replace("gen_random_uuid(), 'AccountCredited', d", "x.id, 'AccountCredited', d")
                )
        finally:
            await connection.close()
        assert await verify_chains(store) == []  # the chain alone: PostgreSQL's text hashes to the hash
        report = await verify_ledger(store)
    cracks = [f for f in report.findings if f.kind == "forged_hash"]
    position = report.chain_breaks[0].position
    reason = "content cannot be hashed: float is not allowed in ledger JSON (money is int fen)"
    assert [f.sentence for f in cracks] == [f"P1/2025 v2 (position {position}): {reason}"]
    assert not [b for b in report.chain_breaks if b.stream_id == "P2/2025"]
