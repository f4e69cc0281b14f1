"""ledger.follower.SharedPages when a read fails: the followers that waited for it read for
themselves, and every one of them (and any that comes later) gets its page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ledger import follower
from ledger.follower import SharedPages
from ledger.store import RecordedEvent
from ledger_contract import T0, event


def logged(position: int) -> RecordedEvent:
    return RecordedEvent(
        "P1/2025", position, position, event().event_id, "ClaimSettled", {}, T0, T0, "0" * 64, "1" * 64, 2
    )


async def test_followers_that_waited_for_a_failed_read_each_get_their_page_and_none_hangs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A's read fails while B and C wait for it: both then read page 0 themselves, at once. The
    one that finishes first must not take the other's place in the table of reads in flight (on
    main it deletes C's entry, C's own cleanup raises KeyError and C's future is never resolved,
    so D, which arrived while C read, waits for ever inside its transaction)."""
    reads: list[int] = []

    async def read_all_on(connection: Any, after: int, limit: int) -> list[RecordedEvent]:
        reads.append(after)
        await asyncio.sleep(0.05 * len(reads))  # A, then B before C: each read ends after the last began
        if len(reads) == 1:
            raise ConnectionResetError("A's connection dropped")
        return [logged(1), logged(2)]

    monkeypatch.setattr(follower, "read_all_on", read_all_on)
    pages = SharedPages(fresh_s=0.0)  # nothing handed on from the table of pages: only in-flight reads
    a = asyncio.create_task(pages.read(None, 0, 10))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    b = asyncio.create_task(pages.read(None, 0, 10))  # type: ignore[arg-type]
    c = asyncio.create_task(pages.read(None, 0, 10))  # type: ignore[arg-type]
    await asyncio.sleep(0.07)  # A failed; B and C read again, both in flight; D waits for one of them
    d = asyncio.create_task(pages.read(None, 0, 10))  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError):
        await a
    done = await asyncio.wait_for(asyncio.gather(b, c, d, return_exceptions=True), timeout=2)
    assert [[e.position for e in got] for got in done] == [[1, 2]] * 3  # type: ignore[union-attr]


async def test_a_shared_page_never_ends_between_two_events_of_one_position(monkeypatch: pytest.MonkeyPatch) -> None:
    """ledger_read_all never splits equal positions between two pages (FETCH … WITH TIES,
    migration 0011: two years' partitions may each hold one position of the same transaction), so
    a page of 3 may hold 4 events. A follower handed that page must get all 4: cut after the first
    event at position 3, its checkpoint becomes 3 and the other event at 3 is never read. On main
    both the follower waiting for the read and the one that finds the page kept get 3."""

    async def read_all_on(connection: Any, after: int, limit: int) -> list[RecordedEvent]:
        await asyncio.sleep(0.05)  # long enough for a second follower to wait for this read
        return [logged(1), logged(2), logged(3), logged(3)]  # page 3, with its tie

    monkeypatch.setattr(follower, "read_all_on", read_all_on)
    pages = SharedPages()
    first = asyncio.create_task(pages.read(None, 0, 3))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    waited = await pages.read(None, 0, 3)  # type: ignore[arg-type]
    kept = await pages.read(None, 0, 3)  # type: ignore[arg-type]
    assert [len(await first), len(waited), len(kept)] == [4, 4, 4]
