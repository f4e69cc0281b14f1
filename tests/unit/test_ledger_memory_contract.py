"""The in-memory ledger obeys the store contract (tests/ledger_contract.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.hashing import canonical_json
from ledger.store import LedgerStore, RecordedEvent
from ledger_contract import BatchContract, LedgerContract, ScanContract


class TestMemoryLedger(LedgerContract, BatchContract, ScanContract):
    @pytest.fixture
    def store(self) -> LedgerStore:
        return MemoryLedger()

    async def tamper(self, store: LedgerStore, stream_id: str, version: int, data: dict[str, Any]) -> None:
        assert isinstance(store, MemoryLedger)
        index = store._streams[stream_id][version - 1]
        store._log[index] = replace(store._log[index], data_json=canonical_json(data))

    async def insert_raw(self, store: LedgerStore, row: RecordedEvent) -> None:
        assert isinstance(store, MemoryLedger)
        await store.insert_raw_event(row)
