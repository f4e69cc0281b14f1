"""What the in-memory store adds to the contract: an injectable clock, a visible outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.errors import WrongExpectedVersion
from ledger.store import OutboxMessage
from ledger_contract import append, request

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def clock(*moments: datetime) -> Callable[[], datetime]:
    ticks = iter(moments)
    return lambda: next(ticks)


async def test_recorded_at_comes_from_the_injected_clock() -> None:
    store = MemoryLedger(clock=clock(T, T + timedelta(seconds=5)))
    await store.commit([append("P1/2025", 0, 2)])
    await store.commit([append("P1/2025", 2, 1)])
    assert [e.recorded_at for e in await store.read_stream("P1/2025")] == [T, T, T + timedelta(seconds=5)]


async def test_as_of_is_a_prefix_of_the_stream_even_if_the_clock_stepped_back() -> None:
    store = MemoryLedger(clock=clock(T, T + timedelta(minutes=1), T - timedelta(minutes=1)))
    for version in range(3):
        await store.commit([append("P1/2025", version)])
    assert [e.version for e in await store.read_stream("P1/2025", as_of=T)] == [1]  # not [1, 3]
    assert [e.version for e in await store.read_stream("P1/2025", as_of=T + timedelta(hours=1))] == [1, 2, 3]


async def test_committed_outbox_messages_are_kept_in_commit_order_and_refused_ones_are_not() -> None:
    store = MemoryLedger()
    first = OutboxMessage(uuid.uuid4(), "settlements.v1", "P1", b"1")
    second = OutboxMessage(uuid.uuid4(), "rejections.v1", "P2", b"2")
    await store.commit([append("P1/2025", 0)], request=request("k1"), outbox=[first])
    await store.commit([], request=request("k2"), outbox=[second])
    with pytest.raises(WrongExpectedVersion):
        await store.commit([append("P1/2025", 0)], outbox=[OutboxMessage(uuid.uuid4(), "t", "k", b"")])
    assert store.outbox() == [first, second]


async def test_positions_are_dense_and_start_at_one() -> None:
    store = MemoryLedger()
    receipt = await store.commit([append("A/2025", 0, 2), append("B/2025", 0, 1)])
    assert receipt.positions == (1, 2, 3)
    assert [e.position for e in await store.read_all(1, 10)] == [2, 3]
