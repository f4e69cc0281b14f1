"""The PostgreSQL ledger obeys the store contract (tests/ledger_contract.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.store import LedgerStore, RecordedEvent
from ledger_contract import BatchContract, LedgerContract, ScanContract, migrated_pool

pytestmark = pytest.mark.integration


class TestPostgresLedger(LedgerContract, BatchContract, ScanContract):
    @pytest.fixture
    async def store(self, database_url: str) -> AsyncIterator[LedgerStore]:
        self.database_url = database_url
        async with migrated_pool(database_url, role="ledger_app") as pool:
            yield PostgresLedger(pool)

    async def tamper(self, store: LedgerStore, stream_id: str, version: int, data: dict[str, Any]) -> None:
        """What a superuser could do: switch the append-only trigger off and edit a row."""
        admin = await asyncpg.connect(self.database_url)
        try:
            async with admin.transaction():
                await admin.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
                await admin.execute(
                    "UPDATE events SET data = $3::jsonb WHERE stream_id = $1 AND version = $2",
                    stream_id, version, json.dumps(data),
                )  # fmt: skip
                await admin.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
        finally:
            await admin.close()

    async def insert_raw(self, store: LedgerStore, row: RecordedEvent) -> None:
        """What the application role can do without the store: INSERT a row it made itself."""
        connection = await asyncpg.connect(self.database_url)
        try:
            async with connection.transaction():
                await connection.execute("SET LOCAL ROLE ledger_app")
                await connection.execute(RAW_INSERT, *raw_columns(row))
        finally:
            await connection.close()


RAW_INSERT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
VALUES (pg_current_xact_id()::text::bigint << 16, $1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)
"""


def raw_columns(row: RecordedEvent) -> tuple[object, ...]:
    return (row.stream_id, row.version, row.event_id, row.event_type, json.dumps(row.data), row.occurred_at,
            row.prev_hash, row.hash, row.hash_alg)  # fmt: skip
