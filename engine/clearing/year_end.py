"""The year-end settlement (年终清算) of a pooling region's DRG/DIP institutions (issue 13 §2).

DIP point value, per fund book (002: each fund's books kept apart):
    actual_non_fund (issue 13):       ((1 − reserve) × budget + what others paid) ÷ Σ points
    reimbursement_ratio (DIP 技术规范): ((1 − reserve) × budget ÷ the planned ratio) ÷ Σ points
  optionally held between a floor and a ceiling × the provisional value; kept unrounded (the
  rounded figure is for publishing only).
An institution's DIP due = Σ its points × point value − Σ what others paid for those cases,
rounded once, half up. So with actual_non_fund and no bounds the dues add up to the budget
within half a fen per institution.

DRG: each case paid by its standard is owed standard − what others paid (at settlement); with
``drg_year_end = "budget"`` the standards are scaled instead so the DRG cases share the DRG
budget the same way (the base rates × the factor). Outliers and ungrouped cases are owed their
item-level payment; a special-review decision (特病单议) may replace a case's amount or points.
Annual due − the deposit withheld − the pre-payments = the year-end balance (negative: the
hospital pays back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from engine.clearing.periods import Key, cleared_by_case
from engine.clearing.rules import ClearingRules
from engine.clearing.valuation import CaseFacts
from engine.money import half_up, times


class YearEndGap(ValueError):
    """The year cannot be settled as asked (a budget missing, say); one sentence."""


@dataclass(frozen=True)
class ReviewDecision:
    """特病单议: the agency's decision on a case after expert review."""

    setl_id: str
    outcome: Literal["confirm", "amount", "points"]  # as computed / a fixed amount / other points (DIP)
    amount: int | None = None  # fen: what the basic fund owes for the case
    points: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True)
class Budget:
    """One area's budget of one fund book for the year (fen); None: not set."""

    dip: int | None = None  # the DIP point pool
    drg: int | None = None  # the DRG pool (used with drg_year_end = "budget")
    total: int | None = None  # the area's spending budget (a county's, for the roll-up)


@dataclass(frozen=True)
class Share:
    """A case's part in the year: points in the pool, a DRG standard, or a fixed amount."""

    points: Decimal = Decimal(0)
    pool_non_basic: int = 0
    drg_standard: int = 0
    drg_non_basic: int = 0
    drg_due: int = 0
    fixed: int = 0


def case_share(case: CaseFacts, decision: ReviewDecision | None) -> Share:
    if decision is not None and decision.outcome == "amount":
        assert decision.amount is not None
        return Share(fixed=decision.amount)
    if case.in_point_pool:
        assert case.points is not None
        points = decision.points if decision is not None and decision.points is not None else case.points
        return Share(points=points, pool_non_basic=case.non_basic)
    if case.paymtd == "drg" and case.group_code is not None and case.outlier is None:
        standard = case.reference_cost or 0
        return Share(drg_standard=standard, drg_non_basic=case.non_basic, drg_due=case.provisional_due)
    return Share(fixed=case.item_fund)


def net_cases(entries: Iterable[Entry]) -> list[Entry]:
    """The settlements of DRG/DIP cases still in force among the entries (reversed ones drop out)."""
    reversed_ids = {e.setl_id for e in entries if e.reversal}
    return [e for e in entries if not e.reversal and e.setl_id not in reversed_ids and cleared_by_case(e)]


@dataclass(frozen=True)
class Pool:
    """What the year's cases of one fund book add up to, region-wide or per institution."""

    points: Decimal = Decimal(0)
    pool_non_basic: int = 0
    drg_standard: int = 0
    drg_non_basic: int = 0
    drg_due: int = 0
    fixed: int = 0
    cases: int = 0

    def plus(self, s: Share) -> Pool:
        return Pool(
            self.points + s.points,
            self.pool_non_basic + s.pool_non_basic,
            self.drg_standard + s.drg_standard,
            self.drg_non_basic + s.drg_non_basic,
            self.drg_due + s.drg_due,
            self.fixed + s.fixed,
            self.cases + 1,
        )


@dataclass(frozen=True)
class PointValue:
    fund_pay_type: FundPayType
    budget: int  # the DIP budget, before the reserve
    available: int  # what the points share: budget less the reserve (调剂金)
    non_basic: int  # what others paid for the year's DIP cases
    points: Decimal
    computed: Decimal  # fen per point, before floor and ceiling
    value: Decimal  # fen per point, unrounded: the one the dues use

    @property
    def published(self) -> Decimal:
        """Yuan per point, 4 decimals: the figure an agency announces (not used for money)."""
        return (self.value / 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def point_value(
    book: FundPayType, pool: Pool, budget: Budget | None, rules: ClearingRules, provisional_fen: Decimal | None
) -> PointValue | None:
    if pool.points == 0:
        return None
    if budget is None or budget.dip is None:
        raise YearEndGap(
            f"no DIP budget is recorded for fund book {book.value}: record one with ledger set-budget"
            " (or give one to ledger reprice --dip-budget)"
        )
    available = budget.dip - times(budget.dip, rules.budget_reserve_ratio)
    if rules.point_value_method == "reimbursement_ratio":
        assert rules.reimbursement_ratio is not None
        computed = Decimal(available) / rules.reimbursement_ratio / pool.points
    else:
        computed = (Decimal(available) + pool.pool_non_basic) / pool.points
    value = computed
    if provisional_fen is not None and rules.point_value_floor is not None:
        value = max(value, provisional_fen * rules.point_value_floor)
    if provisional_fen is not None and rules.point_value_ceiling is not None:
        value = min(value, provisional_fen * rules.point_value_ceiling)
    return PointValue(book, budget.dip, available, pool.pool_non_basic, pool.points, computed, value)


def drg_factor(book: FundPayType, pool: Pool, budget: Budget | None, rules: ClearingRules) -> Decimal | None:
    """The scale of the DRG base rates at year end (None: the standards stand)."""
    if rules.drg_year_end != "budget" or pool.drg_standard == 0:
        return None
    if budget is None or budget.drg is None:
        raise YearEndGap(f"drg_year_end is 'budget' but no DRG budget is recorded for fund book {book.value}")
    return (Decimal(budget.drg) + pool.drg_non_basic) / pool.drg_standard


@dataclass(frozen=True)
class InstitutionYear:
    fixmedins_code: str
    fund_pay_type: FundPayType
    cases: int
    points: Decimal
    dip_due: int
    drg_due: int
    item_due: int  # ungrouped cases, DRG outliers, special-review amounts
    annual_due: int
    prepaid: int
    deposit: int  # 质量保证金 withheld
    balance: int  # annual_due − deposit − prepaid: paid to (or, negative, back from) the hospital


def institution_year(
    key: Key, pool: Pool, pv: PointValue | None, factor: Decimal | None, prepaid: int, rules: ClearingRules
) -> InstitutionYear:
    dip_due = half_up(pool.points * pv.value - pool.pool_non_basic) if pv is not None else 0
    drg_due = pool.drg_due if factor is None else half_up(pool.drg_standard * factor - pool.drg_non_basic)
    annual = dip_due + drg_due + pool.fixed
    deposit = times(max(0, annual), rules.deposit_ratio)
    code, book = key
    return InstitutionYear(
        code, book, pool.cases, pool.points, dip_due, drg_due, pool.fixed, annual, prepaid, deposit,
        annual - deposit - prepaid,
    )  # fmt: skip


@dataclass(frozen=True)
class YearEnd:
    point_values: Mapping[FundPayType, PointValue]
    drg_factors: Mapping[FundPayType, Decimal]
    institutions: Mapping[Key, InstitutionYear]


def settle_year(
    cases: Sequence[Entry],
    decisions: Mapping[str, ReviewDecision],
    budgets: Mapping[FundPayType, Budget],
    prepaid: Mapping[Key, int],
    rules: ClearingRules,
    provisional_fen: Mapping[FundPayType, Decimal],
) -> YearEnd:
    """``cases``: the year's DRG/DIP cases in force (net_cases); ``prepaid``: Σ pre-payments."""
    region: dict[FundPayType, Pool] = {}
    per: dict[Key, Pool] = {key: Pool() for key in prepaid}
    for entry in cases:
        assert entry.case is not None
        share = case_share(entry.case, decisions.get(entry.setl_id))
        book = entry.case.fund_pay_type
        region[book] = region.get(book, Pool()).plus(share)
        key = (entry.fixmedins_code, book)
        per[key] = per.get(key, Pool()).plus(share)
    values = {b: point_value(b, p, budgets.get(b), rules, provisional_fen.get(b)) for b, p in region.items()}
    factors = {b: drg_factor(b, p, budgets.get(b), rules) for b, p in region.items()}
    institutions = {
        key: institution_year(key, pool, values.get(key[1]), factors.get(key[1]), prepaid.get(key, 0), rules)
        for key, pool in sorted(per.items())
    }
    return YearEnd(
        {b: v for b, v in values.items() if v is not None},
        {b: f for b, f in factors.items() if f is not None},
        institutions,
    )
