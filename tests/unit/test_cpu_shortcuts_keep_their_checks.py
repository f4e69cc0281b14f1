"""The CPU shortcuts of issue 14's third stop keep every check of the code they replaced:
decode_json skips its nesting walk only where a text cannot nest too deep, and a settlement or
reversal answer built from plain fields is still refused when its parts do not add up, and
still strips what it echoes (the review of 06eeae3 and e466b65)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from engine_builders import Book, claim, enrolment, item, resident_policy
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from settlement.service_layer.render import reversal_answer, settlement_answer

from contracts.wire import MAX_DEPTH, UndecodableMessage, decode_json, nesting_depth

# --------------------------------------------------------------------------- decode_json

# Strings full of what a bracket count and the nesting walk could confuse: brackets, quotes,
# backslashes, and brackets written as escapes (which are text, never structure).
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\,:a\u2028\ufeff'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@given(json_values)
def test_no_json_text_nests_deeper_than_its_count_of_opening_brackets(value: Any) -> None:
    # The premise of decode_json's shortcut: brackets inside strings only add to the count.
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, indent=1)):
        assert depth_of(value) == nesting_depth(text) <= text.count("{") + text.count("[")


@given(st.dictionaries(tricky_text, json_values, max_size=3))
def test_a_shallow_text_decodes_as_the_standard_parser_reads_it(value: dict[str, Any]) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert decode_json(text) == json.loads(text)
    assert decode_json(text.encode("utf-8")) == json.loads(text)


def nested_object(levels: int, inner: str = "1") -> str:
    """{"a":{"a":…inner…}} with ``levels`` objects."""
    return '{"a":' * (levels - 1) + '{"a":' + inner + "}" * levels


def test_a_text_over_the_bracket_count_is_still_walked_and_refused_past_max_depth() -> None:
    # 65 levels: more brackets than MAX_DEPTH, so the walk runs and refuses it.
    with pytest.raises(UndecodableMessage, match=f"nest deeper than {MAX_DEPTH} levels"):
        decode_json(nested_object(MAX_DEPTH + 1))
    # 64 levels is allowed, whether the walk runs (extra brackets in a string) or not.
    assert depth_of(decode_json(nested_object(MAX_DEPTH))) == MAX_DEPTH
    assert depth_of(decode_json(nested_object(MAX_DEPTH, '"[[[[{{{{"'))) == MAX_DEPTH


def test_brackets_written_as_escapes_are_text_and_do_not_nest() -> None:
    text = '{"a":"' + "\\u005b\\u007b" * 100 + '"}'  # 200 escaped brackets: no structure at all
    assert decode_json(text) == {"a": "[{" * 100}


def test_a_byte_order_mark_is_refused_with_the_standard_parsers_words_bytes_or_text() -> None:
    for raw in ("\ufeff{}", b"\xef\xbb\xbf{}"):
        with pytest.raises(UndecodableMessage, match="Unexpected UTF-8 BOM"):
            decode_json(raw)


# --------------------------------------------------------------------------- render

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
EVENT = uuid.UUID(int=1)


def a_settlement() -> tuple[Book, Any]:
    book = Book(resident_policy())
    book.enrol(enrolment("R1"))
    # primary care general outpatient: 0.30 medfee, fund 0.30 × 0.60 = 0.18, cash 0.12
    c = claim("R1", [item("1", "0.10", cnt=3)], mdtrt_id="V1", med_type="11", kind="primary_care")
    return book, book.settle(c)


def test_a_settlement_answer_from_plain_fields_is_refused_when_its_parts_do_not_add_up() -> None:
    _, settled = a_settlement()
    facts = settled.facts
    # 0.12 cash + 0.01: psn_part_amt (0.12) ≠ acct_pay (0) + psn_cash_pay (0.13)
    wrong = dataclasses.replace(facts, amounts=dataclasses.replace(facts.amounts, psn_cash_pay=13))
    settlement_answer(facts, event_id=EVENT, occurred_at=AT, setl_mode="settle")
    with pytest.raises(ValidationError, match="psn_part_amt ≠ acct_pay \\+ psn_cash_pay"):
        settlement_answer(wrong, event_id=EVENT, occurred_at=AT, setl_mode="settle")


def test_a_reversal_answer_is_refused_when_its_parts_do_not_add_up() -> None:
    book, settled = a_settlement()
    reversed_ = book.reverse("R1", settled.facts.setl_id)
    facts = reversed_.facts
    # the negated 0.30 medfee against −0.29 of parts: −0.30 ≠ −0.29
    wrong = dataclasses.replace(facts, amounts=dataclasses.replace(facts.amounts, medfee_sumamt=-29))
    reversal_answer(facts, event_id=EVENT, occurred_at=AT)
    with pytest.raises(ValidationError, match="medfee_sumamt ≠"):
        reversal_answer(wrong, event_id=EVENT, occurred_at=AT)


def test_a_settlement_answer_from_plain_fields_strips_what_it_echoes() -> None:
    _, settled = a_settlement()
    facts = settled.facts
    line = dataclasses.replace(facts.items[0], feedetl_sn=" 1 ", refund_sns=(" R1 ",))
    padded = dataclasses.replace(facts, visit=dataclasses.replace(facts.visit, mdtrt_id=" V1\t"), items=(line,))
    answer = settlement_answer(padded, event_id=EVENT, occurred_at=AT, setl_mode="settle")
    assert (answer.mdtrt_id, answer.items[0].feedetl_sn, answer.items[0].refund_sns) == ("V1", "1", ("R1",))
