"""Group commit on the real PostgreSQL: the scenarios of tests/group_commit_scenarios.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from group_commit_scenarios import GroupCommitScenarios
from ledger.adapters.postgres import PostgresLedger
from ledger.store import LedgerStore
from ledger_contract import migrated_pool

pytestmark = pytest.mark.integration


class TestGroupCommitOnPostgres(GroupCommitScenarios):
    @pytest.fixture
    async def store(self, database_url: str) -> AsyncIterator[LedgerStore]:
        async with migrated_pool(database_url, role="ledger_app") as pool:
            yield PostgresLedger(pool)
