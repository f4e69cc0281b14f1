"""The PostgreSQL ledger obeys the store contract (tests/ledger_contract.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.store import LedgerStore
from ledger_contract import LedgerContract, migrated_pool

pytestmark = pytest.mark.integration


class TestPostgresLedger(LedgerContract):
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
