"""Worked examples and properties of the clearing periods and the year end
(docs/clearing.md#periods and #year-end), with the arithmetic written out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from clearing_builders import RESIDENTS, dip, drg, entry, reversed_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clearing.periods import Close, counted_in, figures_by_institution, for_close, prepayment
from engine.clearing.rules import ClearingRules
from engine.clearing.year_end import Budget, ReviewDecision, net_cases, settle_year

RULES = ClearingRules()  # prepay 0.9, actual_non_fund, no deposit
YUAN = 100


def test_year_end_point_value_and_each_institutions_due_worked_by_hand() -> None:
    # H002: A 680 points (others paid 2,950), B 250 points (1,200); H004: C 1,000 points (4,000)
    a = entry("A", dip("680", 2950 * YUAN, 7050 * YUAN), position=1, day=date(2025, 3, 2))
    b = entry("B", dip("250", 1200 * YUAN, 1800 * YUAN), position=2, day=date(2025, 3, 3))
    c = entry("C", dip("1000", 4000 * YUAN, 8000 * YUAN), position=3, day=date(2025, 3, 4), code="H004")
    prepaid = {("H002", RESIDENTS): 7965 * YUAN, ("H004", RESIDENTS): 7200 * YUAN}  # 0.9 × 8,850; 0.9 × 8,000
    year = settle_year([a, b, c], {}, {RESIDENTS: Budget(dip=15000 * YUAN)}, prepaid, RULES, {})
    pv = year.point_values[RESIDENTS]
    # point value = (budget 15,000 + others 2,950 + 1,200 + 4,000) ÷ (680 + 250 + 1,000)
    #             = 23,150 ÷ 1,930 = 11.99481865… yuan a point (kept unrounded)
    assert pv.value == Decimal(2315000) / Decimal(1930)
    assert pv.published == Decimal("11.9948")
    h002, h004 = year.institutions[("H002", RESIDENTS)], year.institutions[("H004", RESIDENTS)]
    # H002: 930 × 23,150 ÷ 1,930 = 11,155.18134… − 4,150 = 7,005.18134… → 7,005.18
    # H004: 1,000 × 23,150 ÷ 1,930 = 11,994.81865… − 4,000 = 7,994.81865… → 7,994.82
    assert (h002.dip_due, h004.dip_due) == (700518, 799482)
    assert h002.dip_due + h004.dip_due == 15000 * YUAN  # the budget, to the fen
    # year-end balance = due − pre-payments: H002 7,005.18 − 7,965 = −959.82 (pays back)
    assert (h002.balance, h004.balance) == (-95982, 79482)  # H004: 7,994.82 − 7,200


def test_a_point_value_floor_relative_to_the_provisional_one_holds() -> None:
    a = entry("A", dip("1000", 0, 0), position=1, day=date(2025, 3, 2))
    rules = ClearingRules(point_value_floor=Decimal("0.9"))
    # budget 9,000 ÷ 1,000 points = 9 a point, below 0.9 × the provisional 12 = 10.80: 10.80 stands
    year = settle_year([a], {}, {RESIDENTS: Budget(dip=9000 * YUAN)}, {}, rules, {RESIDENTS: Decimal(1200)})
    assert year.point_values[RESIDENTS].computed == Decimal(900)
    assert year.point_values[RESIDENTS].value == Decimal("1080.0")
    assert year.institutions[("H002", RESIDENTS)].dip_due == 10800 * YUAN


def test_the_specs_reimbursement_ratio_method_grosses_the_budget_up() -> None:
    a = entry("A", dip("1000", 5000 * YUAN, 0), position=1, day=date(2025, 3, 2))
    rules = ClearingRules(point_value_method="reimbursement_ratio", reimbursement_ratio=Decimal("0.75"))
    # (9,000 ÷ 0.75) ÷ 1,000 = 12 a point; the due is 1,000 × 12 − 5,000 = 7,000
    year = settle_year([a], {}, {RESIDENTS: Budget(dip=9000 * YUAN)}, {}, rules, {})
    assert year.point_values[RESIDENTS].value == Decimal(1200)
    assert year.institutions[("H002", RESIDENTS)].dip_due == 7000 * YUAN


def test_drg_outliers_are_owed_item_level_unless_special_review_decides_otherwise() -> None:
    normal = entry("N", drg(18000 * YUAN, 7585 * YUAN, 12415 * YUAN), position=1, day=date(2025, 3, 1), code="H001")
    high = entry("H", drg(18000 * YUAN, 20000 * YUAN, 40000 * YUAN, "high"), position=2, day=date(2025, 3, 2),
                 code="H001")  # fmt: skip
    low = entry("L", drg(18000 * YUAN, 2135 * YUAN, 3965 * YUAN, "low"), position=3, day=date(2025, 3, 3), code="H001")
    key = ("H001", RESIDENTS)
    before = settle_year([normal, high, low], {}, {}, {key: 0}, RULES, {}).institutions[key]
    # 18,000 − 7,585 = 10,415 by the standard; the outliers item by item: 40,000 + 3,965
    assert (before.drg_due, before.item_due, before.annual_due) == (1041500, 4396500, 5438000)
    decided = {"H": ReviewDecision("H", "amount", amount=30000 * YUAN, reason="expert panel")}
    after = settle_year([normal, high, low], decided, {}, {key: 0}, RULES, {}).institutions[key]
    # the panel's 30,000 replaces the high outlier's 40,000: 10,415 + 30,000 + 3,965 = 44,380
    assert (after.item_due, after.annual_due) == (3396500, 4438000)


def test_a_special_review_may_give_a_dip_case_other_points() -> None:
    a = entry("A", dip("500", 0, 0), position=1, day=date(2025, 3, 2))
    b = entry("B", dip("500", 0, 0), position=2, day=date(2025, 3, 2), code="H004")
    decided = {"A": ReviewDecision("A", "points", points=Decimal(1500))}
    year = settle_year([a, b], decided, {RESIDENTS: Budget(dip=20000 * YUAN)}, {}, RULES, {})
    # 1,500 + 500 points share 20,000: 10 a point; H002 15,000, H004 5,000
    assert year.institutions[("H002", RESIDENTS)].dip_due == 15000 * YUAN
    assert year.institutions[("H004", RESIDENTS)].dip_due == 5000 * YUAN


def test_a_deposit_is_withheld_from_the_year_end_amount() -> None:
    a = entry("A", dip("1000", 0, 10000 * YUAN), position=1, day=date(2025, 3, 2))
    rules = ClearingRules(deposit_ratio=Decimal("0.03"))
    year = settle_year([a], {}, {RESIDENTS: Budget(dip=10000 * YUAN)}, {("H002", RESIDENTS): 9000 * YUAN}, rules, {})
    h = year.institutions[("H002", RESIDENTS)]
    # due 10,000; deposit 3% = 300; balance 10,000 − 300 − 9,000 = 700
    assert (h.annual_due, h.deposit, h.balance) == (1000000, 30000, 70000)


def test_a_reversal_recorded_in_a_later_month_counts_there_and_leaves_the_closed_month_alone() -> None:
    b = entry("B", dip("250", 1200 * YUAN, 1800 * YUAN), position=10, day=date(2025, 3, 3))
    late = entry("D", dip("100", 0, 1000 * YUAN), position=25, day=date(2025, 3, 31))  # recorded after March closed
    undo = reversed_entry(b, "R-B", position=30, day=date(2025, 4, 2))
    every = [b, late, undo]
    march = for_close(every, 3, 20, [Close(1, 1), Close(2, 2)])
    assert [e.entry_id for e in march] == ["B"]
    april = for_close(every, 4, 40, [Close(1, 1), Close(2, 2), Close(3, 20)])
    assert [e.entry_id for e in april] == ["D", "R-B"]
    figures = figures_by_institution(april)[("H002", RESIDENTS)]
    # April: the late March case D (+100 points, +1,000) and B's reversal (−250 points, −1,800)
    assert (figures.cases, figures.reversals, figures.points, figures.item_fund) == (1, 1, Decimal(-150), -80000)
    assert prepayment(figures, RULES.prepay_ratio) == -72000  # 0.9 × −800: taken back from the hospital
    assert [e.setl_id for e in net_cases(every)] == ["D"]  # the year end counts D only


# --------------------------------------------------------------------------- properties

amounts = st.integers(min_value=0, max_value=5_000_000)
points = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(5000), places=4)
cases = st.lists(
    st.tuples(st.sampled_from(["H1", "H2", "H3", "H4"]), points, amounts, amounts), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(cases, st.integers(min_value=1, max_value=10**10), st.booleans())
def test_the_dip_dues_add_up_to_the_budget_within_one_fen_per_institution(
    rows: list[tuple[str, Decimal, int, int]], budget: int, reversed_one: bool
) -> None:
    every = [
        entry(f"S{i}", dip(str(p), nb, item), position=i + 1, day=date(2025, 5, 1), code=code)
        for i, (code, p, nb, item) in enumerate(rows)
    ]
    if reversed_one:
        every.append(reversed_entry(every[0], "R0", position=len(every) + 1, day=date(2025, 6, 1)))
    alive = net_cases(every)
    if not alive:
        return
    year = settle_year(alive, {}, {RESIDENTS: Budget(dip=budget)}, {}, RULES, {})
    total = sum(i.dip_due for i in year.institutions.values())
    assert abs(total - budget) <= len(year.institutions)


@settings(max_examples=200, deadline=None)
@given(cases, st.integers(min_value=1, max_value=10**10), st.lists(amounts, min_size=4, max_size=4),
       st.decimals(min_value=0, max_value=Decimal("0.05"), places=3))  # fmt: skip
def test_prepayments_deposit_and_balance_add_up_to_the_annual_due(
    rows: list[tuple[str, Decimal, int, int]], budget: int, paid: list[int], deposit: Decimal
) -> None:
    every = [
        entry(f"S{i}", dip(str(p), nb, item), position=i + 1, day=date(2025, 5, 1), code=code)
        for i, (code, p, nb, item) in enumerate(rows)
    ]
    prepaid = {(code, RESIDENTS): fen for code, fen in zip(["H1", "H2", "H3", "H4"], paid, strict=True)}
    rules = ClearingRules(deposit_ratio=deposit)
    year = settle_year(every, {}, {RESIDENTS: Budget(dip=budget)}, prepaid, rules, {})
    for key, inst in year.institutions.items():
        assert inst.prepaid == prepaid[key]
        assert inst.prepaid + inst.deposit + inst.balance == inst.annual_due


entries_in_a_year = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=12)),
    min_size=1,
    max_size=60,
    unique_by=lambda t: t[0],
)


@settings(max_examples=200, deadline=None)
@given(entries_in_a_year, st.lists(st.integers(min_value=1, max_value=10_000), min_size=12, max_size=12))
def test_closing_periods_counts_each_entry_once_and_never_rewrites_a_closed_one(
    rows: list[tuple[int, int]], reach: list[int]
) -> None:
    from engine.clearing.closing import CloseRefused, plan_month_close
    from engine.clearing.events import RegionYear, fold_region

    every = [entry(f"S{pos}", dip("10", 0, 100), position=pos, day=date(2025, month, 1)) for pos, month in rows]
    ups = sorted(reach)  # each close reaches at least as far in the log as the one before
    recorded: list = []
    counted_before: dict[str, int | None] = {}
    for month, up_to in enumerate(ups, start=1):
        state = fold_region(recorded)
        plan = plan_month_close("640000", 2025, month, up_to, every, state, lambda _b: RULES)
        assert plan == plan_month_close("640000", 2025, month, up_to, every, state, lambda _b: RULES)  # deterministic
        recorded.append(plan.region)
        closes = fold_region(recorded).closes
        for e in every:  # a period once closed keeps what it counted
            now = counted_in(e, closes)
            assert counted_before.get(e.entry_id) in (None, now)
            counted_before[e.entry_id] = now
        with pytest.raises(CloseRefused, match="already closed"):  # closing it again changes nothing
            plan_month_close("640000", 2025, month, up_to, every, fold_region(recorded), lambda _b: RULES)
    counted = [e for e in every if counted_before[e.entry_id] is not None]
    assert sorted(e.entry_id for e in counted) == sorted(e.entry_id for e in every if e.position <= ups[-1])
    assert isinstance(fold_region(recorded), RegionYear)
