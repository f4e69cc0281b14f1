"""Clearing statements (结算清算单): what the fund owes each institution of a pooling region for a
year, month by month, as its finance office reads it — the same dict for `ledger clearing`
(table, JSON, CSV) and for the ledger service's HTTP (docs/clearing.md#statements).

Months already closed show what their close recorded; open months show the running figures of
the entries no close has counted yet (by the month they will fall in). The year shows the
year-end settlement once closed, the provisional dues before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.codes import FundPayType
from contracts.money import format_yuan
from engine.clearing.entries import Entry
from engine.clearing.events import InstitutionYear, RegionYear
from engine.clearing.periods import Figures, cleared_by_case, counted_in, figures_by_institution, prepayment
from engine.clearing.rollup import CountyYear, Spending, roll_up
from engine.clearing.rules import ClearingRules
from engine.clearing.valuation import CaseFacts
from engine.clearing.year_end import net_cases

Json = dict[str, Any]


@dataclass(frozen=True)
class Inputs:
    """What a statement is made of, read by the caller (ledger.clearing.commands' readers)."""

    region: str
    year: int
    region_state: RegionYear
    institutions: Mapping[str, InstitutionYear]
    entries: Mapping[str, Sequence[Entry]]  # per institution: its entries of the year (cases and others)
    rules: Mapping[FundPayType, ClearingRules]
    county_budgets: Mapping[tuple[str, FundPayType], int]
    as_of: datetime | None = None


def _figures_json(f: Figures) -> Json:
    return {
        "cases": f.cases, "reversals": f.reversals, "medfee": format_yuan(f.medfee),
        "item_fund": format_yuan(f.item_fund), "points": str(f.points), "drg_due": format_yuan(f.drg_due),
        "item_cleared": format_yuan(f.item_cleared), "ungrouped": f.ungrouped, "outliers": f.outliers,
        "disagreements": f.disagreements, "special_review": f.special_review,
    }  # fmt: skip


def _months(code: str, book: FundPayType, inputs: Inputs, month: int | None) -> list[Json]:
    state, out = inputs.institutions.get(code, InstitutionYear()), []
    closes = inputs.region_state.closes
    open_from = inputs.region_state.next_month
    pending = [e for e in inputs.entries.get(code, ()) if cleared_by_case(e) and counted_in(e, closes) is None]
    for m in range(1, 13):
        if month is not None and m != month:
            continue
        closed = state.months.get(m)
        if closed is not None:
            books = {b.fund_pay_type: b for b in closed.books}
            b = books.get(book)
            figures, prepay = (b.figures, b.prepay) if b else (Figures(), 0)
            out.append({"month": m, "closed": True, **_figures_json(figures), "prepay": format_yuan(prepay)})
        elif m >= open_from:
            f = figures_by_institution([e for e in pending if max(e.month, open_from) == m]).get((code, book))
            f = f or Figures()
            rules = inputs.rules.get(book)
            would = format_yuan(prepayment(f, rules.prepay_ratio)) if rules is not None else None
            out.append({"month": m, "closed": False, **_figures_json(f), "prepay_if_closed_now": would})
    return out


def _year(code: str, book: FundPayType, inputs: Inputs) -> Json:
    state = inputs.institutions.get(code, InstitutionYear())
    if state.closed is not None:
        b = next((b for b in state.closed.books if b.fund_pay_type is book), None)
        if b is not None:
            release = state.releases.get(book)
            return {
                "closed": True, "cases": b.cases, "points": str(b.points),
                "point_value_fen": None if b.point_value is None else str(b.point_value),
                "dip_due": format_yuan(b.dip_due), "drg_due": format_yuan(b.drg_due),
                "item_due": format_yuan(b.item_due), "annual_due": format_yuan(b.annual_due),
                "prepaid": format_yuan(b.prepaid), "deposit": format_yuan(b.deposit),
                "deposit_released": None if release is None else format_yuan(release.released),
                "balance": format_yuan(b.balance),
            }  # fmt: skip
    alive = [e for e in net_cases(inputs.entries.get(code, ())) if e.case and e.case.fund_pay_type is book]
    provisional = sum(e.case.provisional_due for e in alive if e.case)
    return {
        "closed": False, "cases": len(alive), "provisional_due": format_yuan(provisional),
        "prepaid": format_yuan(state.prepaid(book)),
    }  # fmt: skip


def _flags(case: CaseFacts) -> list[str]:
    named = (
        ("ungrouped", case.ungrouped),
        (f"outlier_{case.outlier}", case.outlier is not None),
        ("disagreement", case.disagreement),
        ("special_review", case.special_review),
    )
    return [name for name, on in named if on]


def _flagged(code: str, inputs: Inputs, month: int | None) -> list[Json]:
    decisions = inputs.institutions.get(code, InstitutionYear()).decisions
    out = []
    reversed_ids = {e.setl_id for e in inputs.entries.get(code, ()) if e.reversal}
    for e in inputs.entries.get(code, ()):
        case = e.case
        if case is None or e.reversal or (month is not None and e.month != month):
            continue
        flags = _flags(case)
        if not flags:
            continue
        decision = decisions.get(e.setl_id)
        out.append({
            "setl_id": e.setl_id, "mdtrt_id": e.mdtrt_id, "day": e.day.isoformat(), "flags": flags,
            "group_code": case.group_code, "declared_code": case.declared_code,
            "points": None if case.points is None else str(case.points), "medfee": format_yuan(case.medfee),
            "item_fund": format_yuan(case.item_fund), "provisional_due": format_yuan(case.provisional_due),
            "reversed": e.setl_id in reversed_ids,
            "decision": None if decision is None else {"outcome": decision.outcome,
                "amount": None if decision.amount is None else format_yuan(decision.amount),
                "points": None if decision.points is None else str(decision.points), "reason": decision.reason},
        })  # fmt: skip
    return out


def _terms(entries: Sequence[Entry]) -> Json:
    case = next((e.case for e in reversed(entries) if e.case is not None), None)
    if case is None:
        return {"admdvs": None, "paymtd": None, "hosp_lv": None}
    return {"admdvs": case.admdvs, "paymtd": case.paymtd, "hosp_lv": case.hosp_lv}


def institution_statement(code: str, inputs: Inputs, month: int | None) -> Json:
    entries = inputs.entries.get(code, ())
    books = sorted({e.case.fund_pay_type for e in entries if e.case is not None and cleared_by_case(e)})
    return {
        "fixmedins_code": code,
        **_terms(entries),
        "books": [
            {"fund_pay_type": b.value, "months": _months(code, b, inputs, month), "year": _year(code, b, inputs)}
            for b in books
        ],
        "flagged": _flagged(code, inputs, month),
        "after_year_close": _after_close(code, inputs),
    }


def _after_close(code: str, inputs: Inputs) -> list[str]:
    """Entries recorded after the year-end close: in no period (docs/clearing.md#not-yet)."""
    closed = inputs.region_state.closed
    if closed is None:
        return []
    late = [e for e in inputs.entries.get(code, ()) if cleared_by_case(e) and e.position > closed.up_to_position]
    return [e.entry_id for e in late]


def case_spending(code: str, inputs: Inputs, fund_spending: Mapping[tuple[str, FundPayType], int]) -> dict[
    tuple[str, FundPayType], Spending
]:  # fmt: skip
    """One institution's spending per fund book: item level, with its DRG/DIP cases at what the
    fund owes for them (the year-end due once closed, provisional before)."""
    out = {key: Spending(fen) for key, fen in fund_spending.items() if key[0] == code}
    state = inputs.institutions.get(code, InstitutionYear())
    alive = [e for e in net_cases(inputs.entries.get(code, ())) if e.case is not None]
    for book in {e.case.fund_pay_type for e in alive if e.case is not None}:
        items = sum(e.case.item_fund for e in alive if e.case and e.case.fund_pay_type is book)
        closed = next((b for b in state.closed.books if b.fund_pay_type is book), None) if state.closed else None
        due = (
            closed.annual_due
            if closed
            else sum(e.case.provisional_due for e in alive if e.case and e.case.fund_pay_type is book)
        )
        prior = out.get((code, book), Spending())
        out[(code, book)] = Spending(prior.item_level, due - items)
    return out


def _county_json(c: CountyYear) -> Json:
    return {
        "admdvs": c.admdvs, "fund_pay_type": c.fund_pay_type.value,
        "institutions": {code: format_yuan(s.total) for code, s in c.institutions.items()},
        "spending": format_yuan(c.spending.total), "item_level": format_yuan(c.spending.item_level),
        "case_adjustment": format_yuan(c.spending.case_adjustment),
        "budget": None if c.budget is None else format_yuan(c.budget),
        "county_bears": format_yuan(c.county_bears), "city_bears": format_yuan(c.city_bears),
        "county_keeps": format_yuan(c.county_keeps), "city_recovers": format_yuan(c.city_recovers),
        "city_to_county": format_yuan(c.city_to_county),
    }  # fmt: skip


def statement(
    inputs: Inputs,
    *,
    month: int | None = None,
    institution: str | None = None,
    fund_spending: Mapping[tuple[str, FundPayType], int] | None = None,
) -> Json:
    codes = sorted(inputs.entries) if institution is None else [institution]
    closed = inputs.region_state.closed
    body: Json = {
        "region": inputs.region, "year": inputs.year, "month": month,
        "as_of": None if inputs.as_of is None else inputs.as_of.isoformat(),
        "closed_months": sorted(inputs.region_state.months), "year_closed": closed is not None,
        "point_values": [] if closed is None else [
            {"fund_pay_type": p.fund_pay_type.value, "value_fen": str(p.value), "published_yuan": str(p.published),
             "points": str(p.points), "budget": format_yuan(p.budget)} for p in closed.point_values],
        "institutions": [institution_statement(code, inputs, month) for code in codes],
    }  # fmt: skip
    if institution is None and fund_spending is not None:
        spending: dict[tuple[str, FundPayType], Spending] = {}
        for code in codes:
            spending.update(case_spending(code, inputs, fund_spending))
        county_of = {code: c for code in codes if (c := _terms(inputs.entries[code])["admdvs"])}
        body["counties"] = [
            _county_json(c)
            for book in sorted({b for _, b in spending})
            for c in roll_up(
                {k: v for k, v in spending.items() if k[1] is book},
                county_of,
                inputs.county_budgets,
                inputs.rules.get(book, ClearingRules()).risk_sharing,
            )
        ]
    return body
