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


async def test_a_projection_reads_back_value_for_value_at_the_edges_of_what_it_may_hold() -> None:
    # read_projection decodes the store's own canonical JSON with orjson (memory.py): it must give
    # what json.loads gives — BIGINT's two ends as exact ints, escapes and non-ASCII text as they
    # were, empty containers, nesting — never a float or a changed string.
    projection = {
        "ends": [2**63 - 1, -(2**63), 0, -1],
        "text": ['名 "quoted" \\ back', "tab\there", "line\nbreak", "\x1f", "\u2028", ""],
        "flags": [True, False, None],
        "empty": {"object": {}, "array": []},
        "deep": {"a": {"b": {"c": [{"d": 1}]}}},
    }
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 1, projection)])
    version, read = await store.read_projection("P1/2025")
    assert (version, read) == (1, projection)
    assert read is not None and all(type(n) is int for n in read["ends"])
