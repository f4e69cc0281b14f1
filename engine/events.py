"""The ledger's events: each one *is* a change to a person's year (one stream per person-year),
recorded as a domain fact in fen with a schema of its own (docs/adr/0004-event-schema.md).

An event becomes (event_type, JSON data) for the store and back through explicit per-type
codecs; the data carries ``schema_version`` (an int). Reading applies the upcasters of
engine.upcasters until the data is at the current version: an old event is never rewritten,
so its stored hash stays valid. No wire message is stored inside an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.codes import FundPayType
from engine.clearing.valuation import CaseFacts
from engine.contributions import ContributionRecorded
from engine.enrolment import EnrolmentFacts
from engine.items import SplitItem
from engine.policy_book import PolicyStamp
from engine.settlement_facts import FundPayment, SettlementAmounts
from engine.totals import Totals
from engine.trail import TrailLine
from engine.visit import Visit


@dataclass(frozen=True)
class PersonEnrolled:
    """The enrolment facts for the year (a later one replaces them)."""

    enrolment: EnrolmentFacts
    coverage_from: date
    coverage_reason: str


@dataclass(frozen=True)
class AccountCredited:
    month: int
    amount: int
    delta: Totals


@dataclass(frozen=True)
class ClaimSettled:
    """A visit priced and settled: the visit as priced, against which policy, what each fund
    paid and why, and the change to the person's year."""

    setl_id: str
    request_key: str  # the sender's idempotency key
    request_id: str
    year: int
    visit: Visit
    policy: PolicyStamp
    amounts: SettlementAmounts  # setlinfo
    funds: tuple[FundPayment, ...]  # setldetail
    items: tuple[SplitItem, ...]
    case: CaseFacts | None  # the inpatient case as the fund valued it (docs/clearing.md)
    trail: tuple[TrailLine, ...]
    payer_psn_no: str | None  # a relative whose account paid amounts.acct_mulaid_pay
    delta: Totals  # deductible and cap consumption: the change to the year's totals
    # 异地就医: the policy whose payer data (catalogue, registry, case mix) priced the lines when
    # it is the treating region's, not ``policy``'s (engine/out_of_region.py); None: ``policy``'s
    payer_policy: PolicyStamp | None = None

    @property
    def mdtrt_id(self) -> str:
        return self.visit.mdtrt_id

    @property
    def fixmedins_code(self) -> str:
        return self.visit.fixmedins_code

    @property
    def acct_mulaid_pay(self) -> int:
        return self.amounts.acct_mulaid_pay


@dataclass(frozen=True)
class FamilyAccountDebited:
    """Recorded in the *payer's* stream: their account paid for a relative (家庭共济)."""

    setl_id: str
    beneficiary_psn_no: str
    amount: int
    delta: Totals


@dataclass(frozen=True)
class SettlementReversed:
    """A settlement cancelled: its amounts and its funds' payments with the sign turned."""

    setl_id: str  # the reversal's own id
    reversed_setl_id: str
    request_key: str
    request_id: str
    psn_no: str
    year: int
    fixmedins_code: str  # who settled (and now reverses): the clearing projections need it
    policy: PolicyStamp  # the policy that priced the reversed settlement
    amounts: SettlementAmounts  # negated; balc is the account after the reversal
    funds: tuple[tuple[FundPayType, int], ...]  # fund_pay_type → the negated fund_payamt
    delta: Totals  # the negated delta of the reversed settlement


@dataclass(frozen=True)
class FamilyAccountRefunded:
    setl_id: str
    reversed_setl_id: str
    amount: int
    delta: Totals


Event = (
    PersonEnrolled
    | AccountCredited
    | ClaimSettled
    | FamilyAccountDebited
    | SettlementReversed
    | FamilyAccountRefunded
    | ContributionRecorded  # in contrib/<psn_no>/<year> streams only (engine.contributions)
)
