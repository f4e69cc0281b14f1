"""What both stores do to a commit before writing: refuse malformed input, then chain the events.

Programming errors (a naive datetime, a float in data, a stream listed twice, limits exceeded)
raise ValueError before any I/O; they are bugs in the caller, not races to retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ledger import errors
from ledger.hashing import (
    CURRENT_HASH_ALG,
    GENESIS,
    NotCanonical,
    canonical_json,
    canonical_time,
    event_hash_v2_of_text,
    jsonb_text,
    recompute_hash,
)
from ledger.store import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_BATCH,
    MAX_EVENTS_PER_COMMIT,
    MAX_OUTBOX_PER_BATCH,
    MAX_OUTBOX_PER_COMMIT,
    MAX_REQUESTS_PER_BATCH,
    MAX_STREAMS_PER_COMMIT,
    CommitReceipt,
    CommitRequest,
    IdempotentRequest,
    OutboxMessage,
    RecordedEvent,
    StoredRequest,
    StreamAppend,
)

MAX_ID_CHARS = 200


@dataclass(frozen=True)
class ChainedEvent:
    """One event ready to write: its place in the commit, its stream and its chain link."""

    index: int  # 0-based across the whole commit, in the order the caller listed them
    stream_id: str
    version: int
    event_id: uuid.UUID
    event_type: str
    data_json: str  # data as jsonb prints it: what is stored and what was hashed
    occurred_at: datetime
    prev_hash: str
    hash: str
    hash_alg: int = CURRENT_HASH_ALG


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or "\x00" in value:
        raise ValueError(f"{what} must be a non-empty string of at most {MAX_ID_CHARS} characters")


@dataclass(frozen=True)
class Encoded:
    """A request's JSON as the store writes it, made once while checking it."""

    projections: Mapping[str, str]  # stream → canonical JSON of the projection its append carries
    result: str | None  # canonical JSON of the request's stored answer
    headers: list[str]  # canonical JSON of each outbox message's headers


def check_commit(
    appends: Sequence[StreamAppend],
    request: IdempotentRequest | None,
    outbox: Sequence[OutboxMessage],
    replaced: Collection[str] = frozenset(),
) -> Encoded:
    """``replaced``: streams whose projection a later request of the same batch replaces; this
    request's projection of them is never written, so it is neither encoded nor checked."""
    if len(appends) > MAX_STREAMS_PER_COMMIT:
        raise ValueError(f"at most {MAX_STREAMS_PER_COMMIT} streams per commit")
    if len(outbox) > MAX_OUTBOX_PER_COMMIT:
        raise ValueError(f"at most {MAX_OUTBOX_PER_COMMIT} outbox messages per commit")
    streams = [append.stream_id for append in appends]
    if len(set(streams)) != len(streams):
        raise ValueError("a stream may appear only once per commit")
    events = [event for append in appends for event in append.events]
    if len(events) > MAX_EVENTS_PER_COMMIT:
        raise ValueError(f"at most {MAX_EVENTS_PER_COMMIT} events per commit")
    if len({event.event_id for event in events}) != len(events):
        raise ValueError("event ids must be unique within a commit")
    if len({message.message_id for message in outbox}) != len(outbox):
        raise ValueError("outbox message ids must be unique within a commit")
    projections = {}
    for append in appends:
        _check_name("stream_id", append.stream_id)
        if append.expected_version < 0:
            raise ValueError("expected_version must be 0 (empty stream) or more")
        if not append.events:
            raise ValueError(f"append to {append.stream_id!r} carries no events")
        if append.projection is not None and append.stream_id not in replaced:
            projections[append.stream_id] = canonical_json(append.projection)
    for event in events:
        _check_name("event_type", event.event_type)
        canonical_time(event.occurred_at)
    result = None
    if request is not None:
        _check_name("request key", request.key)
        result = canonical_json(request.result)
    headers = []
    for message in outbox:
        _check_name("topic", message.topic)
        headers.append(canonical_json(dict(message.headers)))
    return Encoded(projections, result, headers)


def chain(append: StreamAppend, head_hash: str | None, first_index: int) -> list[ChainedEvent]:
    """Number and hash ``append``'s events after a stream head (head_hash None = empty stream)."""
    prev = head_hash or GENESIS
    chained = []
    for offset, event in enumerate(append.events):
        data_json = jsonb_text(event.data)
        if len(data_json.encode("utf-8")) > MAX_EVENT_BYTES:
            raise ValueError(f"event {event.event_id} is larger than {MAX_EVENT_BYTES} bytes")
        version = append.expected_version + offset + 1
        digest = event_hash_v2_of_text(
            prev,
            stream_id=append.stream_id,
            version=version,
            event_id=event.event_id,
            event_type=event.event_type,
            data_text=data_json,
            occurred_at=event.occurred_at,
        )
        chained.append(
            ChainedEvent(
                first_index + offset,
                append.stream_id,
                version,
                event.event_id,
                event.event_type,
                data_json,
                event.occurred_at,
                prev,
                digest,
            )
        )
        prev = digest
    return chained


class ForgedEvent(ValueError):
    """A recorded event that does not prove itself: what the insert trigger refuses."""


def refuse_unproven(event: RecordedEvent, head: RecordedEvent | None, *, algorithm: int = CURRENT_HASH_ALG) -> None:
    """The insert trigger's rules (migrations 0001 and 0006) for a row offered with its own
    hash, as a writer with raw INSERT could: it must follow the stream's head, link to its
    hash, name the current algorithm, and its hash must be its content's. ``algorithm`` 1 checks
    a row as migration 0006 found it in a ledger written before (see MemoryLedger.restore_v1_event)."""
    which = f"event {event.version} of stream {event.stream_id}"
    expected_version = head.version + 1 if head else 1
    if event.version != expected_version:
        raise ForgedEvent(f"{which} does not follow version {expected_version - 1}")
    if event.prev_hash != (head.hash if head else GENESIS):
        raise ForgedEvent(f"{which} does not follow version {event.version - 1}'s hash")
    if event.hash_alg != algorithm:
        raise ForgedEvent(f"{which} names hash algorithm {event.hash_alg}; new events must use {algorithm}")
    try:
        digest = recompute_hash(
            event.hash_alg, event.prev_hash, stream_id=event.stream_id, version=event.version,
            event_id=event.event_id, event_type=event.event_type, data=event.data, occurred_at=event.occurred_at,
        )  # fmt: skip
    except NotCanonical as error:
        raise ForgedEvent(f"{which}: {error}") from None
    if digest != event.hash:
        raise ForgedEvent(f"{which}: its hash does not match its content")


# --- batches: many requests in one transaction (commit_batch; commit is a batch of one) -------


def check_batch(requests: Sequence[CommitRequest]) -> list[Encoded]:
    """Each request as ``commit`` checks it, and the batch's own limits: one transaction's
    events and outbox rows share its 16 index bits of position, and a key, an event id or a
    message id may appear once in a batch (two requests of one key are the caller's to merge)."""
    if len(requests) > MAX_REQUESTS_PER_BATCH:
        raise ValueError(f"at most {MAX_REQUESTS_PER_BATCH} requests per batch")
    replaced = _replaced_projections(requests)
    encoded = [check_commit(one.appends, one.request, one.outbox, replaced[i]) for i, one in enumerate(requests)]
    keys = [one.request.key for one in requests if one.request is not None]
    if len(set(keys)) != len(keys):
        raise ValueError("a request key may appear only once per batch")
    events = [event.event_id for one in requests for append in one.appends for event in append.events]
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ValueError(f"at most {MAX_EVENTS_PER_BATCH} events per batch")
    if len(set(events)) != len(events):
        raise ValueError("event ids must be unique within a batch")
    messages = [message.message_id for one in requests for message in one.outbox]
    if len(messages) > MAX_OUTBOX_PER_BATCH:
        raise ValueError(f"at most {MAX_OUTBOX_PER_BATCH} outbox messages per batch")
    if len(set(messages)) != len(messages):
        raise ValueError("outbox message ids must be unique within a batch")
    return encoded


def _replaced_projections(requests: Sequence[CommitRequest]) -> list[frozenset[str]]:
    """For each request, the streams a later request of the batch writes a projection of: only a
    stream's last projection in a batch is stored (chain_batch), so the earlier ones are skipped —
    a group commit where one person has several messages writes that person-year's state once. If
    the later request is refused, the whole batch is, and its retry is checked afresh."""
    if len(requests) < 2:
        return [frozenset()] * len(requests)
    later: set[str] = set()
    replaced: list[frozenset[str]] = []
    for one in reversed(requests):
        replaced.append(frozenset(later))
        later.update(a.stream_id for a in one.appends if a.projection is not None)
    return replaced[::-1]


@dataclass(frozen=True)
class Head:
    """A stream as a commit finds it: its last version, that event's hash, and whether it has
    an inline projection."""

    version: int = 0
    hash: str | None = None
    projected: bool = False


@dataclass
class Verdict:
    """What a batch would do, request by request (``judge``)."""

    refusals: dict[int, errors.LedgerError] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)  # stream → committed version
    accepted: list[int] = field(default_factory=list)

    def enforce(self) -> None:
        if self.refusals:
            raise errors.BatchRefused(self.refusals, self.stale, self.accepted)


def judge(
    requests: Sequence[CommitRequest],
    heads: Mapping[str, Head],
    stored: Mapping[str, StoredRequest],
    taken_events: Collection[uuid.UUID] = frozenset(),
    taken_messages: Collection[uuid.UUID] = frozenset(),
) -> Verdict:
    """Decide each request in order against the committed ``heads`` (every stream the batch
    names), the ``stored`` requests among its keys and the event and message ids already taken,
    as if the accepted requests before it had been committed. A refused request moves nothing,
    so a later request expecting its result is refused too (its stream is stale)."""
    verdict, current = Verdict(), dict(heads)
    for index, one in enumerate(requests):
        refusal = _refusal(one, current, stored, (taken_events, taken_messages), heads, verdict.stale)
        if refusal is not None:
            verdict.refusals[index] = refusal
            continue
        verdict.accepted.append(index)
        for append in one.appends:
            head = current.get(append.stream_id, Head())
            projected = head.projected or append.projection is not None
            current[append.stream_id] = Head(append.expected_version + len(append.events), None, projected)
    return verdict


def _refusal(
    one: CommitRequest,
    current: Mapping[str, Head],
    stored: Mapping[str, StoredRequest],
    taken: tuple[Collection[uuid.UUID], Collection[uuid.UUID]],
    committed: Mapping[str, Head],
    stale: dict[str, int],
) -> errors.LedgerError | None:
    """The first refusal of one request, in the contract's order (docs/ledger.md)."""
    if one.request is not None and (found := stored.get(one.request.key)) is not None:
        if found.body_hash != one.request.body_hash:
            return errors.IdempotencyConflict(one.request.key)
        return errors.DuplicateRequest(found)
    wrong = [a for a in one.appends if current.get(a.stream_id, Head()).version != a.expected_version]
    for append in wrong:
        stale[append.stream_id] = committed.get(append.stream_id, Head()).version
    if wrong:
        actual = current.get(wrong[0].stream_id, Head()).version
        return errors.WrongExpectedVersion(wrong[0].stream_id, wrong[0].expected_version, actual)
    for append in one.appends:
        if append.projection is None and current.get(append.stream_id, Head()).projected:
            return errors.MissingProjection(append.stream_id)
    reused = [e.event_id for a in one.appends for e in a.events if e.event_id in taken[0]]
    reused += [m.message_id for m in one.outbox if m.message_id in taken[1]]
    return errors.EventIdConflict(reused[0]) if reused else None


@dataclass(frozen=True)
class ChainedBatch:
    """A batch ready to write: each request's events numbered and chained (indexes run across
    the whole batch), and each stream's last projection with the version it reflects."""

    events: list[list[ChainedEvent]]  # per request
    projections: dict[str, tuple[int, str]]  # stream → (version, canonical JSON of its last projection)

    def all_events(self) -> list[ChainedEvent]:
        return [event for request in self.events for event in request]

    def receipts(self, requests: Sequence[CommitRequest], base: int) -> tuple[CommitReceipt, ...]:
        """Each request's receipt when event index i is written at position base + i."""
        return tuple(
            CommitReceipt(
                positions=tuple(base + event.index for event in events),
                stream_versions={a.stream_id: a.expected_version + len(a.events) for a in one.appends},
            )
            for one, events in zip(requests, self.events, strict=True)
        )


def chain_batch(
    requests: Sequence[CommitRequest], heads: Mapping[str, Head], encoded: Sequence[Encoded]
) -> ChainedBatch:
    """Chain an accepted batch: a stream's events continue from the hash the batch left it at."""
    hashes = {stream: head.hash for stream, head in heads.items()}
    events: list[list[ChainedEvent]] = []
    projections: dict[str, tuple[int, str]] = {}
    index = 0
    for one, json_of in zip(requests, encoded, strict=True):
        chained: list[ChainedEvent] = []
        for append in one.appends:
            links = chain(append, hashes.get(append.stream_id), index)
            index += len(links)
            hashes[append.stream_id] = links[-1].hash
            chained += links
            if append.stream_id in json_of.projections:  # not replaced later in the batch
                version = append.expected_version + len(append.events)
                projections[append.stream_id] = (version, json_of.projections[append.stream_id])
        events.append(chained)
    return ChainedBatch(events, projections)
