"""Group commit over the in-memory ledger: the scenarios of tests/group_commit_scenarios.py."""

from __future__ import annotations

import pytest
from group_commit_scenarios import GroupCommitScenarios
from ledger.adapters.memory import MemoryLedger
from ledger.store import LedgerStore


class TestGroupCommitInMemory(GroupCommitScenarios):
    @pytest.fixture
    def store(self) -> LedgerStore:
        return MemoryLedger()
