"""`ledger reprice`: a year's claims priced again under other policies, writing nothing.

For each person-year, the recorded events are replayed in order; every settlement still in
force is priced again by the engine against the totals the *repriced* year had reached at
that point, under the policy the other folder puts in force. The report is the difference per
fund and per person. A relative's account (家庭共济) is left out: accounts are not funds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from engine.errors import PolicyGap, Rejected, UnknownPolicy
from engine.events import AccountCredited, ClaimSettled, PersonEnrolled, SettlementReversed
from engine.out_of_region import treating_policy
from engine.person import PersonYear, apply
from engine.policy_book import PolicyBook
from engine.settle import settle_claim
from engine.settlement_facts import SettlementAmounts
from ledger.domain import domain_events, is_person_stream, is_visit_stream, parse_stream_id
from ledger.store import LedgerStore

FUND_FIELDS = ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay")


def fund_amounts(amounts: SettlementAmounts) -> dict[str, int]:
    """What the funds paid, by their setlinfo names, in fen."""
    return {
        "hifp_pay": amounts.hifp_pay,
        "hifmi_pay": amounts.hifmi_pay,
        "hifob_pay": amounts.hifob_pay,
        "maf_pay": amounts.maf_pay,
    }


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
        if is_visit_stream(stream_id):  # the money is in the person-year streams
            continue
        if not is_person_stream(stream_id):
            continue  # the clearing's institution and region streams: see ledger.clearing.reprice
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
    """The recorded visit priced again (without a relative's account), against the repriced year.
    Only the engine's own refusals are "not repriced"; anything else is a bug and propagates."""
    report.settlements += 1
    visit = replace(event.visit, acct_payer_psn_no=None, acct_payer_relation=None)
    if state.enrolment is None:
        report.not_repriced.append(f"{event.setl_id}: no enrolment recorded before it")
        return state, 0
    try:
        priced = book.in_force(state.enrolment.insuplc_admdvs, state.enrolment.insutype, visit.enddate)
        again = settle_claim(
            visit,
            state,
            priced,
            payer=None,
            setl_id=event.setl_id,
            request_key=event.request_key,
            request_id=event.request_id,
            treating=treating_policy(book, priced, visit),
        )
    except (Rejected, UnknownPolicy, PolicyGap) as why:
        report.not_repriced.append(f"{event.setl_id}: {why}")
        return state, 0
    report.recorded.update(fund_amounts(event.amounts))
    report.repriced.update(fund_amounts(again.facts.amounts))
    state = apply(state, again.events[0][1])
    return state, again.facts.amounts.fund_pay_sumamt - event.amounts.fund_pay_sumamt
