"""The gateway's wire edge: national fields read as hospital systems send them, answers written
with the JSON types their readers parse (docs/national-interface.md §5, §10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from settlement.gateway.answers import answer, encode, quantity, ratio, yuan
from settlement.gateway.envelope import decode_body, read_envelope
from settlement.gateway.fields import NationalRefusal, fen, flag, moment, number, text


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (Decimal("20.40"), 2040),  # a JSON number with its trailing zero (hsa-his)
        ("23.80", 2380),  # binzhe's page sends pric as a string
        ("505.00", 50500),  # hsa-his's 3201 formats medfee_sumamt as a string
        (1, 100),  # binzhe's cnt-like integers
        (Decimal("-62.50"), -6250),  # a refund line
        (Decimal("0.0"), 0),  # hsa-his's 2303 amounts printed by a Java double
    ],
)
def test_amounts_are_read_exactly_from_numbers_and_numeric_strings(sent: object, expected: int) -> None:
    assert fen({"amount": sent}, "amount") == expected


def test_empty_and_null_amounts_are_not_given_and_refused_only_where_required() -> None:
    assert fen({"a": ""}, "a", required=False) is None  # hsa-his's 2207 sends the four amounts as ""
    assert fen({"a": None}, "a", required=False) is None
    with pytest.raises(NationalRefusal, match="medfee_sumamt is required"):
        fen({"medfee_sumamt": ""}, "medfee_sumamt")


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ("23.805", "more than 2 decimal places"),
        ("1e400", "finite number below"),
        ("NaN", "finite number below"),
        (10**30, "finite number below"),
        ([1], "must be a number, not an array"),
        (True, "must be a number, not true/false"),
        ("twelve", "must be a number"),
    ],
)
def test_amounts_that_are_not_money_are_refused_with_a_sentence(sent: object, why: str) -> None:
    with pytest.raises(NationalRefusal, match=why):
        fen({"amount": sent}, "amount")


def test_counts_keep_four_places_and_unit_prices_six() -> None:
    assert number({"cnt": Decimal("24.0000")}, "cnt", places=4) == Decimal("24.0000")
    assert number({"pric": Decimal("0.123456")}, "pric", places=6) == Decimal("0.123456")
    with pytest.raises(NationalRefusal, match="more than 4 decimal places"):
        number({"cnt": Decimal("1.00001")}, "cnt", places=4)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2025-03-14 09:30:05", datetime(2025, 3, 14, 9, 30, 5)),
        ("2025-03-14T09:30:12", datetime(2025, 3, 14, 9, 30, 12)),  # binzhe's Newtonsoft path
        ("2025-03-14", datetime(2025, 3, 14)),  # binzhe's production path drops the time
        ("1962-03-08 00:00:00", datetime(1962, 3, 8)),  # hsa-his's brdy in 2401
    ],
)
def test_national_times_are_read_with_or_without_a_time(sent: str, expected: datetime) -> None:
    assert moment({"t": sent}, "t") == expected


def test_text_takes_an_integer_as_its_digits_and_refuses_control_characters() -> None:
    assert text({"feedetl_sn": 1503912400000000011}, "feedetl_sn") == "1503912400000000011"  # Hunan integers
    with pytest.raises(NationalRefusal, match="without control characters"):
        text({"psn_no": "4300\x00001"}, "psn_no")


def test_flags_are_the_strings_0_and_1_or_their_look_alikes() -> None:
    assert flag({"f": "1"}, "f") and not flag({"f": 0}, "f") and not flag({}, "f")
    with pytest.raises(NationalRefusal):
        flag({"f": "2"}, "f")


def test_input_as_a_json_string_and_the_thin_envelope_read_like_the_national_one() -> None:
    body = decode_body(b'{"infno":"2207","msgid":"M1","medins_code":"H1","input":"{\\"data\\":{\\"a\\":1}}"}')
    envelope = read_envelope(body, None)
    assert (envelope.fixmedins_code, envelope.data()) == ("H1", {"a": 1})
    flat = read_envelope({"infno": "2304", "msgid": "M2", "fixmedins_code": "H1", "input": {"a": 2}}, None)
    assert flat.data() == {"a": 2}  # hsa-his's flat 2303/2304/2305


def test_a_body_nested_beyond_the_parser_is_refused_not_raised() -> None:
    deep = b'{"infno":"2207","input":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(NationalRefusal, match=r"nest|not a JSON object"):
        decode_body(deep)


def test_answers_write_infcode_as_strings_amounts_as_exact_numbers_and_no_float() -> None:
    at = datetime(2025, 3, 14, 1, 41, 12, 345000, tzinfo=UTC)
    output = {
        "setlinfo": {"medfee_sumamt": yuan(2380), "refund": yuan(-6250), "pool_prop_selfpay": ratio(Decimal("0.5"))}
    }
    ok = encode(answer(region="440300", msgid="M1", received_at=at, answered_at=at, output=output))
    assert '"infcode":"0"' in ok
    assert '"medfee_sumamt":23.80,"refund":-62.50,"pool_prop_selfpay":0.5000' in ok
    assert '"refmsg_time":"20250314094112345"' in ok  # China time, 17 characters
    assert json.loads(ok)["inf_refmsgid"].startswith("44030020250314094112")
    failed = json.loads(encode(answer(region="", msgid="", received_at=at, answered_at=at, output={}, err_msg="x")))
    assert (failed["infcode"], failed["err_msg"]) == ("-1", "x")
    with pytest.raises(TypeError):
        encode({"amount": 23.8})
    assert quantity(Decimal("24"), 4).text == "24.0000" and quantity(Decimal("0.123456"), 4).text == "0.123456"


def test_a_line_whose_amount_is_not_price_times_count_is_refused_naming_the_amount_in_yuan() -> None:
    # 12.34 yuan × 3 = 37.02 yuan = 3702 fen; the line says 3701 fen, shown as exact yuan text.
    from settlement.gateway.lines import _amount_checked

    with pytest.raises(NationalRefusal, match=r"line 1: det_item_fee_sumamt 37\.01 is not pric × cnt \(12\.34 × 3\)"):
        _amount_checked("1", Decimal("12.34"), Decimal("3"), 3701)
