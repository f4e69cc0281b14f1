"""`ledger reprice`: a year's claims priced again under other policies, writing nothing.

For each person-year, the recorded events are replayed in order; every settlement still in
force is priced again by the engine against the totals the *repriced* year had reached at
that point, under the policy the other folder puts in force. The report is the difference per
fund and per person. A relative's account (家庭共济) is left out: accounts are not funds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from contracts.claims import Claim
from contracts.money import parse_yuan
from engine.errors import InvariantBroken, Rejected
from engine.events import AccountCredited, ClaimSettled, PersonEnrolled, SettlementReversed
from engine.ids import event_id
from engine.person import PersonYear, apply
from engine.policy_book import PolicyBook, UnknownPolicy
from engine.settle import settle_claim
from ledger.domain import domain_events, parse_stream_id
from ledger.store import LedgerStore

FUND_FIELDS = ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay")


@dataclass
class RepriceReport:
    year: int
    settlements: int = 0
    not_repriced: list[str] = field(default_factory=list)  # setl_id: why
    recorded: Counter[str] = field(default_factory=Counter)  # fund field → fen
    repriced: Counter[str] = field(default_factory=Counter)
    per_person: dict[str, int] = field(default_factory=dict)  # psn_no → change of fund_pay_sumamt, fen

    def difference(self) -> dict[str, int]:
        return {f: self.repriced[f] - self.recorded[f] for f in FUND_FIELDS}


async def reprice_year(store: LedgerStore, book: PolicyBook, year: int) -> RepriceReport:
    report = RepriceReport(year)
    for stream_id in await store.list_streams():
        psn_no, stream_year = parse_stream_id(stream_id)
        if stream_year != year:
            continue
        events = domain_events(await store.read_stream(stream_id))
        reversed_ids = {e.reversed_setl_id for e in events if isinstance(e, SettlementReversed)}
        state = PersonYear(psn_no=psn_no, year=year)
        change = 0
        for event in events:
            if isinstance(event, PersonEnrolled | AccountCredited):
                state = apply(state, event)
            elif isinstance(event, ClaimSettled) and event.setl_id not in reversed_ids:
                state, delta = _again(event, state, book, report)
                change += delta
        if change:
            report.per_person[psn_no] = change
    return report


def _again(event: ClaimSettled, state: PersonYear, book: PolicyBook, report: RepriceReport) -> tuple[PersonYear, int]:
    report.settlements += 1
    recorded = event.result["setlinfo"]
    claim = Claim.model_validate(event.claim).model_copy(
        update={"acct_payer_psn_no": None, "acct_payer_relation": None}
    )
    try:
        assert state.enrolment is not None
        priced = book.in_force(state.enrolment.insuplc_admdvs, state.enrolment.insutype, claim.enddate)
        again = settle_claim(
            claim,
            state,
            priced,
            payer=None,
            setl_id=event.setl_id,
            event_id=event_id(event.request_key, 0),
            occurred_at=datetime_of(event),
        )
    except (Rejected, UnknownPolicy, LookupError, InvariantBroken, AssertionError) as why:
        report.not_repriced.append(f"{event.setl_id}: {why}")
        return state, 0
    info = again.result.setlinfo
    for name in FUND_FIELDS:
        report.recorded[name] += _fen(recorded[name])
        report.repriced[name] += getattr(info, name)
    state = apply(state, again.events[0][1])
    return state, info.fund_pay_sumamt - _fen(recorded["fund_pay_sumamt"])


def datetime_of(event: ClaimSettled) -> datetime:
    return datetime.fromisoformat(event.result["occurred_at"])


def _fen(yuan_text: str) -> int:
    return parse_yuan(yuan_text)
