"""Audit hooks over any store: projections checked against a replay handed in by the domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ledger.adapters.memory import MemoryLedger
from ledger.audit import chain_breaks, verify_projections
from ledger.hashing import GENESIS, HASH_V1, HASH_V2, canonical_json, recompute_hash
from ledger.store import RecordedEvent
from ledger_contract import append


def count_events(stream_id: str, events: Sequence[RecordedEvent]) -> Mapping[str, Any]:
    """A stand-in for the domain's fold: the projection is the number of events."""
    return {"events": len(events)}


async def test_projections_written_by_the_same_fold_verify() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 2, {"events": 2})])
    await store.commit([append("P1/2025", 2, 1, {"events": 3}), append("P2/2025", 0, 1, {"events": 1})])
    assert await verify_projections(store, count_events) == []


async def test_a_projection_that_disagrees_with_its_replay_is_reported() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 2, {"events": 2}), append("P2/2025", 0, 1, {"events": 1})])
    store._projections["P2/2025"] = (1, canonical_json({"events": 7}))  # a bug wrote wrong totals
    (mismatch,) = await verify_projections(store, count_events)
    assert (mismatch.stream_id, mismatch.version, mismatch.stored, mismatch.replayed) == (
        "P2/2025", 1, {"events": 7}, {"events": 1},
    )  # fmt: skip


async def test_a_stream_without_projection_verifies_when_the_replay_has_none_either() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 2)])
    assert await verify_projections(store, lambda stream, events: None) == []
    assert len(await verify_projections(store, count_events)) == 1


async def test_a_missing_or_reordered_event_breaks_the_chain_where_it_happens() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 4)])
    events = await store.read_stream("P1/2025")
    assert chain_breaks("P1/2025", events) == []
    gap = chain_breaks("P1/2025", [events[0], *events[2:]])
    assert [b.version for b in gap][:1] == [3] and "version 2 belongs" in gap[0].reason


def rechained(events: Sequence[RecordedEvent], algs: Sequence[int]) -> list[RecordedEvent]:
    """The same events hashed again in order, event i with algorithm algs[i] (rows written
    before migration 0006 are v1; a stream that goes on after it continues in v2)."""
    out, prev = [], GENESIS
    for e, alg in zip(events, algs, strict=True):
        digest = recompute_hash(alg, prev, stream_id=e.stream_id, version=e.version, event_id=e.event_id,
                                event_type=e.event_type, data=e.data, occurred_at=e.occurred_at)  # fmt: skip
        out.append(replace(e, prev_hash=prev, hash=digest, hash_alg=alg))
        prev = digest
    return out


async def test_v1_chains_still_verify_also_when_the_stream_goes_on_in_v2() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 4)])
    events = await store.read_stream("P1/2025")
    assert chain_breaks("P1/2025", rechained(events, [HASH_V1] * 4)) == []
    mixed = rechained(events, [HASH_V1, HASH_V1, HASH_V2, HASH_V2])
    assert chain_breaks("P1/2025", mixed) == []
    relabelled = [*mixed[:2], replace(mixed[2], hash_alg=HASH_V1), mixed[3]]  # a v2 row claiming v1
    assert [(b.version, b.kind) for b in chain_breaks("P1/2025", relabelled)] == [(3, "forged_hash")]


async def test_an_unknown_hash_algorithm_is_a_break_not_a_crash() -> None:
    store = MemoryLedger()
    await store.commit([append("P1/2025", 0, 1)])
    (event,) = await store.read_stream("P1/2025")
    (crack,) = chain_breaks("P1/2025", [replace(event, hash_alg=3)])
    assert "hash algorithm 3 is unknown" in crack.reason
