"""Hostile review of 0479e81 (the review fixes): each test failed before its fix (a gateway-settled
year, whose ids are digit strings, was read by json.loads) or guards what 0479e81 fixed."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from ledger.adapters import postgres_sql
from settlement.gateway.ids import LedgerIds

# A person-year settled over the national gateway: LedgerIds makes its visit ids of region (6) +
# yymmdd (6) + 8 digits = 20 digits, and its settlement ids two more, all digits.
_VISIT = LedgerIds().visit_id("640100", date(2025, 3, 9), "H64010100001:msg-1", 0)
_SETTLEMENT = LedgerIds().settlement_id(_VISIT, 1, "H64010100001:msg-1")


def _gateway_year() -> str:
    data = {
        "schema_version": 4,
        "psn_no": "P001",
        "year": 2025,
        "version": 2,
        "settlements": {_SETTLEMENT: {"fixmedins_code": "H64010100001", "reversed_by": None}},
        "visits": {_VISIT: _SETTLEMENT},
        "totals": {"medfee_sumamt": 123456},
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_a_gateway_settled_year_is_read_by_orjson_its_ids_being_strings_not_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(_VISIT) == 20 and _VISIT.isdigit()  # the premise: the id is a 20-digit string
    text = _gateway_year()

    def slow(_: str) -> Any:
        raise AssertionError("json.loads was asked to read a text that holds no number past 64 bits")

    monkeypatch.setattr(postgres_sql, "json", SimpleNamespace(loads=slow))
    assert postgres_sql.projection(text)["visits"] == {_VISIT: _SETTLEMENT}


def test_a_number_past_64_bits_is_still_read_exactly() -> None:
    """The fix proposed for the test above must keep what 0479e81 fixed: 2**64 + 1 is
    18446744073709551617 (20 digits), which orjson would read as a float."""
    assert postgres_sql.projection('{"a":18446744073709551617}') == {"a": 18446744073709551617}
    assert postgres_sql.projection('{"a":[1,-18446744073709551617]}') == {"a": [1, -18446744073709551617]}
