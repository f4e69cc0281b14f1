"""The in-memory store: the offline CLI's ledger and the unit tests' fake, same contract as Postgres.

One asyncio.Lock makes a commit atomic: every check runs before the first write, so a refused
commit leaves nothing behind. Data is kept as canonical JSON and decoded afresh on every read,
so neither the writer nor a reader can change what was recorded by mutating a dict.

Records are kept compact, because the offline CLI holds a whole day in memory (a 20,000-person
day is ~100,000 events, answers and projections): the JSON as UTF-8 bytes (a text holding one
Chinese character is stored by Python at two bytes per character, most of it ASCII), an event as
an idempotency row as a slotted one. With a ``relay`` the outbox is handed over at commit
instead of kept (see ``__init__``).

The ``insert_raw_*`` methods model what PostgreSQL's INSERT privilege lets the application role
do behind the store's back: an event offered with its own hash passes the insert trigger's
checks (``prepare.refuse_unproven``) or is refused; idempotency and outbox rows go in unchecked,
as they do in PostgreSQL — that is what ``ledger verify`` is for.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from ledger import errors
from ledger.hashing import CURRENT_HASH_ALG, canonical_json, canonical_time, jsonb_text
from ledger.prepare import ChainedBatch, Encoded, Head, chain_batch, check_batch, judge, refuse_unproven
from ledger.scan import ScannedEvent, StreamScan
from ledger.store import (
    MAX_READ_LIMIT,
    BatchReceipt,
    CommitReceipt,
    CommitRequest,
    IdempotentRequest,
    OutboxMessage,
    OutboxRecord,
    ProjectionState,
    RecordedEvent,
    StoredRequest,
    StreamAppend,
    StreamHead,
    known_by,
)


@dataclass(frozen=True, slots=True)
class _Row:
    event: RecordedEvent  # with data={} (one shared empty mapping): the truth is data_json
    data_json: bytes | str  # the UTF-8 of its jsonb text (text where a test wrote it so)

    def recorded(self) -> RecordedEvent:
        return replace(self.event, data=json.loads(self.data_json))

    def text(self) -> str:
        data = self.data_json
        return data.decode("utf-8") if isinstance(data, bytes) else data


NO_DATA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class _Request:
    """An idempotency row: its answer as the UTF-8 of its canonical JSON."""

    body_hash: str
    first_position: int | None
    result_json: bytes

    def stored(self, key: str) -> StoredRequest:
        return StoredRequest(key, self.body_hash, json.loads(self.result_json), self.first_position)


class MemoryLedger:
    def __init__(
        self, clock: Callable[[], datetime] | None = None, *, relay: Callable[[OutboxMessage], None] | None = None
    ) -> None:
        """``relay``: given every outbox message as its commit succeeds, which is then published
        and not kept (what the relay and `ledger prune` do to a PostgreSQL outbox; the offline CLI
        prints the answers itself). Its id stays taken. None: the outbox is kept, for the tests."""
        self._clock = clock or (lambda: datetime.now(UTC))
        self._relay = relay
        self._lock = asyncio.Lock()
        self._log: list[_Row] = []  # position p is _log[p - 1]
        self._streams: dict[str, list[int]] = {}  # stream → indexes into _log, in version order
        # The stream ids as UTF-8, kept sorted as streams appear: list_streams(prefix) is a bisect,
        # not a sort of every stream (the settlement service lists a person's years per enrolment).
        self._names: list[bytes] = []
        self._event_ids: set[uuid.UUID] = set()
        self._requests: dict[str, _Request] = {}
        self._projections: dict[str, tuple[int, bytes]] = {}  # stream → (version, canonical JSON as UTF-8)
        self._outbox: list[OutboxMessage] = []  # position p is _outbox[p - 1]
        self._message_ids: set[uuid.UUID] = set()

    def _event(self, index: int) -> RecordedEvent:
        return self._log[index].recorded()

    async def read_stream(self, stream_id: str, *, as_of: datetime | None = None) -> list[RecordedEvent]:
        events = [self._event(i) for i in self._streams.get(stream_id, [])]
        return events if as_of is None else known_by(events, as_of)

    async def read_projection(self, stream_id: str) -> tuple[int, Mapping[str, Any] | None]:
        version = len(self._streams.get(stream_id, []))
        if stream_id not in self._projections:
            return version, None
        projected, totals = self._projections[stream_id]
        assert projected == version, f"projection of {stream_id} at {projected}, stream at {version}"
        return version, orjson.loads(totals)  # canonical JSON this store wrote: json.loads' values, ~3x faster

    async def find_request(self, key: str) -> StoredRequest | None:
        request = self._requests.get(key)
        return None if request is None else request.stored(key)

    async def read_all(self, after_position: int, limit: int) -> list[RecordedEvent]:
        assert 0 < limit <= MAX_READ_LIMIT, f"limit must be 1..{MAX_READ_LIMIT}"
        start = max(after_position, 0)
        return [self._event(i) for i in range(start, min(start + limit, len(self._log)))]

    async def list_streams(self, prefix: str | None = None) -> list[str]:
        start = prefix.encode("utf-8") if prefix else b""
        names = []
        for name in self._names[bisect.bisect_left(self._names, start) :]:
            if not name.startswith(start):
                break
            names.append(name.decode("utf-8"))
        return names

    def _stream(self, stream_id: str) -> list[int]:
        """The stream's indexes into the log, the stream created (and its name indexed) if new."""
        indexes = self._streams.get(stream_id)
        if indexes is None:
            indexes = self._streams[stream_id] = []
            bisect.insort(self._names, stream_id.encode("utf-8"))
        return indexes

    def outbox(self) -> list[OutboxMessage]:
        return list(self._outbox)  # everything committed: nothing relays it in memory

    # --- what an auditor reads (AuditableStore) ---------------------------------------------

    async def projection_state(self, stream_id: str) -> ProjectionState:
        version = len(self._streams.get(stream_id, []))
        if stream_id not in self._projections:
            return ProjectionState(version, None, None)
        projected, totals = self._projections[stream_id]
        return ProjectionState(version, projected, json.loads(totals))

    async def read_requests(self, after_key: str | None, limit: int) -> list[StoredRequest]:
        keys = sorted(k for k in self._requests if after_key is None or k > after_key)[:limit]
        return [self._requests[k].stored(k) for k in keys]

    async def read_outbox(self, after_position: int, limit: int) -> list[OutboxRecord]:
        start = max(after_position, 0)
        return [
            OutboxRecord(m.message_id, p, m.topic, m.key, m.value, dict(m.headers), None)
            for p, m in enumerate(self._outbox[start : start + limit], start=start + 1)
        ]

    async def events_at(self, positions: Sequence[int]) -> dict[int, RecordedEvent]:
        return {p: self._event(p - 1) for p in set(positions) if 0 < p <= len(self._log)}

    async def watermark(self) -> int:
        return len(self._log) + 1  # a commit is atomic here: nothing is ever half written

    async def stream_heads(self, before_position: int, after_stream: str | None, limit: int) -> list[StreamHead]:
        heads = []
        for stream_id in await self.list_streams():
            if after_stream is not None and stream_id.encode("utf-8") <= after_stream.encode("utf-8"):
                continue
            below = [self._log[i].event for i in self._streams[stream_id] if i + 1 < before_position]
            if below:
                heads.append(StreamHead(stream_id, below[-1].version, below[-1].hash))
            if len(heads) == limit:
                break
        return heads

    async def scan_streams(self, prefix: str | None = None, *, projections: bool = True) -> AsyncIterator[StreamScan]:
        for stream_id in await self.list_streams(prefix):
            events = [self._scanned(self._log[i]) for i in self._streams[stream_id]]
            state = await self.projection_state(stream_id)
            yield StreamScan(stream_id, events, state if projections else ProjectionState(len(events), None, None))

    @staticmethod
    def _scanned(row: _Row) -> ScannedEvent:
        e = row.event
        return ScannedEvent(
            e.stream_id, e.version, e.position, str(e.event_id), e.event_type, row.text(),
            canonical_time(e.occurred_at), canonical_time(e.recorded_at), e.prev_hash, e.hash, e.hash_alg,
        )  # fmt: skip

    # --- what a writer with raw INSERT could try ---------------------------------------------

    async def insert_raw_event(self, event: RecordedEvent) -> int:
        """Append a row that carries its own hash, as INSERT INTO events would: refused
        (ForgedEvent) unless it proves itself like the trigger demands. Returns its position."""
        return await self._append_proven(event, algorithm=CURRENT_HASH_ALG, projection=None)

    async def restore_v1_event(self, event: RecordedEvent, projection: Mapping[str, Any] | None = None) -> int:
        """A row of a ledger written before migration 0006 (hash algorithm 1), with the stream's
        inline projection as that code stored it: the state an upgrade finds, for the tests that
        replay an old ledger. Checked like verify checks an old row (link and v1 hash)."""
        return await self._append_proven(event, algorithm=1, projection=projection)

    async def restore_event(self, event: RecordedEvent, projection: Mapping[str, Any] | None = None) -> int:
        """A row as a later but older code wrote it (its own ``hash_alg``), with the stream's
        inline projection as that code stored it: the fixture ledgers of tests/fixtures/ledger-v*
        restored as an upgrade finds them. Checked like verify checks a row of its algorithm."""
        return await self._append_proven(event, algorithm=event.hash_alg, projection=projection)

    async def _append_proven(
        self, event: RecordedEvent, *, algorithm: int, projection: Mapping[str, Any] | None
    ) -> int:
        async with self._lock:
            indexes = self._streams.get(event.stream_id, [])
            refuse_unproven(event, self._log[indexes[-1]].event if indexes else None, algorithm=algorithm)
            if event.event_id in self._event_ids:
                raise errors.EventIdConflict(event.event_id)
            position = len(self._log) + 1
            stamped = replace(event, position=position, data=NO_DATA, recorded_at=self._clock().astimezone(UTC))
            self._stream(event.stream_id).append(len(self._log))
            self._log.append(_Row(stamped, jsonb_text(event.data).encode("utf-8")))
            self._event_ids.add(event.event_id)
            if projection is not None:
                self._projections[event.stream_id] = (event.version, canonical_json(projection).encode("utf-8"))
            return position

    async def insert_raw_request(self, stored: StoredRequest) -> None:
        """INSERT INTO idempotency: nothing checks what it answers (ledger verify does)."""
        async with self._lock:
            if stored.key in self._requests:
                raise errors.DuplicateRequest(stored)
            result = canonical_json(stored.result).encode("utf-8")
            self._requests[stored.key] = _Request(stored.body_hash, stored.first_position, result)

    async def insert_raw_outbox(self, message: OutboxMessage) -> None:
        """INSERT INTO outbox: queued for Kafka, with nothing behind it unless verify finds it."""
        async with self._lock:
            if message.message_id in self._message_ids:
                raise errors.EventIdConflict(message.message_id)
            self._outbox.append(message)
            self._message_ids.add(message.message_id)

    async def read_projections(self, stream_ids: Sequence[str]) -> dict[str, tuple[int, Mapping[str, Any] | None]]:
        return {stream_id: await self.read_projection(stream_id) for stream_id in stream_ids}

    async def find_requests(self, keys: Sequence[str]) -> dict[str, StoredRequest]:
        found = {key: await self.find_request(key) for key in keys}
        return {key: stored for key, stored in found.items() if stored is not None}

    async def commit(
        self,
        appends: Sequence[StreamAppend],
        *,
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> CommitReceipt:
        try:
            (receipt,) = (await self.commit_batch([CommitRequest(appends, request, outbox)])).receipts
        except errors.BatchRefused as refused:
            raise refused.refusals[0] from None
        return receipt

    async def commit_batch(self, requests: Sequence[CommitRequest]) -> BatchReceipt:
        encoded = check_batch(requests)
        async with self._lock:
            heads = {s: self._head(s) for s in {a.stream_id for one in requests for a in one.appends}}
            keys = [one.request.key for one in requests if one.request is not None]
            stored = {k: self._requests[k].stored(k) for k in keys if k in self._requests}
            judge(requests, heads, stored, self._event_ids, self._message_ids).enforce()
            chained = chain_batch(requests, heads, encoded)
            base = len(self._log) + 1
            self._write(requests, chained, base, encoded)
        if self._relay is not None:
            for message in (m for one in requests for m in one.outbox):
                self._relay(message)
        return BatchReceipt(chained.receipts(requests, base))

    def _head(self, stream_id: str) -> Head:
        indexes = self._streams.get(stream_id, [])
        last = self._log[indexes[-1]].event.hash if indexes else None
        return Head(len(indexes), last, stream_id in self._projections)

    def _write(
        self, requests: Sequence[CommitRequest], chained: ChainedBatch, base: int, encoded: list[Encoded]
    ) -> None:
        recorded_at = self._clock().astimezone(UTC)
        for e in chained.all_events():
            recorded = RecordedEvent(
                e.stream_id, e.version, len(self._log) + 1, e.event_id, e.event_type, NO_DATA,
                e.occurred_at.astimezone(UTC), recorded_at, e.prev_hash, e.hash, e.hash_alg,
            )  # fmt: skip
            self._stream(e.stream_id).append(len(self._log))
            self._log.append(_Row(recorded, e.data_json.encode("utf-8")))
            self._event_ids.add(e.event_id)
        self._projections.update((s, (v, text.encode("utf-8"))) for s, (v, text) in chained.projections.items())
        for one, events, json_of in zip(requests, chained.events, encoded, strict=True):
            if one.request is not None and json_of.result is not None:
                first = base + events[0].index if events else None
                result = json_of.result.encode("utf-8")
                self._requests[one.request.key] = _Request(one.request.body_hash, first, result)
            if self._relay is None:
                self._outbox.extend(one.outbox)
            self._message_ids.update(m.message_id for m in one.outbox)
