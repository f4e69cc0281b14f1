"""Canonical bytes and the per-stream hash chain, shared by both stores and the verifier.

Two algorithms, named by each event's ``hash_alg`` (docs/ledger.md, ADR 0005):

- v1 (events written before migration 0006): sha256(prev_hash + canonical JSON of {stream_id,
  version, event_id, event_type, data, occurred_at}); canonical JSON = sorted keys, no spaces,
  UTF-8, ensure_ascii=False. Python can compute it; PostgreSQL cannot rebuild those bytes.
- v2 (every new event): sha256 of the UTF-8 text PostgreSQL prints for ``jsonb_build_object(
  'data', data, 'event_id', …, 'event_type', …, 'occurred_at', …, 'prev_hash', …, 'stream_id',
  …, 'version', …)``. jsonb's text is deterministic — object keys ordered by their UTF-8 length,
  then bytewise; ", " and ": " between items; only '"', '\\' and control characters escaped —
  so the insert trigger recomputes it from the row and refuses a mismatch, and ``jsonb_text``
  below writes the same bytes in Python (an integration test compares the two).

The first event of a stream links to GENESIS. data may hold only str/int/bool/None/list/dict:
a float, a NUL or a lone surrogate would not survive jsonb unchanged (and money is integer fen).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

import orjson

GENESIS = "0" * 64
HASH_V1 = 1
HASH_V2 = 2
HASH_ALGORITHMS = (HASH_V1, HASH_V2)
CURRENT_HASH_ALG = HASH_V2  # what every new event is hashed with; the trigger refuses anything else
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_BOUND = 1 << 63  # BIGINT: what every consumer (SQL, Java, Go) can hold exactly
_MAX_DEPTH = 32


def _jsonb_key(key: str) -> tuple[int, bytes]:
    """jsonb orders object keys by their UTF-8 length first, then bytewise (lengthCompareJsonbString)."""
    encoded = key.encode("utf-8")
    return len(encoded), encoded


class NotCanonical(ValueError):
    """A value the ledger cannot store and hash reproducibly."""


def json_value(value: Any, _depth: int = 0) -> Any:
    """A plain-JSON copy of ``value`` (Mappings → dict with keys in jsonb's order, lists/tuples →
    list); refuses the rest. The definition: ``canonical_json`` and ``jsonb_text`` take a faster
    path (``_plain_checked``, ``_in_jsonb_order``) for plain values and fall back to this."""
    kind = type(value)  # exact-type checks first: this runs for every value of every event
    if kind is str:
        _refuse_bad_text(value)
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
        for key in value:
            if type(key) is not str:
                raise NotCanonical(f"object keys must be strings, got {type(key).__name__}")
            _refuse_bad_text(key)  # before sorting: a lone surrogate has no UTF-8 to sort by
        # Keys in jsonb's order, so that jsonb_text needs no second copy (v1 sorts its own way).
        return {key: json_value(value[key], _depth + 1) for key in sorted(value, key=_jsonb_key)}
    if kind is list or kind is tuple:
        return [json_value(item, _depth + 1) for item in value]
    if isinstance(value, str):  # StrEnum and friends: stored as the plain string they encode to
        return json_value(str.__str__(value))
    if isinstance(value, int) and not isinstance(value, bool):  # IntEnum
        return json_value(int(value))
    raise NotCanonical(f"{type(value).__name__} is not allowed in ledger JSON (money is int fen)")


def _refuse_bad_text(text: str) -> None:
    if "\x00" in text:
        raise NotCanonical("strings may not contain NUL characters")
    if _SURROGATE.search(text):
        raise NotCanonical("strings may not contain lone surrogates (not UTF-8)")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8. A dict or list of plain JSON (exact str/int/bool/None,
    dicts with str keys, lists) is checked in one walk that copies nothing and encoded by orjson;
    anything else, or text that shows a suspect, takes json_value's copy (same bytes)."""
    text = plain_sorted_json(value)
    if text is not None and "\\u0000" not in text:  # a NUL's escape (or a literal backslash-u0000): json_value tells
        return text
    return _ENCODER.encode(json_value(value))


def plain_sorted_json(value: Any) -> str | None:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of plain
    JSON — a dict or list of exact str/int (within BIGINT)/bool/None, dicts with str keys and
    lists, at most 32 deep, no lone surrogate — written by orjson; None for anything else, whose
    text the caller's own encoder decides. Unlike canonical_json it refuses nothing: a NUL is
    written as json writes it (the settlement service's request body hash uses it that way)."""
    if type(value) is not dict and type(value) is not list:
        return None
    try:
        _plain_checked(value, 0)
        return _fast_canonical(value)
    except _Unusual:
        return None


def _fast_canonical(value: dict[Any, Any] | list[Any]) -> str:
    """canonical_json of a value _plain_checked passed, ~4x faster than json's C encoder (the
    person-year projection and the stored answer of every claim). orjson writes the same bytes:
    keys sorted by code point (it compares UTF-8, which orders alike), no spaces, non-ASCII as
    it is, and json's escapes ('"', '\\', \\b \\f \\n \\r \\t, \\u00XX in lowercase hex for the
    other control characters); a lone surrogate, which it refuses, goes to json_value."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:
        raise _Unusual from None


# --- the fast paths ---------------------------------------------------------------------------
# json_value calls itself once per value and checks every string on its own (two scans each);
# most of what the ledger stores is dicts of short strings and small ints. So the walks below
# handle scalars inline, leave the string checks to the encoded text (both encoders escape NUL
# as \u0000; json's writes a lone surrogate as it is, orjson refuses it), and give up (_Unusual)
# at the first thing json_value would convert or refuse: json_value then decides, in its words.


class _Unusual(Exception):  # a signal between the walks and their callers: never raised out of this module
    """The value needs json_value: a conversion (tuple, Mapping, enum) or a refusal."""


def _suspect(text: str) -> bool:
    """A NUL's escape (or a literal backslash-u0000), or a lone surrogate: json_value will tell.
    isascii() is a flag read, so an ASCII text costs one substring search."""
    return "\\u0000" in text or (not text.isascii() and _SURROGATE.search(text) is not None)


_FAST_JSONB = json.JSONEncoder(separators=(", ", ": "), ensure_ascii=False, check_circular=False)


def _plain_checked(value: dict[Any, Any] | list[Any], depth: int) -> None:
    """Raises _Unusual unless ``value`` is plain JSON json_value would copy unchanged (strings aside)."""
    if depth >= _MAX_DEPTH:
        raise _Unusual
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise _Unusual
        items: Any = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_INT_BOUND <= item < _INT_BOUND:
                raise _Unusual
        elif kind is dict or kind is list:
            _plain_checked(item, depth + 1)
        else:
            raise _Unusual


# Key tuples seen → the same keys in jsonb's order (None: already in it). Event data has a few
# dozen shapes; the bound keeps a stream of odd-keyed values from growing it without end.
_JSONB_ORDER: dict[tuple[str, ...], tuple[str, ...] | None] = {}
_JSONB_ORDER_MAX = 4096


def _jsonb_order(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    try:
        return _JSONB_ORDER[keys]
    except KeyError:
        pass
    try:
        ordered = tuple(sorted(keys, key=_jsonb_key))
    except UnicodeEncodeError:  # a lone surrogate: json_value refuses it
        raise _Unusual from None
    found = None if ordered == keys else ordered
    if len(_JSONB_ORDER) < _JSONB_ORDER_MAX:
        _JSONB_ORDER[keys] = found
    return found


def _in_jsonb_order(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    """``value`` with its keys, and its nested objects' keys, in jsonb's order: the same object
    when they already are. Raises _Unusual where _plain_checked would."""
    if depth >= _MAX_DEPTH:
        raise _Unusual
    nested: dict[str, Any] | None = None  # key → its value reordered, where that made a copy
    for key, item in value.items():
        if type(key) is not str:
            raise _Unusual
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_INT_BOUND <= item < _INT_BOUND:
                raise _Unusual
            continue
        if kind is dict:
            copy: Any = _in_jsonb_order(item, depth + 1)
        elif kind is list:
            copy = _list_in_jsonb_order(item, depth + 1)
        else:
            raise _Unusual
        if copy is not item:
            nested = nested or {}
            nested[key] = copy
    order = _jsonb_order(tuple(value)) if len(value) > 1 else None
    if nested is None:
        return value if order is None else {key: value[key] for key in order}
    return {key: nested.get(key, value[key]) for key in (value if order is None else order)}


def _list_in_jsonb_order(value: list[Any], depth: int) -> list[Any]:
    if depth >= _MAX_DEPTH:
        raise _Unusual
    copied: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_INT_BOUND <= item < _INT_BOUND:
                raise _Unusual
            continue
        if kind is dict:
            copy: Any = _in_jsonb_order(item, depth + 1)
        elif kind is list:
            copy = _list_in_jsonb_order(item, depth + 1)
        else:
            raise _Unusual
        if copy is not item:
            copied = copied or list(value)
            copied[index] = copy
    return value if copied is None else copied


def canonical_time(moment: datetime) -> str:
    """UTC with microseconds: PostgreSQL's timestamptz keeps exactly this much."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NotCanonical("occurred_at must be timezone-aware")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise NotCanonical("occurred_at must fall within years 1 to 9999 in UTC") from None
    if utc.replace(tzinfo=None) in (datetime.min, datetime.max):  # asyncpg stores these as ±infinity
        raise NotCanonical("occurred_at may not be the first or last representable moment")
    return utc.isoformat(timespec="microseconds")


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


# --- v2: the bytes PostgreSQL prints for jsonb -------------------------------------------------


# jsonb's output separators; escapes are json's with ensure_ascii=False: '"', '\\', \b \f \n \r \t
# and \u00XX (lowercase hex) for the other control characters — exactly PostgreSQL's escape_json.
_JSONB_ENCODER = json.JSONEncoder(separators=(", ", ": "), ensure_ascii=False)


def jsonb_text(value: Any) -> str:
    """What ``value::jsonb::text`` prints in PostgreSQL, byte for byte. Like canonical_json, a
    plain dict takes the fast path (_in_jsonb_order, then the C encoder) and the rest json_value."""
    if type(value) is dict:
        try:
            ordered = _in_jsonb_order(value, 0)
        except _Unusual:
            pass
        else:
            text = _FAST_JSONB.encode(ordered)
            if not _suspect(text):
                return text
    return _JSONB_ENCODER.encode(json_value(value))  # json_value lists keys in jsonb's order


def event_document_v2(
    prev_hash: str,
    *,
    stream_id: str,
    version: int,
    event_id: uuid.UUID,
    event_type: str,
    data_text: str,
    occurred_at: datetime,
) -> str:
    """The v2 hashed document: jsonb_build_object(…)::text, with data already as jsonb text."""
    quote = encode_basestring  # a JSON string exactly as jsonb prints it (ensure_ascii=False escapes)
    fields = {
        "data": data_text,
        "event_id": quote(str(event_id)),
        "event_type": quote(json_value(event_type)),
        "occurred_at": quote(canonical_time(occurred_at)),
        "prev_hash": quote(prev_hash),
        "stream_id": quote(json_value(stream_id)),
        "version": str(int(version)),
    }
    return "{" + ", ".join(f'"{key}": {fields[key]}' for key in _V2_KEYS) + "}"


_V2_KEYS = sorted(
    ("data", "event_id", "event_type", "occurred_at", "prev_hash", "stream_id", "version"), key=_jsonb_key
)


def event_hash_v2_of_text(
    prev_hash: str,
    *,
    stream_id: str,
    version: int,
    event_id: uuid.UUID,
    event_type: str,
    data_text: str,
    occurred_at: datetime,
) -> str:
    document = event_document_v2(
        prev_hash, stream_id=stream_id, version=version, event_id=event_id, event_type=event_type,
        data_text=data_text, occurred_at=occurred_at,
    )  # fmt: skip
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def recompute_hash(
    hash_alg: int,
    prev_hash: str,
    *,
    stream_id: str,
    version: int,
    event_id: uuid.UUID,
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime,
) -> str:
    """An event's hash by the algorithm it names (NotCanonical for an algorithm this code does not know)."""
    if hash_alg == HASH_V2:
        return event_hash_v2_of_text(
            prev_hash, stream_id=stream_id, version=version, event_id=event_id, event_type=event_type,
            data_text=jsonb_text(data), occurred_at=occurred_at,
        )  # fmt: skip
    if hash_alg == HASH_V1:
        return event_hash(
            prev_hash, stream_id=stream_id, version=version, event_id=event_id, event_type=event_type,
            data=data, occurred_at=occurred_at,
        )  # fmt: skip
    raise NotCanonical(f"hash algorithm {hash_alg} is unknown to this verifier")
