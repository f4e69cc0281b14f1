"""Checks an auditor runs over any store: hash chains, and inline projections against a replay.

The ledger knows no domain, so the replay is a function handed in (the settlement fold):
given a stream's events it returns the projection they should have produced.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from json.encoder import encode_basestring as quote
from typing import Any

from ledger.hashing import GENESIS, HASH_V2, NotCanonical, canonical_time, json_value, jsonb_text, recompute_hash
from ledger.scan import ScannedEvent
from ledger.store import AuditableStore, LedgerStore, RecordedEvent

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
    refused: dict[int, str] = {}
    for index, event in enumerate(events):
        try:
            json_value(event.data)
        except NotCanonical as error:
            refused[index] = str(error)
    return scanned_chain_breaks(stream_id, [scanned(event) for event in events], refused)


def scanned(event: RecordedEvent) -> ScannedEvent:
    """A decoded event as the audit reads it (data back as jsonb's text)."""
    try:
        data = jsonb_text(event.data)
    except NotCanonical:  # not the ledger's JSON: chain_breaks reports why, the text is moot
        data = json.dumps(event.data, ensure_ascii=False, separators=(", ", ": "), default=str)
    return ScannedEvent(
        event.stream_id, event.version, event.position, str(event.event_id), event.event_type, data,
        _utc(event.occurred_at), _utc(event.recorded_at), event.prev_hash, event.hash, event.hash_alg,
    )  # fmt: skip


def _utc(moment: datetime) -> str:
    try:
        return canonical_time(moment)
    except NotCanonical:
        return moment.isoformat()


def scanned_chain_breaks(
    stream_id: str, events: Sequence[ScannedEvent], not_canonical: Mapping[int, str] | None = None
) -> list[ChainBreak]:
    """chain_breaks over events as scanned: version numbering, links, and each event's hash
    recomputed by its algorithm — v2 by splicing the stored jsonb text into the v2 document.
    ``not_canonical``: event index → why its data is not the ledger's JSON (a float…), found by
    whoever decoded it; such content "cannot be hashed" (the ledger never writes it)."""
    breaks, prev, quoted = [], GENESIS, quote(stream_id)
    for expected_version, event in enumerate(events, start=1):
        if event.stream_id != stream_id or event.version != expected_version:
            reason = f"found {event.stream_id}#{event.version} where version {expected_version} belongs"
            breaks.append(ChainBreak(stream_id, event.version, event.position, reason, "broken_link"))
        if event.prev_hash != prev:
            reason = "prev_hash does not match the previous event's hash"
            breaks.append(ChainBreak(stream_id, event.version, event.position, reason, "broken_link"))
        refused = (not_canonical or {}).get(expected_version - 1)
        if refused is not None:
            problem: str | None = f"content cannot be hashed: {refused}"
        else:
            problem = content_problem(event, quoted if event.stream_id == stream_id else None)
        if problem is not None:
            breaks.append(ChainBreak(stream_id, event.version, event.position, problem))
        prev = event.hash
    return breaks


def content_problem(event: ScannedEvent, quoted_stream: str | None = None) -> str | None:
    """Why the event's hash is not its content's (None: it is)."""
    try:
        if event.hash_alg == HASH_V2:
            digest = spliced_hash_v2(event, quoted_stream)
        else:
            digest = recompute_hash(
                event.hash_alg, event.prev_hash, stream_id=event.stream_id, version=event.version,
                event_id=uuid.UUID(event.event_id), event_type=event.event_type, data=json.loads(event.data),
                occurred_at=datetime.fromisoformat(event.occurred_at),
            )  # fmt: skip
    except (NotCanonical, ValueError, RecursionError) as error:  # NotCanonical is a ValueError
        return f"content cannot be hashed: {error}"
    if digest != event.hash:
        return "content does not match its hash (edited after it was recorded)"
    return None


def spliced_hash_v2(event: ScannedEvent, quoted_stream: str | None = None) -> str:
    """The v2 hash with data as the database printed it: jsonb_build_object(…)::text is the
    object's keys by length then bytes, ", " and ": ", so the stored text drops into place.
    ``quoted_stream``: the stream id already as a JSON string (once per stream, not per event)."""
    document = (
        f'{{"data": {event.data}, "version": {event.version}, "event_id": {quote(event.event_id)}, '
        f'"prev_hash": {quote(event.prev_hash)}, "stream_id": {quoted_stream or quote(event.stream_id)}, '
        f'"event_type": {quote(event.event_type)}, "occurred_at": {quote(event.occurred_at)}}}'
    )
    return sha256(document.encode("utf-8")).hexdigest()


async def verify_chains(store: AuditableStore, prefix: str | None = None) -> list[ChainBreak]:
    """Every break in every stream (empty list: the ledger is intact)."""
    breaks = []
    async for stream in store.scan_streams(prefix, projections=False):
        breaks += scanned_chain_breaks(stream.stream_id, stream.events)
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
