"""Canonical JSON and the hash chain: reproducible bytes, and any change to an event shows."""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger.hashing import GENESIS, NotCanonical, canonical_json, canonical_time, event_hash, json_value, jsonb_text

keys = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8)
leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | keys
documents = st.dictionaries(
    keys,
    st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
    ),
    max_size=6,
)
moments = st.datetimes(timezones=st.just(UTC), min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


def naive_hash(prev: str, stream: str, version: int, ident: uuid.UUID, kind: str, data: dict, at: datetime) -> str:
    """The definition, spelled out the slow way (docs/ledger.md)."""
    document = {"stream_id": stream, "version": version, "event_id": str(ident), "event_type": kind, "data": data,
                "occurred_at": at.astimezone(UTC).isoformat(timespec="microseconds")}  # fmt: skip
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


@given(documents, st.text(min_size=1, max_size=20), st.integers(1, 10**6), st.uuids(), moments)
def test_the_hash_is_sha256_of_prev_hash_and_the_sorted_compact_document(data, stream, version, ident, at) -> None:
    expected = naive_hash(GENESIS, stream, version, ident, "ClaimSettled", data, at)
    kwargs = {"stream_id": stream, "version": version, "event_id": ident, "event_type": "ClaimSettled"}
    assert event_hash(GENESIS, data=data, occurred_at=at, **kwargs) == expected


@given(documents)
def test_canonical_json_survives_a_round_trip_unchanged(data) -> None:
    assert canonical_json(json.loads(canonical_json(data))) == canonical_json(data)


def test_key_order_does_not_change_the_canonical_bytes() -> None:
    assert canonical_json({"b": 1, "a": {"y": 2, "x": 3}}) == canonical_json({"a": {"x": 3, "y": 2}, "b": 1})
    assert canonical_json({"名": "张三"}) == '{"名":"张三"}'  # UTF-8, not \\u escapes


BASE = {"stream_id": "P1/2025", "version": 1, "event_id": uuid.UUID(int=1), "event_type": "ClaimSettled",
        "data": {"fen": 100}, "occurred_at": datetime(2025, 1, 1, tzinfo=UTC)}  # fmt: skip
ALTERED = {"stream_id": "P2/2025", "version": 2, "event_id": uuid.UUID(int=2), "event_type": "ClaimReversed",
           "data": {"fen": 101}, "occurred_at": datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)}  # fmt: skip


@pytest.mark.parametrize("field", [*ALTERED, "prev_hash"])
def test_changing_any_hashed_field_changes_the_hash(field: str) -> None:
    prev = "f" * 64 if field == "prev_hash" else GENESIS
    changed = {**BASE, **({field: ALTERED[field]} if field in ALTERED else {})}
    assert event_hash(prev, **changed) != event_hash(GENESIS, **BASE)  # type: ignore[arg-type]


def test_the_same_instant_in_another_timezone_hashes_the_same() -> None:
    utc = datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    beijing = utc.astimezone(timezone(timedelta(hours=8)))
    assert canonical_time(utc) == canonical_time(beijing) == "2025-03-01T00:30:00.000000+00:00"


class Fund(enum.StrEnum):
    BASIC = "310100"


class Level(enum.IntEnum):
    TERTIARY = 3


def test_string_and_integer_enums_are_stored_as_their_plain_values() -> None:
    assert json_value({"fund": Fund.BASIC, "level": Level.TERTIARY}) == {"fund": "310100", "level": 3}
    assert type(json_value(Fund.BASIC)) is str and type(json_value(Level.TERTIARY)) is int


@pytest.mark.parametrize(
    "bad",
    [{"fen": 1.0}, {"n": float("nan")}, {1: "int key"}, {"s": "a\x00b"}, {"big": 2**63}, {"when": datetime.now(UTC)},
     {"set": {1, 2}}, {"bytes": b"x"}],
    ids=["float", "nan", "int-key", "nul", "beyond-int64", "datetime", "set", "bytes"],
)  # fmt: skip
def test_values_that_would_not_round_trip_are_refused(bad) -> None:
    with pytest.raises(NotCanonical):
        canonical_json(bad)


def test_nesting_is_bounded() -> None:
    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    with pytest.raises(NotCanonical, match="nested deeper"):
        canonical_json(deep)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(NotCanonical, match="timezone-aware"):
        canonical_time(datetime(2025, 1, 1))


def test_jsonb_text_orders_keys_by_utf8_length_then_bytes_with_jsonbs_separators() -> None:
    # "b" and "a" are 1 byte, "é" 2 bytes, "aa" 2 bytes ("aa" < "é" bytewise: 0x61 < 0xc3), "名" 3.
    assert jsonb_text({"名": [1, {}], "aa": None, "é": True, "b": "x", "a": -1}) == (
        '{"a": -1, "b": "x", "aa": null, "é": true, "名": [1, {}]}'
    )


def test_jsonb_text_escapes_only_what_postgresql_escapes() -> None:
    assert jsonb_text({"s": 'q"b\\s/\x01\n\x7f\u2028'}) == '{"s": "q\\"b\\\\s/\\u0001\\n\x7f\u2028"}'


@pytest.mark.parametrize(
    "moment",
    [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
     datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8)))],
    ids=["min", "max", "before-year-1-in-utc"],
)  # fmt: skip
def test_moments_postgresql_would_store_as_infinity_or_cannot_hold_are_refused(moment: datetime) -> None:
    with pytest.raises(NotCanonical):
        canonical_time(moment)


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(NotCanonical, match="surrogate"):
        jsonb_text({"request_id": "\ud800"})
