"""parse_inbound looks for control characters and lone surrogates only where the text can hold
them (issue 14): these messages carry one exactly where that shortcut must still see it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.codes import RejectionCode
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.wire import UndecodableMessage, decode_json

DAY = Path(__file__).resolve().parents[1] / "fixtures" / "engine-golden" / "day-300.jsonl"


def a_claim() -> dict[str, object]:
    line = next(ln for ln in DAY.read_text("utf-8").splitlines() if '"msg_type": "claim"' in ln)
    claim: dict[str, object] = json.loads(line)
    return claim


def test_a_claim_of_the_golden_day_parses() -> None:
    assert parse_inbound(json.dumps(a_claim(), ensure_ascii=False).encode()).msg_type == "claim"


@pytest.mark.parametrize("char", ["\x85", "\x7f", "\x9f"])
def test_a_raw_c1_control_character_written_unescaped_is_refused(char: str) -> None:
    # Strict JSON refuses raw C0 controls in strings but lets DEL and C1 through unescaped.
    claim = a_claim() | {"fixmedins_name": f"医院{char}"}
    raw = json.dumps(claim, ensure_ascii=False).encode()
    assert b"\\u" not in raw and b"\\" not in raw
    with pytest.raises(InvalidMessage) as refused:
        parse_inbound(raw)
    assert refused.value.code is RejectionCode.INVALID_MESSAGE and refused.value.field == "fixmedins_name"


@pytest.mark.parametrize("escape", ["\\b", "\\f", "\\u0001"])
def test_an_escaped_control_character_is_refused(escape: str) -> None:
    raw = json.dumps(a_claim() | {"fixmedins_name": "医院"}, ensure_ascii=False).replace("医院", "医" + escape)
    with pytest.raises(InvalidMessage) as refused:
        parse_inbound(raw.encode())
    assert refused.value.field == "fixmedins_name"


def test_a_lone_surrogate_in_a_text_given_as_str_is_refused_without_an_escape() -> None:
    with pytest.raises(UndecodableMessage, match="lone surrogate"):
        decode_json('{"psn_no": "P\ud800"}')


def test_a_lone_surrogate_written_as_an_escape_is_refused() -> None:
    with pytest.raises(UndecodableMessage, match="lone surrogate"):
        decode_json(b'{"psn_no": "P\\udc00"}')
