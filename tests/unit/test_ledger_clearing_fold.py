"""The clearing fold: a reversal takes back exactly what its settlement added, in the month
the reversal is recorded (China time), for the institution and for each fund."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ledger.period_totals import ClearingFold, period_of
from ledger.store import RecordedEvent

from contracts.codes import FundPayType
from engine.events import ClaimSettled, Event, SettlementReversed
from engine.policy_book import PolicyStamp
from engine.records import to_record
from engine.settlement_facts import FundPayment, SettlementAmounts
from engine.totals import Totals
from engine.visit import Visit

POLICY = PolicyStamp("ningxia-resident-2025", 1, "0" * 64)


def recorded(event: Event, at: datetime, position: int) -> RecordedEvent:
    event_type, data = to_record(event)
    return RecordedEvent("P1/2025", position, position, uuid.uuid4(), event_type, data, at, at, "", "")


def amounts(medfee: int, fund: int, cash: int) -> SettlementAmounts:
    return SettlementAmounts(
        medfee_sumamt=medfee,
        fulamt_ownpay_amt=0,
        overlmt_selfpay=0,
        preselfpay_amt=0,
        inscp_scp_amt=medfee,
        act_pay_dedc=0,
        hifp_pay=fund,
        pool_prop_selfpay=Decimal("0.75"),
        cvlserv_pay=0,
        hifes_pay=0,
        hifmi_pay=0,
        hifob_pay=0,
        maf_pay=0,
        oth_pay=0,
        fund_pay_sumamt=fund,
        psn_part_amt=medfee - fund,
        acct_pay=0,
        acct_mulaid_pay=0,
        psn_cash_pay=cash,
        balc=0,
    )


def visit(mdtrt_id: str, code: str) -> Visit:
    day = date(2025, 3, 1)
    return Visit(
        psn_no="P1",
        insutype="390",
        mdtrt_id=mdtrt_id,
        fixmedins_code=code,
        med_type="21",
        begndate=day,
        enddate=day,
        diagnoses=(),
        procedures=(),
        dise_codg=None,
        extn_rx_flag=False,
        drg_code=None,
        dip_code=None,
        resp_physician=None,
        acct_used_flag=False,
        acct_payer_psn_no=None,
        acct_payer_relation=None,
        items=(),
    )


def settled(setl_id: str, code: str, at: datetime, position: int, fund: int = 100_000) -> RecordedEvent:
    """A settlement of 1,500.00 of which the resident fund paid ``fund`` fen and cash 500.00."""
    facts = ClaimSettled(
        setl_id=setl_id,
        request_key=f"{code}:{setl_id}",
        request_id=setl_id,
        year=2025,
        visit=visit(f"V-{setl_id}", code),
        policy=POLICY,
        amounts=amounts(150_000, fund, 50_000),
        funds=(FundPayment(FundPayType.RESIDENT_POOLED, 150_000, 13_000_000, fund, ""),),
        items=(),
        case=None,
        trail=(),
        payer_psn_no=None,
        delta=Totals(),
    )
    return recorded(facts, at, position)


def reversal(setl_id: str, reversed_setl_id: str, at: datetime, position: int) -> RecordedEvent:
    facts = SettlementReversed(
        setl_id=setl_id,
        reversed_setl_id=reversed_setl_id,
        request_key=f"H1:{setl_id}",
        request_id=setl_id,
        psn_no="P1",
        year=2025,
        fixmedins_code="H1",
        policy=POLICY,
        amounts=amounts(150_000, 100_000, 50_000).negated(balc=0),
        funds=((FundPayType.RESIDENT_POOLED, -100_000),),
        delta=Totals(),
    )
    return recorded(facts, at, position)


def test_the_month_is_taken_in_china_time() -> None:
    late_on_may_31_utc = datetime(2025, 5, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 June in Beijing
    assert period_of(settled("S1", "H1", late_on_may_31_utc, 1)) == "2025-06"


def test_a_reversal_in_a_later_month_nets_out_the_institution_and_the_fund() -> None:
    fold = ClearingFold()
    fold.apply(settled("S1", "H1", datetime(2025, 3, 10, 2, tzinfo=UTC), 1), {})
    fold.apply(settled("S2", "H1", datetime(2025, 3, 11, 2, tzinfo=UTC), 2, fund=20_000), {})
    fold.apply(reversal("R1", "S1", datetime(2025, 4, 2, 2, tzinfo=UTC), 3), {})

    march, april = fold.institution[("H1", "2025-03")], fold.institution[("H1", "2025-04")]
    assert (march["settlements"], march["fund_pay_sumamt"]) == (2, 120_000)
    assert (april["reversals"], april["fund_pay_sumamt"], april["medfee_sumamt"]) == (1, -100_000, -150_000)
    assert fold.fund[("390100", "ningxia-resident-2025", "2025-03")] == 120_000
    assert fold.fund[("390100", "ningxia-resident-2025", "2025-04")] == -100_000
    assert fold.reversed == {"S1": "2025-04"}


def test_a_reversal_of_a_settlement_clearing_never_saw_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(LookupError, match="S404"):
        ClearingFold().apply(reversal("R1", "S404", datetime(2025, 4, 2, tzinfo=UTC), 1), {})
