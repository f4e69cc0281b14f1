"""`ledger reprice --clearing`: a region's year valued again under other policies or budgets,
writing nothing — each DRG/DIP case revalued from its recorded facts (group, score or weight,
level, cost, what the basic fund paid item by item) with the other policy's [case_payment],
then the year end with its [clearing] and the budgets given (or those recorded).

The patient's settlement is not priced again here (that is `ledger reprice` of the person
streams): what changes is what the fund owes the hospitals for the same cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from contracts.codes import FundPayType
from contracts.money import format_yuan
from engine.clearing.entries import Entry
from engine.clearing.grouping import ClinicalCase
from engine.clearing.payer import catalogue_of
from engine.clearing.periods import cleared_by_case
from engine.clearing.terms import CaseMixTable, DipGroup, DrgGroup, GroupKind, InstitutionTerms
from engine.clearing.valuation import CaseFacts, CaseValuation, value_case
from engine.clearing.year_end import Budget, YearEnd, net_cases, settle_year
from engine.policy import Policy
from ledger.clearing.commands import SCHEME_OF_BOOK, ClearingCommands

FAR = date(9999, 12, 31)


def revalue(case: CaseFacts, policy: Policy, on: date, catalogue: CaseMixTable | None = None) -> CaseFacts:
    """The case valued again with another policy's parameters, from what was recorded of it (its
    group and that group's score or weight). ``catalogue``: that policy's case mix, for what the
    case does not record — a DIP group's average cost, the outlier reference under
    ``dip_reference = "group_average_cost"``."""
    if case.paymtd == "item" or case.group_code is None or case.catalogue_value is None:
        return case
    code, value = case.group_code, case.catalogue_value
    if case.paymtd == "dip":
        kind: GroupKind = "comprehensive" if case.group_kind == "comprehensive" else "core"
        avg_cost = _average_cost(catalogue, case, on)
        row = DipGroup(code, "", case.main_oprn or "", kind, value, date.min, FAR, avg_cost)
        catalogue = CaseMixTable((row,), ())
    else:
        catalogue = CaseMixTable((), (DrgGroup(code, value, date.min, FAR),))
    clinical = ClinicalCase(case.main_diag or "-", case.main_oprn, code, code, case.declared_value)
    terms = InstitutionTerms("", case.hosp_lv, case.admdvs, case.paymtd)
    again, _ = value_case(
        CaseValuation(
            clinical,
            terms,
            case.region,
            case.fund_pay_type,
            policy.case_payment,
            catalogue,
            on,
            case.medfee,
            case.item_fund,
        )
    )
    return replace(again, declared_code=case.declared_code, disagreement=case.disagreement)


def _average_cost(catalogue: CaseMixTable | None, case: CaseFacts, on: date) -> int | None:
    """The case's DIP group's average cost in the catalogue on the case's day (None: none given)."""
    if catalogue is None or case.main_diag is None:
        return None
    rows = catalogue.dip_rows(case.main_diag, on)
    return next((row.avg_cost for row in rows if row.dip_code == case.group_code), None)


@dataclass(frozen=True)
class Repriced:
    recorded: YearEnd | None
    repriced: YearEnd


async def reprice_clearing(
    commands: ClearingCommands, region: str, year: int, budgets: Mapping[FundPayType, int]
) -> dict[str, Any]:
    """The year end as recorded (if the year is closed) next to the same cases under the
    commands' policies and the budgets given (a book not given keeps its recorded budget)."""
    _, state = await commands.region(region, year)
    cases = [e for e in await commands.source.region_cases(region, year) if cleared_by_case(e)]
    if state.closed is not None:
        cases = [e for e in cases if e.position <= state.closed.up_to_position]
    codes = sorted({e.fixmedins_code for e in cases})
    institutions = {c: (await commands.institution(c, year, region))[1] for c in codes}
    alive = net_cases(cases)
    books = {e.case.fund_pay_type for e in alive if e.case is not None}
    decisions = {k: v for i in institutions.values() for k, v in i.decisions.items()}
    plan: dict[FundPayType, Budget] = {
        b: replace(state.budgets.get(b, Budget()), dip=budgets.get(b, state.budgets.get(b, Budget()).dip))
        for b in books
    }
    out: dict[str, Any] = {"region": region, "year": year, "books": []}
    for book in sorted(books):
        priced = commands.priced(region, book, year)
        policy, catalogue = priced.policy, catalogue_of(priced.payer.casemix)
        mine = [e for e in alive if e.case is not None and e.case.fund_pay_type is book]
        again = [_revalued(e, policy, catalogue) for e in mine]
        prepaid = {(c, book): institutions[c].prepaid(book) for c in codes}
        pv = policy.case_payment.dip_point_value
        provisional = {book: pv * 100} if pv is not None else {}
        result = settle_year(again, decisions, plan, prepaid, policy.clearing, provisional)
        out["books"].append(_book_report(book, institutions, result, policy))
    return out


def _revalued(entry: Entry, policy: Policy, catalogue: CaseMixTable) -> Entry:
    assert entry.case is not None
    return replace(entry, case=revalue(entry.case, policy, entry.day, catalogue))


def _book_report(book: FundPayType, institutions: Mapping[str, Any], result: YearEnd, policy: Policy) -> dict[str, Any]:
    pv = result.point_values.get(book)
    rows = []
    for (code, b), inst in sorted(result.institutions.items()):
        closed = institutions[code].closed
        recorded = next((y for y in closed.books if y.fund_pay_type is b), None) if closed else None
        rows.append({
            "fixmedins_code": code, "annual_due": format_yuan(inst.annual_due),
            "recorded_annual_due": None if recorded is None else format_yuan(recorded.annual_due),
            "difference": None if recorded is None else format_yuan(inst.annual_due - recorded.annual_due),
            "balance": format_yuan(inst.balance),
        })  # fmt: skip
    return {
        "fund_pay_type": book.value,
        "scheme": SCHEME_OF_BOOK[book].value,
        "policy": f"{policy.policy.id} v{policy.policy.version}",
        "point_value_yuan": None if pv is None else str(pv.published),
        "point_value_fen": None if pv is None else str(pv.value),
        "institutions": rows,
    }


def budgets_given(pairs: list[str]) -> dict[FundPayType, int]:
    """--dip-budget 390100=400000.00 → {RESIDENT_POOLED: 40000000}."""
    from contracts.money import parse_yuan

    out = {}
    for pair in pairs:
        book, _, yuan = pair.partition("=")
        out[FundPayType(book)] = parse_yuan(yuan)
    return out
