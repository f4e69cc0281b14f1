"""The ledger's vocabulary: typed JSON events in streams, and the store contract both stores obey.

The store knows nothing of insurance. A stream is any string id (the settlement service uses
"<psn_no>/<year>"); an event is a type name and a JSON document. Reads return what was written,
plus where it sits: its version in the stream, its global position and its hash-chain link.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ledger.hashing import CURRENT_HASH_ALG

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ledger.scan import StreamScan

# Limits (TigerBeetle style: everything has one). Both stores refuse commits beyond them.
MAX_EVENTS_PER_COMMIT = 10_000  # < 2**16: the Postgres position keeps the index in 16 bits
MAX_STREAMS_PER_COMMIT = 1_000
MAX_OUTBOX_PER_COMMIT = 1_000
MAX_EVENT_BYTES = 1 << 20  # canonical JSON of one event's data
MAX_READ_LIMIT = 10_000  # events per read_all page
# A batch (commit_batch) is one transaction: its events share the transaction's 16 index bits of
# position (xid << 16 | index), and so do its outbox rows, hence both stay below 2**16.
MAX_REQUESTS_PER_BATCH = 5_000
MAX_EVENTS_PER_BATCH = 60_000
MAX_OUTBOX_PER_BATCH = 60_000
MAX_LOOKUP = 20_000  # stream ids or request keys per read_projections / find_requests


@dataclass(frozen=True)
class NewEvent:
    event_id: uuid.UUID  # chosen by the caller, deterministic: consumers dedupe on it
    event_type: str  # e.g. "ClaimSettled"
    data: Mapping[str, Any]  # JSON: str/int/bool/None/list/dict only (money is int fen, never float)
    occurred_at: datetime  # tz-aware, given by the caller: the store reads no clock for it


@dataclass(frozen=True)
class StreamAppend:
    stream_id: str
    expected_version: int  # 0 = the stream must be empty; n = its last version must be n
    events: Sequence[NewEvent]
    projection: Mapping[str, Any] | None = None  # the stream's new inline projection, same transaction


@dataclass(frozen=True)
class IdempotentRequest:
    key: str  # sender-chosen, e.g. "<fixmedins_code>:<request_id>"
    body_hash: str  # sha256 hex of the canonical request body
    result: Mapping[str, Any]  # the response a retry gets back


@dataclass(frozen=True)
class StoredRequest:
    key: str
    body_hash: str
    result: Mapping[str, Any]
    first_position: int | None = None  # global position of the request's first event, if it wrote any


@dataclass(frozen=True)
class OutboxMessage:
    message_id: uuid.UUID  # also sent as the "message_id" header so consumers dedupe
    topic: str
    key: str
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedEvent:
    stream_id: str
    version: int  # 1, 2, 3… within the stream
    position: int  # global order key: strictly increasing in read_all order, not dense
    event_id: uuid.UUID
    event_type: str
    data: Mapping[str, Any]
    occurred_at: datetime
    recorded_at: datetime  # the store's clock at write time (as_of reads use it)
    prev_hash: str
    hash: str
    hash_alg: int = CURRENT_HASH_ALG  # which algorithm made ``hash`` (ledger/hashing.py): 1 before migration 0006


@dataclass(frozen=True)
class OutboxRecord:
    """An outbox row as an auditor reads it (published_at None: not relayed yet)."""

    message_id: uuid.UUID
    position: int
    topic: str
    key: str
    value: bytes
    headers: Mapping[str, str]
    published_at: datetime | None


@dataclass(frozen=True)
class ProjectionState:
    """A stream's inline projection as stored, next to the stream's own last version."""

    stream_version: int
    projected_version: int | None  # None: the stream has no projection
    projection: Mapping[str, Any] | None


@dataclass(frozen=True)
class StreamHead:
    stream_id: str
    version: int
    hash: str


@dataclass(frozen=True)
class CommitReceipt:
    positions: tuple[int, ...]  # one per event, in the order the appends listed them
    stream_versions: Mapping[str, int]  # each appended stream's new last version


@dataclass(frozen=True)
class CommitRequest:
    """One request's share of a batch: exactly what ``commit`` takes, as a value."""

    appends: Sequence[StreamAppend] = ()
    request: IdempotentRequest | None = None
    outbox: Sequence[OutboxMessage] = ()


@dataclass(frozen=True)
class BatchReceipt:
    receipts: tuple[CommitReceipt, ...]  # one per request, in the order given


def known_by(events: list[RecordedEvent], as_of: datetime) -> list[RecordedEvent]:
    """The stream as the ledger knew it at ``as_of``: the longest prefix recorded by then (a
    prefix even if a clock step made a later version look older)."""
    known = []
    for event in events:
        if event.recorded_at > as_of:
            break
        known.append(event)
    return known


class LedgerStore(Protocol):
    async def read_stream(self, stream_id: str, *, as_of: datetime | None = None) -> list[RecordedEvent]:
        """The stream's events in version order; with as_of, only those recorded at or before it."""
        ...

    async def read_projection(self, stream_id: str) -> tuple[int, Mapping[str, Any] | None]:
        """(last version, inline projection at that version or None if the stream never had one)."""
        ...

    async def find_request(self, key: str) -> StoredRequest | None: ...

    async def commit(
        self,
        appends: Sequence[StreamAppend],
        *,
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> CommitReceipt:
        """All or nothing across streams. Raises DuplicateRequest, IdempotencyConflict,
        WrongExpectedVersion, MissingProjection or EventIdConflict, having written nothing."""
        ...

    async def commit_batch(self, requests: Sequence[CommitRequest]) -> BatchReceipt:
        """Many requests in one transaction, all or nothing. Requests are applied in order: a
        request appending to a stream an earlier one in the batch appended to expects that one's
        new version, and its events chain onto that one's. Refused requests raise BatchRefused
        naming each refused request and every stale stream, having written nothing."""
        ...

    async def read_projections(self, stream_ids: Sequence[str]) -> dict[str, tuple[int, Mapping[str, Any] | None]]:
        """read_projection of many streams in one read (every stream asked for is in the answer)."""
        ...

    async def find_requests(self, keys: Sequence[str]) -> dict[str, StoredRequest]:
        """The stored requests among these keys, in one read (absent keys are simply missing)."""
        ...

    async def read_all(self, after_position: int, limit: int) -> list[RecordedEvent]:
        """The global log after a position, in position order, never past an event not yet committed."""
        ...

    async def list_streams(self, prefix: str | None = None) -> list[str]:
        """Stream ids (sorted, bytewise) that have at least one event."""
        ...


class AuditableStore(LedgerStore, Protocol):
    """What an auditor reads besides the contract's operations: every row, including those
    the writers never read back, and nothing that trusts them (no assert on a read)."""

    async def projection_state(self, stream_id: str) -> ProjectionState: ...

    async def read_requests(self, after_key: str | None, limit: int) -> list[StoredRequest]:
        """Idempotency rows after a key, in the store's key order (keyset pages)."""
        ...

    async def read_outbox(self, after_position: int, limit: int) -> list[OutboxRecord]:
        """Outbox rows after a position, published or not, in position order."""
        ...

    async def events_at(self, positions: Sequence[int]) -> dict[int, RecordedEvent]:
        """The events at these global positions (absent positions are simply missing)."""
        ...

    async def watermark(self) -> int:
        """A position below which no event can still appear (every writer below it has finished)."""
        ...

    async def stream_heads(self, before_position: int, after_stream: str | None, limit: int) -> list[StreamHead]:
        """Each stream's last event among those at positions below ``before_position``: one page
        of streams after ``after_stream``, sorted bytewise (streams with no such event skipped)."""
        ...

    def scan_streams(self, prefix: str | None = None, *, projections: bool = True) -> AsyncIterator[StreamScan]:
        """Every stream with events (sorted bytewise, only those starting with ``prefix``), each
        with all its events as stored and its projection state (``projections=False``: none
        read), all in one snapshot."""
        ...
