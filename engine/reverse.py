"""reverse_settlement: a settlement is never edited; a reversal appends its negation
(docs/domain.md#reversal).

The person's totals return to what they were without the reversed settlement, a relative's
account is refunded, and the visit may be settled again. Everything is read from the
settlement's facts in fen: what each fund paid, the amounts, the policy that priced it.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import RejectionCode
from engine.errors import InvariantBroken, Rejected
from engine.events import Event, FamilyAccountRefunded, SettlementReversed
from engine.person import OpenSettlement, PersonYear
from engine.totals import Totals


@dataclass(frozen=True)
class ReversalRequest:
    """What a reversal message (2208 / 2305 / 2103) asks, in the engine's terms."""

    request_key: str
    request_id: str
    psn_no: str
    fixmedins_code: str
    setl_id: str  # the settlement to cancel


@dataclass(frozen=True)
class Reversed:
    facts: SettlementReversed
    events: tuple[tuple[str, Event], ...]


def _in_force(request: ReversalRequest, person: PersonYear) -> OpenSettlement:
    original = person.settlements.get(request.setl_id)
    if original is None:
        raise Rejected(
            RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
            f"person {request.psn_no} has no settlement {request.setl_id}",
            field="setl_id",
        )
    if original.fixmedins_code != request.fixmedins_code:
        raise Rejected(
            RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
            f"settlement {request.setl_id} was made by another institution; only it may cancel it",
            field="fixmedins_code",
        )
    if original.reversed_by is not None:
        raise Rejected(
            RejectionCode.ALREADY_REVERSED,
            f"settlement {request.setl_id} was already reversed by {original.reversed_by}",
            field="setl_id",
        )
    if not isinstance(original, OpenSettlement):  # a bug of the caller, never the message's fault
        raise InvariantBroken(f"settlement {request.setl_id} reversed without its amounts read from its event")
    return original


def reverse_settlement(
    request: ReversalRequest, person: PersonYear, payer: PersonYear | None, *, setl_id: str
) -> Reversed:
    original = _in_force(request, person)
    balance_after = person.account_balance + original.delta.acct_paid_own if person.has_account else 0
    facts = SettlementReversed(
        setl_id=setl_id,
        reversed_setl_id=original.setl_id,
        request_key=request.request_key,
        request_id=request.request_id,
        psn_no=request.psn_no,
        year=person.year,
        fixmedins_code=request.fixmedins_code,
        policy=original.policy,
        amounts=original.amounts.negated(balc=balance_after),
        funds=tuple((fund, -paid) for fund, paid in original.funds),
        delta=-original.delta,
    )
    events: list[tuple[str, Event]] = [(person.stream_id, facts)]
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
    return Reversed(facts=facts, events=tuple(events))
