"""Clearing periods: which month close counts an entry, and a period's figures per institution.

A close of month M records the log position P it counted up to. It counts every entry of the
coverage year with position ≤ P and month ≤ M that no earlier close counted. Closes go in
order (M − 1 before M), so an entry recorded after month M was closed — a late reversal, a
correction — falls into the next close, never into M: a closed period is never rewritten. The
year-end close is the last period (``YEAR_END``): it counts whatever the month closes left.

Pre-payment (按月预拨, issue 13 §2): per institution and fund book, ``prepay_ratio`` × the
period's item-level basic-fund payments of its DRG/DIP cases, rounded half up once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from engine.money import times

YEAR_END = 13  # the year-end close: the period after December


@dataclass(frozen=True)
class Close:
    month: int  # 1..12, or YEAR_END
    up_to: int  # the log position it counted up to


def counted_in(entry: Entry, closes: Sequence[Close]) -> int | None:
    """The period that counted the entry, or None when no close has yet."""
    for close in sorted(closes, key=lambda c: c.month):
        if entry.position <= close.up_to and entry.month <= close.month:
            return close.month
    return None


def for_close(entries: Iterable[Entry], month: int, up_to: int, earlier: Sequence[Close]) -> list[Entry]:
    """The entries a close of ``month`` at ``up_to`` counts, after the ``earlier`` closes."""
    return [e for e in entries if e.position <= up_to and e.month <= month and counted_in(e, earlier) is None]


def cleared_by_case(entry: Entry) -> bool:
    """A case of a DRG or DIP institution: cleared by this module, not item by item monthly."""
    return entry.case is not None and entry.case.paymtd in ("drg", "dip")


@dataclass(frozen=True)
class Figures:
    """A period's (or a year's) figures of one institution and fund book; every amount signed,
    in fen (a reversal takes back what its settlement added)."""

    cases: int = 0  # settlements counted
    reversals: int = 0
    medfee: int = 0
    item_fund: int = 0  # the basic fund's item-level payments: the pre-payment base
    points: Decimal = Decimal(0)  # DIP points of the cases in the point pool
    pool_non_basic: int = 0  # what others paid for those cases (the point value's gross-up)
    drg_standard: int = 0  # DRG standards of the cases paid by their standard
    drg_due: int = 0  # what those cases are owed: standard − what others paid
    item_cleared: int = 0  # item-level payments of ungrouped cases and DRG outliers
    ungrouped: int = 0  # counts of flagged cases, net of reversals
    outliers: int = 0
    disagreements: int = 0
    special_review: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def entry_figures(entry: Entry) -> Figures:
    case, sign = entry.case, entry.sign
    assert case is not None
    pool = case.in_point_pool
    paid_by_standard = case.paymtd == "drg" and case.group_code is not None and case.outlier is None
    return Figures(
        cases=1 if sign > 0 else 0,
        reversals=1 if sign < 0 else 0,
        medfee=entry.medfee,
        item_fund=sign * case.item_fund,
        points=sign * case.points if pool and case.points is not None else Decimal(0),
        pool_non_basic=sign * case.non_basic if pool else 0,
        drg_standard=sign * (case.reference_cost or 0) if paid_by_standard else 0,
        drg_due=sign * case.provisional_due if paid_by_standard else 0,
        item_cleared=sign * case.item_fund if not pool and not paid_by_standard else 0,
        ungrouped=sign if case.ungrouped else 0,
        outliers=sign if case.outlier else 0,
        disagreements=sign if case.disagreement else 0,
        special_review=sign if case.special_review else 0,
    )


Key = tuple[str, FundPayType]  # (fixmedins_code, the basic fund's book)


def figures_by_institution(entries: Iterable[Entry]) -> dict[Key, Figures]:
    """The figures of the DRG/DIP cases among ``entries``, per institution and fund book."""
    out: dict[Key, Figures] = {}
    for entry in entries:
        if not cleared_by_case(entry):
            continue
        assert entry.case is not None
        key = (entry.fixmedins_code, entry.case.fund_pay_type)
        out[key] = out.get(key, Figures()) + entry_figures(entry)
    return out


def prepayment(figures: Figures, prepay_ratio: Decimal) -> int:
    """按月预拨: the ratio of the period's item-level basic-fund payments (negative when the
    period's reversals outweigh its cases: the hospital pays back)."""
    return times(figures.item_fund, prepay_ratio)
