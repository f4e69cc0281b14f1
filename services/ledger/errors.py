"""What a commit can refuse. Each refusal means nothing was written."""

from __future__ import annotations

import uuid

from ledger.store import StoredRequest


class LedgerError(Exception):
    """Base of every refusal the ledger raises on purpose."""


class WrongExpectedVersion(LedgerError):
    """Another writer appended first: re-read the stream (or its projection) and retry."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r}: expected version {expected}, found {actual}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class DuplicateRequest(LedgerError):
    """The request key was already recorded with the same body: return ``stored.result``."""

    def __init__(self, stored: StoredRequest) -> None:
        super().__init__(f"request {stored.key!r} was already recorded")
        self.stored = stored


class IdempotencyConflict(LedgerError):
    """The request key was already recorded with a different body: a sender bug, never a retry."""

    def __init__(self, key: str) -> None:
        super().__init__(f"request {key!r} was already recorded with a different body")
        self.key = key


class MissingProjection(LedgerError):
    """An append without a projection to a stream that has one would leave the projection stale."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"stream {stream_id!r} has an inline projection; every append must carry the new one")
        self.stream_id = stream_id


class EventIdConflict(LedgerError):
    """An event or outbox message id already exists outside this request (ids must be unique)."""

    def __init__(self, ident: uuid.UUID | None) -> None:
        super().__init__(f"id {ident} is already recorded" if ident else "an event or message id is already recorded")
        self.ident = ident
