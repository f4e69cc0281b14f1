"""Canonical bytes and the per-stream hash chain, shared by both stores and the verifier.

hash = sha256(prev_hash + canonical JSON of {stream_id, version, event_id, event_type, data,
occurred_at}); canonical JSON = sorted keys, no spaces, UTF-8, ensure_ascii=False. The first
event of a stream links to GENESIS. The bytes hashed are exactly what PostgreSQL's jsonb gives
back, which is why data may hold only str/int/bool/None/list/dict: a float or a NUL character
would not survive the round trip unchanged (and money is integer fen anyway).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
_INT_BOUND = 1 << 63  # BIGINT: what every consumer (SQL, Java, Go) can hold exactly
_MAX_DEPTH = 32


class NotCanonical(ValueError):
    """A value the ledger cannot store and hash reproducibly."""


def json_value(value: Any, _depth: int = 0) -> Any:
    """A plain-JSON copy of ``value`` (Mappings → dict, lists/tuples → list); refuses the rest."""
    kind = type(value)  # exact-type checks first: this runs for every value of every event
    if kind is str:
        if "\x00" in value:
            raise NotCanonical("strings may not contain NUL characters")
        return value
    if kind is int:
        if not -_INT_BOUND <= value < _INT_BOUND:
            raise NotCanonical(f"integer {value} does not fit in 64 bits")
        return value
    if value is None or kind is bool:
        return value
    if _depth >= _MAX_DEPTH:
        raise NotCanonical(f"nested deeper than {_MAX_DEPTH} levels")
    if kind is dict or isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotCanonical(f"object keys must be strings, got {type(key).__name__}")
            copy[json_value(key)] = json_value(item, _depth + 1)
        return copy
    if kind is list or kind is tuple:
        return [json_value(item, _depth + 1) for item in value]
    if isinstance(value, str):  # StrEnum and friends: stored as the plain string they encode to
        return json_value(str.__str__(value))
    if isinstance(value, int) and not isinstance(value, bool):  # IntEnum
        return json_value(int(value))
    raise NotCanonical(f"{type(value).__name__} is not allowed in ledger JSON (money is int fen)")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    return _ENCODER.encode(json_value(value))


def canonical_time(moment: datetime) -> str:
    """UTC with microseconds: PostgreSQL's timestamptz keeps exactly this much."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NotCanonical("occurred_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str,
    *,
    stream_id: str,
    version: int,
    event_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime,
) -> str:
    return event_hash_of_json(
        prev_hash,
        stream_id=stream_id,
        version=version,
        event_id=event_id,
        event_type=event_type,
        data_json=canonical_json(data),
        occurred_at=occurred_at,
    )


def event_hash_of_json(
    prev_hash: str,
    *,
    stream_id: str,
    version: int,
    event_id: uuid.UUID,
    event_type: str,
    data_json: str,
    occurred_at: datetime,
) -> str:
    """event_hash given data already in canonical JSON: the document is spliced in sorted key
    order rather than re-serialised (a unit test proves the bytes are the same)."""
    dump = _ENCODER.encode
    document = (
        f'{{"data":{data_json},"event_id":{dump(str(event_id))},"event_type":{dump(event_type)},'
        f'"occurred_at":{dump(canonical_time(occurred_at))},"stream_id":{dump(stream_id)},"version":{int(version)}}}'
    )
    return hashlib.sha256((prev_hash + document).encode("utf-8")).hexdigest()
