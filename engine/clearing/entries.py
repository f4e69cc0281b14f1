"""What clearing counts: one entry per settlement and one per reversal, in log order.

A reversal is the entry of the settlement it cancels with the sign turned, counted where the
reversal is recorded (the month of its own event), never by editing the month of the original:
a closed period is never rewritten (issue 13 §3). ``position`` is the event's global log
position: a close records the position it counted up to, so every entry falls in exactly one
period (engine.clearing.periods).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from contracts.codes import FundPayType
from engine.clearing.valuation import CaseFacts
from engine.events import ClaimSettled

CHINA = timezone(timedelta(hours=8))
ClrType = Literal["11", "21", "41", "99"]  # 清算类别: 门诊, 住院, 药店购药, 其他 (3201)


def clr_type_of(med_type: str) -> ClrType:
    """清算类别 of a national med_type: 2x stays (住院), 4x pharmacy purchases (药店购药), 1x
    outpatient (门诊); anything else (a region's own codes) 99 其他."""
    first = str(med_type)[:1]
    return {"1": "11", "2": "21", "4": "41"}.get(first, "99")  # type: ignore[return-value]


@dataclass(frozen=True)
class Entry:
    setl_id: str  # the settlement (for a reversal: the settlement it reverses)
    entry_id: str  # this event's own setl_id (a reversal has an id of its own)
    sign: Literal[1, -1]
    position: int
    day: date  # China date of the event: the settlement (or reversal) day
    year: int  # the settlement's coverage year: the institution-year it is cleared in
    fixmedins_code: str
    psn_no: str
    mdtrt_id: str
    insutype: str  # national insutype code (310, 390, …)
    clr_type: ClrType
    medfee: int  # signed, as every amount of an entry
    fund_pay_sumamt: int
    acct_pay: int
    funds: Mapping[FundPayType, int]  # setldetail: each fund's payment
    case: CaseFacts | None

    @property
    def month(self) -> int:
        """The month of the coverage year it belongs to at the earliest: its own month, or
        December for an event recorded after the year (a late reversal of a December stay)."""
        if self.day.year > self.year:
            return 12
        return 1 if self.day.year < self.year else self.day.month

    @property
    def reversal(self) -> bool:
        return self.sign < 0


def china_day(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def settlement_entry(facts: ClaimSettled, position: int, occurred_at: datetime) -> Entry:
    funds: dict[FundPayType, int] = {}
    for row in facts.funds:
        funds[row.fund_pay_type] = funds.get(row.fund_pay_type, 0) + row.fund_payamt
    amounts = facts.amounts
    return Entry(
        setl_id=facts.setl_id,
        entry_id=facts.setl_id,
        sign=1,
        position=position,
        day=china_day(occurred_at),
        year=facts.year,
        fixmedins_code=facts.fixmedins_code,
        psn_no=facts.visit.psn_no,
        mdtrt_id=facts.mdtrt_id,
        insutype=str(facts.visit.insutype),
        clr_type=clr_type_of(facts.visit.med_type),
        medfee=amounts.medfee_sumamt,
        fund_pay_sumamt=amounts.fund_pay_sumamt,
        acct_pay=amounts.acct_pay,
        funds=funds,
        case=facts.case,
    )


def reversal_entry(original: Entry, reversal_setl_id: str, position: int, occurred_at: datetime) -> Entry:
    """The original's amounts with the sign turned, where and when the reversal is recorded."""
    if original.reversal:
        raise ValueError(f"{reversal_setl_id}: a reversal of a reversal ({original.entry_id})")
    return replace(
        original,
        entry_id=reversal_setl_id,
        sign=-1,
        position=position,
        day=china_day(occurred_at),
        medfee=-original.medfee,
        fund_pay_sumamt=-original.fund_pay_sumamt,
        acct_pay=-original.acct_pay,
        funds={fund: -amount for fund, amount in original.funds.items()},
    )
