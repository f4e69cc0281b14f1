"""The clearing fold: a reversal takes back exactly what its settlement added, in the month
the reversal is recorded (China time), for the institution and for each fund."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from ledger.projections import ClearingFold, period_of
from ledger.store import RecordedEvent


def recorded(event_type: str, data: dict, at: datetime, position: int) -> RecordedEvent:
    return RecordedEvent("P1/2025", position, position, uuid.uuid4(), event_type, data, at, at, "", "")


def settled(setl_id: str, code: str, at: datetime, position: int, fund: str = "1000.00") -> RecordedEvent:
    result = {
        "setlinfo": {"medfee_sumamt": "1500.00", "fund_pay_sumamt": fund, "acct_pay": "0.00", "psn_cash_pay": "500.00"},
        "setldetail": [{"fund_pay_type": "390100", "fund_payamt": fund}],
        "policy": {"policy_id": "ningxia-resident-2025"},
    }
    return recorded("ClaimSettled", {"setl_id": setl_id, "fixmedins_code": code, "result": result}, at, position)


def test_the_month_is_taken_in_china_time() -> None:
    late_on_may_31_utc = datetime(2025, 5, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 June in Beijing
    assert period_of(settled("S1", "H1", late_on_may_31_utc, 1)) == "2025-06"


def test_a_reversal_in_a_later_month_nets_out_the_institution_and_the_fund() -> None:
    fold = ClearingFold()
    fold.apply(settled("S1", "H1", datetime(2025, 3, 10, 2, tzinfo=UTC), 1), {})
    fold.apply(settled("S2", "H1", datetime(2025, 3, 11, 2, tzinfo=UTC), 2, fund="200.00"), {})
    reversal = {"reversed_setl_id": "S1", "fixmedins_code": "H1"}
    fold.apply(recorded("SettlementReversed", reversal, datetime(2025, 4, 2, 2, tzinfo=UTC), 3), {})

    march, april = fold.institution[("H1", "2025-03")], fold.institution[("H1", "2025-04")]
    assert (march["settlements"], march["fund_pay_sumamt"]) == (2, 120_000)
    assert (april["reversals"], april["fund_pay_sumamt"], april["medfee_sumamt"]) == (1, -100_000, -150_000)
    assert fold.fund[("390100", "ningxia-resident-2025", "2025-03")] == 120_000
    assert fold.fund[("390100", "ningxia-resident-2025", "2025-04")] == -100_000
    assert fold.reversed == {"S1": "2025-04"}


def test_a_reversal_of_a_settlement_clearing_never_saw_is_an_error_not_a_silent_skip() -> None:
    reversal = {"reversed_setl_id": "S404", "fixmedins_code": "H1"}
    with pytest.raises(LookupError, match="S404"):
        ClearingFold().apply(recorded("SettlementReversed", reversal, datetime(2025, 4, 2, tzinfo=UTC), 1), {})
