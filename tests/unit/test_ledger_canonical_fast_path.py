"""canonical_json and jsonb_text take a fast path for plain values (ledger/hashing.py): it must
write the very bytes, and refuse the very values, of the definition — json_value's copy encoded
by the standard encoders — for every value, plain or not."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger import hashing
from ledger.hashing import NotCanonical, canonical_json, json_value, jsonb_text

DEFINITION: dict[str, Callable[[Any], str]] = {
    "canonical_json": lambda value: json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        json_value(value)
    ),
    "jsonb_text": lambda value: json.JSONEncoder(separators=(", ", ": "), ensure_ascii=False).encode(json_value(value)),
}
FAST: dict[str, Callable[[Any], str]] = {"canonical_json": canonical_json, "jsonb_text": jsonb_text}


class Fund(enum.StrEnum):
    BASIC = "310100"


class Level(enum.IntEnum):
    TERTIARY = 3


def outcome(write: Callable[[Any], str], value: Any) -> tuple[str, str]:
    """What a writer does with ``value``: its text, or the refusal's type and words."""
    try:
        return "text", write(value)
    except (NotCanonical, UnicodeEncodeError) as refusal:
        return type(refusal).__name__, str(refusal)


# Any text, NUL and lone surrogates included; keys of any width so jsonb's length-first order
# and the key-order cache are both exercised (two dicts of one shape hit the cache).
texts = st.text(max_size=6) | st.sampled_from(["", "a", "é", "名", "aa", "\\u0000", "a\x00", "\ud800", "x\x1f"])
plain_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts
bounds = st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1])  # BIGINT's ends and one past each
odd_leaves = (
    st.floats(allow_nan=True)
    | st.integers(2**63, 2**70)
    | st.integers(-(2**70), -(2**63) - 1)
    | st.sampled_from([Fund.BASIC, Level.TERTIARY, b"x", (1, "t")])
)
# Plain values (what the fast path takes) and values of every kind (what it must hand over).
plain_values = st.recursive(
    plain_leaves | bounds,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=24,
)
values = st.recursive(
    plain_leaves | bounds | odd_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(texts, inner, max_size=5)
        | st.dictionaries(st.integers(0, 3), inner, min_size=1, max_size=2)
        | st.builds(tuple, st.lists(inner, max_size=3))
        | st.builds(MappingProxyType, st.dictionaries(texts, inner, max_size=3))
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("writer", FAST)
@given(plain_values)
def test_the_fast_path_writes_plain_values_exactly_as_the_definition_does(writer: str, value: Any) -> None:
    assert outcome(FAST[writer], value) == outcome(DEFINITION[writer], value)


@pytest.mark.parametrize("writer", FAST)
@given(values)
def test_the_fast_path_writes_and_refuses_any_value_exactly_as_the_definition_does(writer: str, value: Any) -> None:
    assert outcome(FAST[writer], value) == outcome(DEFINITION[writer], value)


@pytest.mark.parametrize("writer", FAST)
def test_nested_objects_are_reordered_inside_lists_and_objects(writer: str) -> None:
    # jsonb: "b" (1 byte) before "aa" (2 bytes); v1 sorts by code point: "aa" before "b".
    value = {"z": [{"aa": 1, "b": 2}], "y": {"aa": {"aa": 1, "b": 2}, "b": 3}}
    assert FAST[writer](value) == DEFINITION[writer](value)
    assert (
        FAST[writer](value)
        == {
            "canonical_json": '{"y":{"aa":{"aa":1,"b":2},"b":3},"z":[{"aa":1,"b":2}]}',
            "jsonb_text": '{"y": {"b": 3, "aa": {"b": 2, "aa": 1}}, "z": [{"b": 2, "aa": 1}]}',
        }[writer]
    )


@pytest.mark.parametrize("writer", FAST)
def test_integers_beyond_bigint_are_refused_and_its_ends_written(writer: str) -> None:
    assert outcome(FAST[writer], {"n": [2**63 - 1, -(2**63)]})[0] == "text"
    for beyond in (2**63, -(2**63) - 1):
        with pytest.raises(NotCanonical, match="does not fit in 64 bits"):
            FAST[writer]({"n": [beyond]})


def nested(depth: int) -> dict[str, Any]:
    deep: dict[str, Any] = {}
    for _ in range(depth):
        deep = {"d": deep}
    return deep


@pytest.mark.parametrize("writer", FAST)
def test_nesting_deeper_than_32_is_refused_and_32_is_written(writer: str) -> None:
    # nested(32): the outermost object is at depth 0, the innermost empty one at depth 32 —
    # json_value refuses a container at depth 32, so nested(32) is refused and nested(31) kept.
    assert outcome(FAST[writer], nested(31))[0] == "text"
    with pytest.raises(NotCanonical, match="nested deeper than 32"):
        FAST[writer](nested(32))


@pytest.mark.parametrize("writer", FAST)
def test_a_literal_backslash_u0000_is_written_not_refused(writer: str) -> None:
    # The encoded text shows "\\u0000" both for a NUL and for the six characters \u0000 typed
    # out: the fast path hands both to json_value, which refuses only the NUL.
    assert "\\\\u0000" in FAST[writer]({"note": "\\u0000"})
    with pytest.raises(NotCanonical, match="NUL"):
        FAST[writer]({"note": "\x00"})


@pytest.mark.parametrize("writer", FAST)
def test_a_lone_surrogate_in_a_key_is_refused_as_not_canonical(writer: str) -> None:
    with pytest.raises(NotCanonical, match="surrogate"):
        FAST[writer]({"a": 1, "\udc00": 2})


def test_jsonb_order_of_one_shape_is_the_same_from_the_cache() -> None:
    # "bb" (2 bytes) after "c" (1 byte); "é" is 2 bytes and 0xc3 > 0x62, so after "bb".
    first = jsonb_text({"é": 1, "bb": 2, "c": 3})
    assert ("é", "bb", "c") in hashing._JSONB_ORDER
    assert jsonb_text({"é": 1, "bb": 2, "c": 3}) == first == '{"c": 3, "bb": 2, "é": 1}'


def test_a_value_already_in_jsonb_order_is_written_without_a_copy() -> None:
    value = {"c": 3, "bb": [{"x": 1}], "é": None}
    assert hashing._in_jsonb_order(value, 0) is value


def test_plain_values_are_written_by_the_fast_path_without_json_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # The property tests above compare the fast path with the definition; this proves they
    # test orjson's bytes (canonical_json) and the reordering walk (jsonb_text), not a fallback.
    def refuse(value: Any, _depth: int = 0) -> Any:
        raise AssertionError("json_value was called for a plain value")

    monkeypatch.setattr(hashing, "json_value", refuse)
    value = {"名": ["é", 2**63 - 1, None, True], "a": {"b": "x\x1f"}}
    assert canonical_json(value) == '{"a":{"b":"x\\u001f"},"名":["é",9223372036854775807,null,true]}'
    assert jsonb_text(value) == '{"a": {"b": "x\\u001f"}, "名": ["é", 9223372036854775807, null, true]}'


def test_canonical_json_escapes_control_characters_and_orders_astral_keys_as_json_does() -> None:
    # The fast path is orjson's: each control character, DEL, U+2028, quote and backslash come
    # out as json's ensure_ascii=False encoder writes them (\u00XX in lowercase hex), and keys
    # sort by code point — U+FFFF before U+1F600, which UTF-16 code units would order the other way.
    texts = [chr(c) for c in range(1, 0x20)] + ["\x7f", "\u2028", "\U0001f600", '"', "\\"]
    value = {"\U0001f600": texts, "\uffff": 1, "é": 2, "z": 3}
    assert canonical_json(value) == DEFINITION["canonical_json"](value)
    assert list(json.loads(canonical_json(value))) == ["z", "é", "\uffff", "\U0001f600"]
