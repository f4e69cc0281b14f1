"""An existing ledger as an earlier release left it, for the tests of a migration: the schema up to
one migration file, and a generated day's rows copied in as that release stored them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from ledger.adapters.memory import MemoryLedger
from ledger.migrate import available
from ledger.prepare import chain
from ledger.store import NewEvent, RecordedEvent, StreamAppend
from ledger_contract import append
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book
from examples.generator import day_lines

ROOT = Path(__file__).resolve().parents[1]

RAW_INSERT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
VALUES ((pg_current_xact_id()::text::bigint << 16) + $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
"""


async def migrate_until(dsn: str, last: str) -> None:
    """The schema as release ``last`` left it: migrations up to that file, as ``migrate`` applies them."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TABLE schema_migrations (name text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available():
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", migration.name, migration.checksum
                )
            if migration.name == last:
                return
    finally:
        await connection.close()


async def a_v2_ledger() -> MemoryLedger:
    """A generated day settled by today's code (v2 hashes, inline projections), plus a stream
    whose id names no year."""
    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    for n, line in enumerate(day_lines(12, 5), start=1):
        await service.handle(line.encode(), source=f"day:{n}")
    await store.commit([append("operations-log", 0, 2)])
    return store


async def copy_in(connection: asyncpg.Connection, store: MemoryLedger) -> None:
    """The in-memory ledger's rows inserted as they are (the insert trigger checks each)."""
    async with connection.transaction():
        for index, event in enumerate(await store.read_all(0, 10_000)):
            (chained,) = chain(_as_append(event), event.prev_hash if event.version > 1 else None, 0)
            assert chained.hash == event.hash
            await connection.execute(
                RAW_INSERT, index, event.stream_id, event.version, event.event_id, event.event_type, chained.data_json,
                event.occurred_at, event.prev_hash, event.hash, event.hash_alg,
            )  # fmt: skip
        for stream_id in await store.list_streams():
            state = await store.projection_state(stream_id)
            if state.projection is not None:
                await connection.execute(
                    "INSERT INTO person_year_totals (stream_id, version, totals) VALUES ($1, $2, $3::jsonb)",
                    stream_id, state.projected_version, json.dumps(state.projection),
                )  # fmt: skip


def _as_append(event: RecordedEvent) -> StreamAppend:
    return StreamAppend(event.stream_id, event.version - 1, [NewEvent(event.event_id, event.event_type, event.data,
                                                                       event.occurred_at)])  # fmt: skip
