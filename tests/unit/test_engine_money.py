"""Exact money (docs/money.md): yuan text on the wire, integer fen inside, one rounding rule
(half up, i.e. half away from zero, at .5 fen)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from engine_builders import Book, claim, enrolment, item, resident_policy
from pydantic import ValidationError

from contracts.claims import Claim
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.money import format_yuan, parse_yuan
from contracts.results import SetlInfo
from contracts.wire import UndecodableMessage, decode_json, encode_json
from engine.money import half_up, times, times_quantity

# --------------------------------------------------------------------------- parse_yuan


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("0.10", 10),
        ("0.1", 10),
        ("12.30", 1230),
        ("12.3", 1230),
        ("12", 1200),
        (" 12.30 ", 1230),  # surrounding blanks are not part of the number
        ("-0.05", -5),
        ("0", 0),
        ("0.00", 0),
        (Decimal("0.1"), 10),
        (Decimal("0.10"), 10),
        (Decimal("128.5"), 12850),
        (Decimal("1E+2"), 10000),  # a JSON number 1e2 arrives as this Decimal: exactly 100 yuan
        (12, 1200),  # a Python int is whole yuan
        (0, 0),
        ("9999999999999.99", 999999999999999),  # the largest amount the text form allows
        (Decimal("9999999999999.99"), 999999999999999),
    ],
)
def test_parse_yuan_is_exact(value: object, fen: int) -> None:
    assert parse_yuan(value) == fen


@pytest.mark.parametrize(
    "value",
    [
        "1.005",  # a third decimal is not an amount of yuan
        "0.001",
        Decimal("1.005"),
        "10000000000000",  # 14 digits of whole yuan
        Decimal("10000000000000"),
        "1e3",  # exponent notation in text
        "12,30",
        "",
        "abc",
        "+1",
        Decimal("NaN"),
        Decimal("Infinity"),
        None,
        [1],
    ],
)
def test_parse_yuan_refuses_what_is_not_yuan_with_at_most_two_decimals(value: object) -> None:
    with pytest.raises(ValueError):
        parse_yuan(value)


@pytest.mark.parametrize("value", [0.1, 12.0, 1e2, float("nan")])
def test_parse_yuan_refuses_binary_floats_even_round_ones(value: float) -> None:
    with pytest.raises(ValueError, match="float"):
        parse_yuan(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_yuan_refuses_booleans(value: bool) -> None:
    with pytest.raises(ValueError, match="boolean"):
        parse_yuan(value)


def test_parse_yuan_limits_integers_like_text() -> None:
    with pytest.raises(ValueError):
        parse_yuan(10**14)


# --------------------------------------------------------------------------- format_yuan


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (1230, "12.30"),
        (-5, "-0.05"),
        (-1230, "-12.30"),
        (2125500, "21255.00"),
        (999999999999999, "9999999999999.99"),
    ],
)
def test_format_yuan_writes_exactly_two_decimals(fen: int, text: str) -> None:
    assert format_yuan(fen) == text
    assert parse_yuan(text) == fen  # and reads back to the same fen


# --------------------------------------------------------------------------- the rounding rule


@pytest.mark.parametrize(
    ("exact", "fen"),
    [
        ("0.5", 1),  # half → up
        ("1.5", 2),
        ("2.5", 3),  # not banker's rounding (which would give 2)
        ("0.4999999", 0),
        ("0.5000001", 1),
        ("-0.5", -1),  # half away from zero
        ("-2.5", -3),
        ("-0.4", 0),
        ("7", 7),
    ],
)
def test_half_up_rounds_half_a_fen_away_from_zero(exact: str, fen: int) -> None:
    assert half_up(Decimal(exact)) == fen


def test_times_rounds_a_product_once_half_up() -> None:
    assert times(3, Decimal("0.5")) == 2  # 1.5 fen → 2
    assert times(5, Decimal("0.5")) == 3  # 2.5 fen → 3
    assert times(408500, Decimal("0.90")) == 367650  # 4,085.00 × 0.9 = 3,676.50
    assert times(494, Decimal("0.65")) == 321  # 321.1 fen → 321
    assert times(495, Decimal("0.65")) == 322  # 321.75 fen → 322


def test_times_quantity_rounds_price_times_fractional_quantity_half_up() -> None:
    assert times_quantity(1001, Decimal("0.5")) == 501  # 500.5 fen → 501
    assert times_quantity(333, Decimal("0.3333")) == 111  # 110.9889 → 111
    assert times_quantity(1000, Decimal("3")) == 3000


# --------------------------------------------------------------------------- the wire


CLAIM_JSON = """{
  "msg_type": "claim", "schema_version": "claims.v2", "request_id": "R-1", "sent_at": "2025-03-01 09:00:00",
  "psn_no": "R1", "insutype": "390", "mdtrt_id": "V1", "fixmedins_code": "H001",
  "med_type": "11", "begntime": "2025-03-01", "endtime": "2025-03-01",
  "feedetail": [
    {"feedetl_sn": "1", "med_list_codg": "A", "pric": 0.1, "cnt": 3,
     "det_item_fee_sumamt": 0.3},
    {"feedetl_sn": "2", "med_list_codg": "B", "chrgitm_lv": "02", "selfpay_prop": 0.1, "pric": "0.20", "cnt": 1,
     "det_item_fee_sumamt": "0.20"}
  ]
}"""


def test_decode_json_keeps_0_1_exact_through_claim_validation() -> None:
    data = decode_json(CLAIM_JSON.encode())
    assert data["feedetail"][0]["pric"] == Decimal("0.1")  # never a binary float
    claim_in = Claim.model_validate(data)
    assert claim_in.feedetail[0].pric == Decimal("0.1")  # a unit price: exact yuan, up to 6 decimals
    assert claim_in.feedetail[0].det_item_fee_sumamt == 30  # 0.1 × 3 = 0.3 exactly, not 0.30000000000000004
    assert claim_in.feedetail[1].selfpay_prop == Decimal("0.1")


def test_the_same_json_through_a_float_parser_is_refused_not_silently_rounded() -> None:
    with pytest.raises(ValidationError, match="float"):
        Claim.model_validate(json.loads(CLAIM_JSON))


def test_parse_inbound_reads_amounts_exactly_and_names_the_field_of_a_third_decimal() -> None:
    message = parse_inbound(CLAIM_JSON)
    assert isinstance(message, Claim) and message.feedetail[0].det_item_fee_sumamt == 30
    bad = CLAIM_JSON.replace('"det_item_fee_sumamt": "0.20"', '"det_item_fee_sumamt": "0.205"')
    with pytest.raises(InvalidMessage) as refused:
        parse_inbound(bad)
    assert refused.value.field == "feedetail.1.det_item_fee_sumamt"
    seven = CLAIM_JSON.replace('"pric": "0.20"', '"pric": "0.2000001"')  # a unit price keeps up to 6 decimals
    with pytest.raises(InvalidMessage, match="more than 6 decimals") as refused:
        parse_inbound(seven)
    assert refused.value.field == "feedetail.1.pric"


@pytest.mark.parametrize("raw", [b"\xff", b"[1, 2]", b"{", b'{"a": NaN}'])
def test_decode_json_refuses_what_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(UndecodableMessage):
        decode_json(raw)


def test_a_settlement_goes_out_as_yuan_strings_and_its_parts_add_up() -> None:
    book = Book(resident_policy())
    book.enrol(enrolment("R1"))
    c = claim("R1", [item("1", "0.10", cnt=3)], mdtrt_id="V1", med_type="11", kind="primary_care")
    result = book.settle(c).result
    wire = json.loads(encode_json(result))
    # primary care general outpatient: 0.30 × 0.60 = 0.18, no deductible
    assert wire["setlinfo"]["medfee_sumamt"] == "0.30"
    assert wire["setlinfo"]["hifp_pay"] == "0.18"
    assert wire["setlinfo"]["psn_cash_pay"] == "0.12"
    assert wire["setlinfo"]["pool_prop_selfpay"] == "0.60"
    # and reads back to the same fen
    assert SetlInfo.model_validate(wire["setlinfo"]) == result.setlinfo


def test_setlinfo_refuses_parts_that_do_not_add_up() -> None:
    parts = dict(
        medfee_sumamt=1000,
        fulamt_ownpay_amt=0,
        overlmt_selfpay=0,
        preselfpay_amt=0,
        inscp_scp_amt=1000,
        act_pay_dedc=0,
        hifp_pay=600,
        pool_prop_selfpay=Decimal("0.6"),
        hifmi_pay=0,
        hifob_pay=0,
        maf_pay=0,
        fund_pay_sumamt=600,
        psn_part_amt=400,
        acct_pay=0,
        acct_mulaid_pay=0,
        psn_cash_pay=400,
        balc=0,
    )
    SetlInfo(**parts)
    with pytest.raises(ValidationError):
        SetlInfo(**{**parts, "psn_cash_pay": 399})
    with pytest.raises(ValidationError):
        SetlInfo(**{**parts, "inscp_scp_amt": 999})
