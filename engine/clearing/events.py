"""The institution side's events (docs/adr/0004-event-schema.md rules; each type starts at
schema_version 1), and their folds.

Streams: ``inst/<fixmedins_code>/<year>`` — what the fund owes one institution for a year:
MonthClosed, SpecialReviewDecided, YearClosed, DepositReleased; ``region/<admdvs>/<year>`` —
the area's budgets and the record of each close: BudgetSet, RegionMonthClosed, RegionYearClosed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from contracts.codes import FundPayType
from engine.clearing.periods import Close, Figures
from engine.clearing.year_end import Budget, ReviewDecision


def institution_stream(fixmedins_code: str, year: int) -> str:
    return f"inst/{fixmedins_code}/{year}"


def region_stream(admdvs: str, year: int) -> str:
    return f"region/{admdvs}/{year}"


def parse_clearing_stream(stream_id: str) -> tuple[Literal["inst", "region"], str, int] | None:
    """(kind, code, year) of an institution or region stream; None for any other stream."""
    kind, _, rest = stream_id.partition("/")
    code, _, year = rest.rpartition("/")
    if kind not in ("inst", "region") or not code or not year.isdigit():
        return None
    return ("inst" if kind == "inst" else "region"), code, int(year)


@dataclass(frozen=True)
class BookClose:
    """One fund book's figures in a close, and the pre-payment they make."""

    fund_pay_type: FundPayType
    figures: Figures
    prepay: int


@dataclass(frozen=True)
class MonthClosed:
    year: int
    month: int
    up_to_position: int
    region: str
    books: tuple[BookClose, ...]


@dataclass(frozen=True)
class BookYear:
    """One fund book's year-end settlement for the institution (fen; the point value in fen
    per point, unrounded)."""

    fund_pay_type: FundPayType
    late: Figures  # what the month closes left: counted by the year-end close
    cases: int
    points: Decimal
    point_value: Decimal | None
    drg_factor: Decimal | None
    dip_due: int
    drg_due: int
    item_due: int
    annual_due: int
    prepaid: int
    deposit: int
    balance: int


@dataclass(frozen=True)
class YearClosed:
    year: int
    up_to_position: int
    region: str
    books: tuple[BookYear, ...]


@dataclass(frozen=True)
class SpecialReviewDecided:
    decision: ReviewDecision
    year: int


@dataclass(frozen=True)
class DepositReleased:
    year: int
    fund_pay_type: FundPayType
    coefficient: Decimal  # the assessment's share of the deposit paid out (考核)
    released: int
    forfeited: int
    region: str | None = None  # the pooling region whose year end withheld it (None: recorded before version 2)


@dataclass(frozen=True)
class BudgetSet:
    admdvs: str
    year: int
    fund_pay_type: FundPayType
    budget: Budget


@dataclass(frozen=True)
class RegionMonthClosed:
    year: int
    month: int
    up_to_position: int
    institutions: tuple[str, ...]


@dataclass(frozen=True)
class PointValueRecord:
    fund_pay_type: FundPayType
    budget: int
    available: int
    non_basic: int
    points: Decimal
    computed: Decimal  # fen per point before floor and ceiling
    value: Decimal  # fen per point, unrounded
    published: Decimal  # yuan per point, 4 decimals


@dataclass(frozen=True)
class RegionYearClosed:
    year: int
    up_to_position: int
    institutions: tuple[str, ...]
    point_values: tuple[PointValueRecord, ...]
    drg_factors: tuple[tuple[FundPayType, Decimal], ...]


ClearingEvent = (
    MonthClosed | YearClosed | SpecialReviewDecided | DepositReleased | BudgetSet | RegionMonthClosed | RegionYearClosed
)


@dataclass(frozen=True)
class InstitutionYear:
    """The fold of an institution-year stream."""

    months: dict[int, MonthClosed] = field(default_factory=dict)
    decisions: dict[str, ReviewDecision] = field(default_factory=dict)
    closed: YearClosed | None = None
    releases: dict[FundPayType, DepositReleased] = field(default_factory=dict)

    def prepaid(self, book: FundPayType) -> int:
        return sum(b.prepay for m in self.months.values() for b in m.books if b.fund_pay_type is book)


@dataclass(frozen=True)
class RegionYear:
    """The fold of a region-year stream."""

    budgets: dict[FundPayType, Budget] = field(default_factory=dict)
    months: dict[int, RegionMonthClosed] = field(default_factory=dict)
    closed: RegionYearClosed | None = None

    @property
    def closes(self) -> list[Close]:
        found = [Close(m.month, m.up_to_position) for m in self.months.values()]
        if self.closed is not None:
            found.append(Close(13, self.closed.up_to_position))
        return sorted(found, key=lambda c: c.month)

    @property
    def next_month(self) -> int:
        return max(self.months, default=0) + 1


def fold_institution(events: Sequence[ClearingEvent], region: str | None = None) -> InstitutionYear:
    """An institution-year as one pooling region clears it. A hospital treating the insured of
    several regions (异地就医: a case is cleared by the insured's region) has each region's month
    and year closes in its one stream; folded for a region, the others' are left out, so one
    region's pre-payments never stand in for another's. ``region`` None folds every event (a
    stream's readability), which is the right state only for an institution of one region."""
    state, closer = InstitutionYear(), None
    for event in events:
        if isinstance(event, YearClosed):
            closer = event.region
        elif isinstance(event, DepositReleased) and event.region is None:
            # recorded before a release named its region (schema v1): it released the deposit
            # of the year close before it, the only one the command then read
            event = replace(event, region=closer)
        if region is not None and _of_another(event, region):
            continue
        if isinstance(event, MonthClosed):
            state.months[event.month] = event
        elif isinstance(event, SpecialReviewDecided):
            state.decisions[event.decision.setl_id] = event.decision  # a later decision replaces
        elif isinstance(event, YearClosed):
            state = InstitutionYear(state.months, state.decisions, event, state.releases)
        elif isinstance(event, DepositReleased):
            state.releases[event.fund_pay_type] = event
        else:
            raise ValueError(f"{type(event).__name__} does not belong in an institution-year stream")
    return state


def budget_after(before: Budget | None, decided: Budget) -> Budget:
    """The parts a BudgetSet names replace those parts; a part it leaves out (None) keeps what an
    earlier decision set: `set-budget --drg` after `--dip` is the two pools, not the DRG alone."""
    if before is None:
        return decided
    return Budget(
        before.dip if decided.dip is None else decided.dip,
        before.drg if decided.drg is None else decided.drg,
        before.total if decided.total is None else decided.total,
    )


def _of_another(event: ClearingEvent, region: str) -> bool:
    """A close or a deposit release of another pooling region."""
    if isinstance(event, MonthClosed | YearClosed | DepositReleased):
        return event.region != region
    return False


def fold_region(events: Sequence[ClearingEvent]) -> RegionYear:
    state = RegionYear()
    for event in events:
        if isinstance(event, BudgetSet):
            state.budgets[event.fund_pay_type] = budget_after(state.budgets.get(event.fund_pay_type), event.budget)
        elif isinstance(event, RegionMonthClosed):
            state.months[event.month] = event
        elif isinstance(event, RegionYearClosed):
            state = RegionYear(state.budgets, state.months, event)
        else:
            raise ValueError(f"{type(event).__name__} does not belong in a region-year stream")
    return state
