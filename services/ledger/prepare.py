"""What both stores do to a commit before writing: refuse malformed input, then chain the events.

Programming errors (a naive datetime, a float in data, a stream listed twice, limits exceeded)
raise ValueError before any I/O; they are bugs in the caller, not races to retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
    MAX_EVENTS_PER_COMMIT,
    MAX_OUTBOX_PER_COMMIT,
    MAX_STREAMS_PER_COMMIT,
    IdempotentRequest,
    OutboxMessage,
    RecordedEvent,
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


def check_commit(
    appends: Sequence[StreamAppend], request: IdempotentRequest | None, outbox: Sequence[OutboxMessage]
) -> None:
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
    for append in appends:
        _check_name("stream_id", append.stream_id)
        if append.expected_version < 0:
            raise ValueError("expected_version must be 0 (empty stream) or more")
        if not append.events:
            raise ValueError(f"append to {append.stream_id!r} carries no events")
        if append.projection is not None:
            canonical_json(append.projection)
    for event in events:
        _check_name("event_type", event.event_type)
        canonical_time(event.occurred_at)
    if request is not None:
        _check_name("request key", request.key)
        canonical_json(request.result)
    for message in outbox:
        _check_name("topic", message.topic)
        canonical_json(dict(message.headers))


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
