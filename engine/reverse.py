"""reverse_settlement: a settlement is never edited; a reversal appends its negation (§6).

The person's totals return to what they were without the reversed settlement, a relative's
account is refunded, and the visit may be settled again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from contracts.claims import Reversal
from contracts.codes import RejectionCode
from contracts.results import PolicyRef, ReversalResult, SetlDetail, SetlInfo
from engine.errors import Rejected
from engine.events import Event, FamilyAccountRefunded, SettlementReversed
from engine.person import PersonYear
from engine.totals import Totals

_AMOUNTS = [name for name in SetlInfo.model_fields if name != "pool_prop_selfpay"]


@dataclass(frozen=True)
class Reversed:
    result: ReversalResult
    events: tuple[tuple[str, Event], ...]


def negated(info: SetlInfo, balance_after: int) -> SetlInfo:
    values = {name: -getattr(info, name) for name in _AMOUNTS}
    return info.model_copy(update={**values, "balc": balance_after})


def reverse_settlement(
    reversal: Reversal,
    person: PersonYear,
    payer: PersonYear | None,
    *,
    setl_id: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
) -> Reversed:
    original = person.settlements.get(reversal.setl_id)
    if original is None:
        raise Rejected(
            RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
            f"person {reversal.psn_no} has no settlement {reversal.setl_id}",
            field="setl_id",
        )
    result_in = original.result
    if result_in.get("fixmedins_code") != reversal.fixmedins_code:
        raise Rejected(
            RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
            f"settlement {reversal.setl_id} was made by another institution; only it may cancel it",
            field="fixmedins_code",
        )
    if original.reversed_by is not None:
        raise Rejected(
            RejectionCode.ALREADY_REVERSED,
            f"settlement {reversal.setl_id} was already reversed by {original.reversed_by}",
            field="setl_id",
        )
    info = SetlInfo.model_validate(result_in["setlinfo"])
    balance_after = person.account_balance + original.delta.acct_paid_own if person.has_account else 0
    result = ReversalResult(
        event_id=event_id,
        occurred_at=occurred_at,
        request_id=reversal.request_id,
        setl_id=setl_id,
        reversed_setl_id=original.setl_id,
        psn_no=reversal.psn_no,
        fixmedins_code=reversal.fixmedins_code,
        year=person.year,
        setlinfo=negated(info, balance_after),
        policy=PolicyRef.model_validate(result_in["policy"]),
    )
    funds = {row["fund_pay_type"]: -SetlDetail.model_validate(row).fund_payamt for row in result_in["setldetail"]}
    reversed_event = SettlementReversed(
        setl_id=setl_id,
        reversed_setl_id=original.setl_id,
        request_key=reversal.idempotency_key,
        delta=-original.delta,
        result=result.model_dump(mode="json"),
        fixmedins_code=reversal.fixmedins_code,
        funds=funds,
    )
    events: list[tuple[str, Event]] = [(person.stream_id, reversed_event)]
    if original.payer_psn_no is not None and original.acct_mulaid_pay:
        if payer is None:
            raise Rejected(
                RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
                f"the relative's account {original.payer_psn_no} that paid is not on record",
            )
        refund = FamilyAccountRefunded(
            setl_id, original.setl_id, original.acct_mulaid_pay, Totals(acct_paid_for_family=-original.acct_mulaid_pay)
        )
        events.append((payer.stream_id, refund))
    return Reversed(result=result, events=tuple(events))
