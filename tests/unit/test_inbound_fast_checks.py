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


def _reconciliation(sent_at: str) -> bytes:
    total = {"insutype": "390", "clr_type": "21", "setl_optins": "640000", "stmt_begndate": "2025-02-01",
             "stmt_enddate": "2025-02-01", "medfee_sumamt": "0.00", "fund_pay_sumamt": "0.00", "acct_pay": "0.00",
             "fixmedins_setl_cnt": 0}  # fmt: skip
    message = {"msg_type": "reconciliation", "schema_version": "claims.v2", "request_id": "REC-1",
               "sent_at": sent_at, "fixmedins_code": "H64010100001", "totals": [total], "details": []}  # fmt: skip
    return json.dumps(message).encode()


@pytest.mark.parametrize("sent_at", ["9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00+14:00"])
def test_a_reconciliation_sent_at_outside_1900_2100_is_refused(sent_at: str) -> None:
    """pydantic's AwareDatetime is not a date subclass; the shortcut once skipped it (hostile review)."""
    assert parse_inbound(_reconciliation("2025-02-01T09:00:00+08:00")).msg_type == "reconciliation"
    with pytest.raises(InvalidMessage) as refused:
        parse_inbound(_reconciliation(sent_at))
    assert refused.value.code is RejectionCode.INVALID_MESSAGE and refused.value.field == "sent_at"


def _refs(node: object, into: dict[str, object]) -> dict[str, object]:
    """Every schema of a pydantic core schema that others point at, by its ``ref``."""
    if isinstance(node, dict):
        if isinstance(node.get("ref"), str):
            into[node["ref"]] = node
        for value in node.values():
            _refs(value, into)
    elif isinstance(node, list):
        for value in node:
            _refs(value, into)
    return into


def _holds_a_day(node: object, refs: dict[str, object], seen: frozenset[str] = frozenset()) -> bool:
    """Whether a pydantic core schema node validates into a date or a datetime anywhere in it."""
    if isinstance(node, dict):
        if node.get("type") in ("date", "datetime"):
            return True
        ref = node.get("schema_ref") if node.get("type") == "definition-ref" else None
        if isinstance(ref, str):
            return ref not in seen and _holds_a_day(refs[ref], refs, seen | {ref})
        return any(_holds_a_day(value, refs, seen) for value in node.values())
    if isinstance(node, list):
        return any(_holds_a_day(value, refs, seen) for value in node)
    return False


def _fields(node: object) -> dict[str, object]:
    if isinstance(node, dict):
        if node.get("type") == "model-fields":
            return dict(node["fields"])
        for value in node.values():
            if found := _fields(value):
                return found
    return {}


@pytest.mark.parametrize("model", ["Claim", "Reversal", "Reconciliation", "Enrolment", "AccountCredit", "Contribution"])
def test_every_field_that_validates_into_a_date_is_looked_at_by_the_range_check(model: str) -> None:
    """The range check walks only _dated_fields: every field whose validator (pydantic's core
    schema, nested models included) yields a date or datetime must be among them."""
    from contracts import inbound

    cls = getattr(inbound, model)
    core = cls.__pydantic_core_schema__
    refs = _refs(core, {})
    must = {name for name, field in _fields(core).items() if _holds_a_day(field, refs)}
    assert "sent_at" in must and must <= set(inbound._dated_fields(cls)), sorted(must - set(inbound._dated_fields(cls)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mdtrtarea_admvs", "٤٣٠١٠٠"),  # Arabic-Indic digits: Python's and Rust's \d take them
        ("mdtrtarea_admvs", "４３０１００"),  # fullwidth digits
        ("pric", "٨٥"),  # a price the published pattern refuses but Decimal() reads as 85
        ("det_item_fee_sumamt", "٢٥.٠٠"),  # an amount in yuan (contracts.money)
    ],
)
def test_digits_other_than_ascii_are_refused_where_the_contract_wants_digits(field: str, value: str) -> None:
    """The JSON Schemas say [0-9] (ECMA \\d is ASCII); the service must agree, never read ٨٥ as 85."""
    claim = a_claim()
    if field in ("pric", "det_item_fee_sumamt"):
        line = dict(claim["feedetail"][0])  # type: ignore[index]
        claim["feedetail"] = [line | {field: value}]
    else:
        claim[field] = value
    with pytest.raises(InvalidMessage) as refused:
        parse_inbound(json.dumps(claim, ensure_ascii=False).encode())
    assert refused.value.code is RejectionCode.INVALID_MESSAGE
