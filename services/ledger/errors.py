"""What a commit can refuse. Each refusal means nothing was written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

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


class BatchRefused(LedgerError):
    """Some requests of a commit_batch were refused; nothing of the batch was written.

    - ``refusals``: request index → the refusal ``commit`` would raise for that request alone,
      applied after the batch's accepted requests before it (DuplicateRequest carries the
      stored answer; WrongExpectedVersion the first stale stream in the request's order);
    - ``stale``: every stream some request expected at another version → its committed version
      (re-read these, re-decide the requests that touched them);
    - ``accepted``: the requests that commit unchanged once the refused ones are left out.
    """

    def __init__(self, refusals: Mapping[int, LedgerError], stale: Mapping[str, int], accepted: Sequence[int]) -> None:
        kinds = ", ".join(sorted({type(r).__name__ for r in refusals.values()}))
        super().__init__(f"{len(refusals)} of {len(refusals) + len(accepted)} request(s) refused ({kinds})")
        self.refusals, self.stale, self.accepted = dict(refusals), dict(stale), tuple(accepted)
