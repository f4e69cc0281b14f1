"""What closing a month and closing the year write, computed from the entries and the streams
(pure; the ledger commands read, call these, and append the result with expected versions).

A region closes as one: every DRG/DIP institution of the pooling region gets its MonthClosed
(with the figures of the entries the close counts, possibly all zero) and the region stream
gets the record of the close. Months close in order; the year closes after December.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from engine.clearing.events import (
    BookClose,
    BookYear,
    InstitutionYear,
    MonthClosed,
    PointValueRecord,
    RegionMonthClosed,
    RegionYear,
    RegionYearClosed,
    YearClosed,
)
from engine.clearing.periods import YEAR_END, Figures, cleared_by_case, figures_by_institution, for_close, prepayment
from engine.clearing.rules import ClearingRules
from engine.clearing.year_end import Budget, PointValue, ReviewDecision, YearEnd, net_cases, settle_year
from engine.clearing.year_end import InstitutionYear as InstitutionYearEnd


class CloseRefused(ValueError):
    """The close cannot be made as asked; one sentence saying why and what to do."""


RulesFor = Callable[[FundPayType], ClearingRules]


def region_cases(entries: Sequence[Entry], region: str, year: int) -> list[Entry]:
    """The DRG/DIP cases of the pooling region's coverage year (settlements and reversals)."""
    return [e for e in entries if e.year == year and cleared_by_case(e) and e.case and e.case.region == region]


def institutions_of(entries: Sequence[Entry], up_to: int) -> tuple[str, ...]:
    return tuple(sorted({e.fixmedins_code for e in entries if e.position <= up_to}))


@dataclass(frozen=True)
class MonthPlan:
    institutions: Mapping[str, MonthClosed]
    region: RegionMonthClosed


def plan_month_close(
    region: str, year: int, month: int, up_to: int, cases: Sequence[Entry], state: RegionYear, rules: RulesFor
) -> MonthPlan:
    if state.closed is not None:
        raise CloseRefused(f"{region} {year} is closed for the year: a month can no longer be closed")
    if month in state.months:
        raise CloseRefused(f"{region} {year}-{month:02d} is already closed")
    if month != state.next_month:
        raise CloseRefused(f"close {region} {year}-{state.next_month:02d} first: months close in order")
    if not 1 <= month <= 12:
        raise CloseRefused(f"month {month} is not a month of the year")
    cases = [e for e in cases if cleared_by_case(e)]
    counted = for_close(cases, month, up_to, state.closes)
    figures = figures_by_institution(counted)
    codes = tuple(
        sorted(set(institutions_of(cases, up_to)) | {c for m in state.months.values() for c in m.institutions})
    )
    closes = {
        code: MonthClosed(year, month, up_to, region, _books(code, figures, rules))
        for code in codes
    }  # fmt: skip
    return MonthPlan(closes, RegionMonthClosed(year, month, up_to, codes))


def _books(code: str, figures: Mapping[tuple[str, FundPayType], Figures], rules: RulesFor) -> tuple[BookClose, ...]:
    return tuple(
        BookClose(book, f, prepayment(f, rules(book).prepay_ratio))
        for (c, book), f in sorted(figures.items())
        if c == code
    )


@dataclass(frozen=True)
class YearPlan:
    institutions: Mapping[str, YearClosed]
    region: RegionYearClosed
    year_end: YearEnd


def plan_year_close(
    region: str,
    year: int,
    up_to: int,
    cases: Sequence[Entry],
    state: RegionYear,
    institutions: Mapping[str, InstitutionYear],
    rules: RulesFor,
    provisional_fen: Mapping[FundPayType, Decimal],
) -> YearPlan:
    if state.closed is not None:
        raise CloseRefused(f"{region} {year} is already closed for the year")
    if 12 not in state.months:
        raise CloseRefused(f"close {region} {year}-12 first: the year closes after December")
    cases = [e for e in cases if cleared_by_case(e)]
    late = figures_by_institution(for_close(cases, YEAR_END, up_to, state.closes))
    alive = net_cases([e for e in cases if e.position <= up_to])
    decisions = {k: v for inst in institutions.values() for k, v in inst.decisions.items()}
    books = {e.case.fund_pay_type for e in cases if e.case is not None}
    budgets: Mapping[FundPayType, Budget] = state.budgets
    prepaid = {(code, book): inst.prepaid(book) for code, inst in institutions.items() for book in books}
    # One rule set per book: the region's policy of that scheme (the point value is per book).
    settled = _settle_by_book(alive, decisions, budgets, prepaid, rules, provisional_fen, books)
    codes = tuple(sorted(set(institutions) | set(institutions_of(cases, up_to))))
    closes = {code: YearClosed(year, up_to, region, _book_years(code, settled, late)) for code in codes}
    values = tuple(
        PointValueRecord(b, v.budget, v.available, v.non_basic, v.points, v.computed, v.value, v.published)
        for b, v in sorted(settled.point_values.items())
    )
    record = RegionYearClosed(year, up_to, codes, values, tuple(sorted(settled.drg_factors.items())))
    return YearPlan(closes, record, settled)


def _settle_by_book(
    alive: Sequence[Entry],
    decisions: Mapping[str, ReviewDecision],
    budgets: Mapping[FundPayType, Budget],
    prepaid: Mapping[tuple[str, FundPayType], int],
    rules: RulesFor,
    provisional: Mapping[FundPayType, Decimal],
    books: set[FundPayType],
) -> YearEnd:
    values: dict[FundPayType, PointValue] = {}
    factors: dict[FundPayType, Decimal] = {}
    institutions: dict[tuple[str, FundPayType], InstitutionYearEnd] = {}
    for book in sorted(books):
        part = settle_year(
            [e for e in alive if e.case is not None and e.case.fund_pay_type is book],
            decisions,
            budgets,
            {k: v for k, v in prepaid.items() if k[1] is book},
            rules(book),
            provisional,
        )
        values.update(part.point_values)
        factors.update(part.drg_factors)
        institutions.update(part.institutions)
    return YearEnd(values, factors, institutions)


def _book_years(code: str, settled: YearEnd, late: Mapping[tuple[str, FundPayType], Figures]) -> tuple[BookYear, ...]:
    out = []
    for (c, book), inst in sorted(settled.institutions.items()):
        if c != code:
            continue
        pv = settled.point_values.get(book)
        out.append(
            BookYear(
                book,
                late.get((c, book), Figures()),
                inst.cases,
                inst.points,
                pv.value if pv else None,
                settled.drg_factors.get(book),
                inst.dip_due,
                inst.drg_due,
                inst.item_due,
                inst.annual_due,
                inst.prepaid,
                inst.deposit,
                inst.balance,
            )
        )
    return tuple(out)
