"""A fresh stack per test: its own database (migrated), its own topics, `ledger serve` running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from e2e_stack import Stack
from ledger.migrate import migrate

MakeStack = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[MakeStack]:
    made: list[Stack] = []

    async def make(partitions: int = 1, *, senders_clock: bool = False) -> Stack:
        """``senders_clock``: the input topics keep the timestamps the test's producer sets (Kafka's
        CreateTime), to receive a year of messages in one run; otherwise the broker stamps them, as
        docs/deploy.md has every deployment do."""
        assert not made, "one stack per test: it owns the test's database"
        await migrate(database_url)
        stack = Stack(database_url, kafka_bootstrap, tmp_path)
        await stack.create_topics(partitions, senders_clock=senders_clock)
        await stack.start_ledger()
        made.append(stack)
        return stack

    yield make
    for stack in made:
        await stack.close()
