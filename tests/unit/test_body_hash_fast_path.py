"""A request's body hash (settlement.service_layer.replies.body_hash) is written by orjson when
the body is plain JSON (ledger.hashing.plain_sorted_json): the hash must stay the one of
json.dumps' text for every body — plain or not — since every stored idempotency row was keyed
by it, and a retry hashed otherwise would be answered as a conflict."""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import json
from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ledger.hashing import plain_sorted_json
from settlement.service_layer.replies import body_hash


def reference(payload: dict[str, Any]) -> tuple[str, str]:
    """The definition: json.dumps of the body without sent_at, hashed (or the error it raises)."""
    content = {k: v for k, v in payload.items() if k != "sent_at"}
    try:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return "hash", hashlib.sha256(text.encode()).hexdigest()
    except (ValueError, UnicodeEncodeError) as error:
        return type(error).__name__, str(error)


def outcome(payload: dict[str, Any]) -> tuple[str, str]:
    try:
        return "hash", body_hash(payload)
    except (ValueError, UnicodeEncodeError) as error:
        return type(error).__name__, str(error)


class Code(enum.StrEnum):
    CLINIC = "11"


# NUL, a lone surrogate, control characters, non-ASCII keys of every width (sort order).
texts = st.text(max_size=6) | st.sampled_from(["", "sent_at", "é", "名", "\x00", "\\u0000", "\ud800", "x\x1f"])
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(2**63, 2**70)
    | st.floats(allow_nan=True)
    | texts
    | st.sampled_from([Code.CLINIC, decimal.Decimal("1.50"), datetime.date(2025, 1, 2), (1, "t"), b"x"])
)
bodies = st.dictionaries(
    texts,
    st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(texts, inner, max_size=4)
            | st.builds(MappingProxyType, st.dictionaries(texts, inner, max_size=2))
        ),
        max_leaves=20,
    ),
    max_size=6,
)


@given(bodies)
def test_the_body_hash_is_json_dumps_hash_for_any_body(payload: dict[str, Any]) -> None:
    assert outcome(payload) == reference(payload)


def test_a_plain_body_takes_orjson_and_keeps_the_hash_of_json_dumps() -> None:
    # Written out: sorted keys ("amount" < "items" < "psn_no" < "名"), no spaces, Chinese as is,
    # the NUL escaped as json escapes it; sent_at is not part of the request's identity.
    body = {"psn_no": "P1", "items": [{"pric": "1.50", "cnt": 2}], "amount": 300, "名": "张\x00", "sent_at": "x"}
    text = '{"amount":300,"items":[{"cnt":2,"pric":"1.50"}],"psn_no":"P1","名":"张\\u0000"}'
    assert plain_sorted_json({k: v for k, v in body.items() if k != "sent_at"}) == text
    assert body_hash(body) == hashlib.sha256(text.encode()).hexdigest()


def test_what_orjson_would_write_otherwise_is_left_to_json_dumps() -> None:
    # A float (json writes 1e+16, orjson 1e16), an int past BIGINT, a MappingProxyType (json.dumps
    # writes its str()), a lone surrogate (orjson refuses it): none is plain, each keeps json.dumps.
    for odd in (1e16, 2**64, MappingProxyType({"a": 1}), "\ud800", Code.CLINIC, (1,)):
        assert plain_sorted_json({"v": odd}) is None
    assert outcome({"v": 1e16}) == reference({"v": 1e16})
    assert outcome({"v": MappingProxyType({"a": 1})}) == reference({"v": MappingProxyType({"a": 1})})
