"""What keeps the offline CLI's memory bounded: the in-memory ledger relays its outbox instead
of keeping it, and lists a person's streams without sorting every stream (issue 14)."""

from __future__ import annotations

import uuid

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.errors import EventIdConflict, WrongExpectedVersion
from ledger.store import OutboxMessage
from ledger_contract import append, request


async def test_with_a_relay_committed_messages_are_handed_over_in_order_and_not_kept() -> None:
    relayed: list[OutboxMessage] = []
    store = MemoryLedger(relay=relayed.append)
    first = OutboxMessage(uuid.uuid4(), "settlements.v1", "P1", b"1")
    second = OutboxMessage(uuid.uuid4(), "rejections.v1", "P2", b"2")
    await store.commit([append("P1/2025", 0)], request=request("k1"), outbox=[first])
    await store.commit([], request=request("k2"), outbox=[second])
    with pytest.raises(WrongExpectedVersion):  # a refused commit relays nothing
        await store.commit([append("P1/2025", 0)], outbox=[OutboxMessage(uuid.uuid4(), "t", "k", b"")])
    assert relayed == [first, second]
    assert store.outbox() == []


async def test_a_relayed_message_id_stays_taken() -> None:
    store = MemoryLedger(relay=lambda message: None)
    message = OutboxMessage(uuid.uuid4(), "settlements.v1", "P1", b"1")
    await store.commit([], request=request("k1"), outbox=[message])
    with pytest.raises(EventIdConflict):
        await store.commit([], request=request("k2"), outbox=[message])


async def test_the_idempotency_answer_survives_the_relay_unchanged() -> None:
    store = MemoryLedger(relay=lambda message: None)
    await store.commit([append("P1/2025", 0)], request=request("k1", result="settled 张三"))
    stored = await store.find_request("k1")
    assert stored is not None and stored.result == {"answer": "settled 张三", "fen": 12345}


async def test_streams_are_listed_by_prefix_in_utf8_order_as_they_appear() -> None:
    store = MemoryLedger()
    for stream in ("P2/2025", "P1/2026", "P10/2025", "P1/2025", "Z/2025", "P1/2024", "张/2025"):
        await store.commit([append(stream, 0)])
    assert await store.list_streams("P1/") == ["P1/2024", "P1/2025", "P1/2026"]
    assert await store.list_streams("P1") == ["P1/2024", "P1/2025", "P1/2026", "P10/2025"]
    assert await store.list_streams() == ["P1/2024", "P1/2025", "P1/2026", "P10/2025", "P2/2025", "Z/2025", "张/2025"]
    assert await store.list_streams("Q") == []
