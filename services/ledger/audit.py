"""Checks an auditor runs over any store: hash chains, and inline projections against a replay.

The ledger knows no domain, so the replay is a function handed in (the settlement fold):
given a stream's events it returns the projection they should have produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.hashing import GENESIS, NotCanonical, json_value, recompute_hash
from ledger.store import LedgerStore, RecordedEvent

Rebuild = Callable[[str, Sequence[RecordedEvent]], Mapping[str, Any] | None]


@dataclass(frozen=True)
class ChainBreak:
    stream_id: str
    version: int
    position: int
    reason: str
    kind: str = "forged_hash"  # or "broken_link" (numbering or prev_hash)


@dataclass(frozen=True)
class ProjectionMismatch:
    stream_id: str
    version: int
    stored: Mapping[str, Any] | None
    replayed: Mapping[str, Any] | None


def chain_breaks(stream_id: str, events: Sequence[RecordedEvent]) -> list[ChainBreak]:
    """Where one stream's events stop proving themselves: numbering, links, or content."""
    breaks = []
    prev = GENESIS
    for expected_version, event in enumerate(events, start=1):

        def broken(reason: str, kind: str = "forged_hash", event: RecordedEvent = event) -> None:
            breaks.append(ChainBreak(stream_id, event.version, event.position, reason, kind))

        if event.stream_id != stream_id or event.version != expected_version:
            broken(f"found {event.stream_id}#{event.version} where version {expected_version} belongs", "broken_link")
        if event.prev_hash != prev:
            broken("prev_hash does not match the previous event's hash", "broken_link")
        try:
            digest = recompute_hash(
                event.hash_alg,
                event.prev_hash,
                stream_id=event.stream_id,
                version=event.version,
                event_id=event.event_id,
                event_type=event.event_type,
                data=event.data,
                occurred_at=event.occurred_at,
            )
        except NotCanonical as error:
            broken(f"content cannot be hashed: {error}")
        else:
            if digest != event.hash:
                broken("content does not match its hash (edited after it was recorded)")
        prev = event.hash
    return breaks


async def verify_chains(store: LedgerStore, prefix: str | None = None) -> list[ChainBreak]:
    """Every break in every stream (empty list: the ledger is intact)."""
    breaks = []
    for stream_id in await store.list_streams(prefix):
        breaks += chain_breaks(stream_id, await store.read_stream(stream_id))
    return breaks


async def verify_projections(
    store: LedgerStore, rebuild: Rebuild, prefix: str | None = None
) -> list[ProjectionMismatch]:
    """Streams whose stored inline projection differs from a replay of their events."""
    mismatches = []
    for stream_id in await store.list_streams(prefix):
        version, stored = await store.read_projection(stream_id)
        events = [e for e in await store.read_stream(stream_id) if e.version <= version]
        replayed = rebuild(stream_id, events)
        if plain(stored) != plain(replayed):
            mismatches.append(ProjectionMismatch(stream_id, version, stored, replayed))
    return mismatches


def plain(value: Mapping[str, Any] | None) -> Any:
    return None if value is None else json_value(value)
