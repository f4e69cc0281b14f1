"""A hostile reading of the hospital clearing's money (docs/clearing.md, docs/money.md).

Two kinds of test live here:
- properties and worked examples of what was attacked and held (kept: they guard it);
- defects, each named by the behaviour the clearing should have, marked
  ``xfail(strict=True)`` until the code is fixed (a fix makes them XPASS, which fails the run:
  then drop the mark). A defect fixed on this branch has its test without the mark.

Arithmetic is written out by hand in the comments; oracles come from the policy and the docs.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from casemix_sample import REGION
from clearing_builders import RESIDENTS, dip, drg, entry, reversed_entry
from clearing_year import enrolments, year_of_claims
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger.adapters.memory import MemoryLedger
from ledger.clearing.commands import ClearingCommands, CommandRefused
from ledger.clearing.source import LogSource
from settlement.service_layer.handlers import SettlementService

from contracts.codes import FundPayType
from engine.clearing.closing import plan_month_close, plan_year_close
from engine.clearing.entries import Entry
from engine.clearing.events import (
    BudgetSet,
    ClearingEvent,
    MonthClosed,
    fold_institution,
    fold_region,
)
from engine.clearing.grouping import ClinicalCase
from engine.clearing.payer import catalogue_of
from engine.clearing.periods import (
    YEAR_END,
    Close,
    Figures,
    cleared_by_case,
    figures_by_institution,
    for_close,
    prepayment,
)
from engine.clearing.rules import CasePaymentRules, ClearingRules
from engine.clearing.terms import CaseMixTable, DipGroup, DrgGroup, InstitutionTerms
from engine.clearing.valuation import CaseValuation, dip_points, value_case
from engine.clearing.year_end import Budget, ReviewDecision, net_cases, settle_year
from engine.payer_files import OPEN_END, PayerFileError, load_payer_data
from engine.policy_files import load_policy_book

ROOT = Path(__file__).resolve().parents[2]
RULES = ClearingRules()  # prepay 0.9, actual_non_fund, no reserve, no deposit
YUAN = 100
DAY = date(2025, 3, 1)


# =========================================================================== the budget, shared out


@pytest.mark.parametrize(
    ("institutions", "budget", "each"),
    [
        (3, 100, 33),  # 100 fen over 3 equal institutions: 33.33… each, rounded: 33 + 33 + 33 = 99
        (2, 1, 1),  # 1 fen over 2 equal institutions: 0.5 each, half up: 1 + 1 = 2
    ],
)
def test_each_dip_due_is_its_own_points_times_the_point_value_rounded_as_the_hospital_recomputes_it(
    institutions: int, budget: int, each: int
) -> None:
    # Each institution: one case of 1 point, nobody else paid anything (non_basic 0), so with the
    # issue's method the point value is budget ÷ points. The dues are not shared out to the fen
    # (largest remainders): a hospital checks its statement from its points and the point value
    # alone, without the others' figures, so each due is rounded on its own (docs/clearing.md)
    # and the sum stays within half a fen per institution of the pool.
    cases = [entry(f"S{i}", dip("1", 0, 0), position=i + 1, day=DAY, code=f"H{i}") for i in range(institutions)]
    year = settle_year(cases, {}, {RESIDENTS: Budget(dip=budget)}, {}, RULES, {})
    assert [i.dip_due for i in year.institutions.values()] == [each] * institutions
    assert abs(sum(i.dip_due for i in year.institutions.values()) - budget) * 2 <= institutions


points_4dp = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10_000_000), places=4)
huge_cases = st.lists(
    st.tuples(st.sampled_from(["H1", "H2", "H3", "H4", "H5"]), points_4dp, st.integers(0, 10**12)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(huge_cases, st.integers(min_value=0, max_value=10**15))
def test_huge_budgets_and_many_decimal_points_keep_the_dues_within_half_a_fen_per_institution(
    rows: list[tuple[str, Decimal, int]], budget: int
) -> None:
    # Up to 10^13 yuan of budget and 10^7 points a case: the unrounded point value (28 digits of
    # Decimal) must not drift; each institution's due is rounded once, so the sum is off by at
    # most half a fen per institution (docs/clearing.md#year-end).
    cases = [
        entry(f"S{i}", dip(str(p), nb, 0), position=i + 1, day=DAY, code=code) for i, (code, p, nb) in enumerate(rows)
    ]
    year = settle_year(cases, {}, {RESIDENTS: Budget(dip=budget)}, {}, RULES, {})
    total = sum(i.dip_due for i in year.institutions.values())
    assert 2 * abs(total - budget) <= len(year.institutions)


def test_a_case_at_zero_points_keeps_the_dues_within_half_a_fen_of_the_budget_per_institution() -> None:
    # H1: 100 points, others paid 0. H2: a case the panel put at 0 points (a catalogue score of 0
    # does the same), others paid 30 yuan. Budget 100 yuan.
    # point value = (10,000 + 3,000 fen) ÷ 100 points = 130 fen
    # H1 = 100 × 130 = 13,000 fen; H2 = 0 × 130 − 3,000 = −3,000 fen; together 10,000: the budget
    h1 = entry("A", dip("100", 0, 0), position=1, day=DAY, code="H1")
    h2 = entry("B", dip("5", 3000, 0), position=2, day=DAY, code="H2")
    decided = {"B": ReviewDecision("B", "points", points=Decimal(0), reason="panel")}
    year = settle_year([h1, h2], decided, {RESIDENTS: Budget(dip=10_000)}, {}, RULES, {})
    assert year.point_values[RESIDENTS].value == Decimal(130)
    dues = {code: i.dip_due for (code, _), i in year.institutions.items()}
    assert 2 * abs(sum(dues.values()) - 10_000) <= len(dues)
    assert dues == {"H1": 13_000, "H2": -3000}


def test_a_zero_budget_leaves_the_dip_hospitals_exactly_what_others_paid() -> None:
    # budget 0; one case of 100 points, others paid 5,000: point value (0 + 5,000) ÷ 100 = 50 yuan;
    # due 100 × 50 − 5,000 = 0: the fund owes nothing, takes nothing back
    year = settle_year(
        [entry("A", dip("100", 5000 * YUAN, 3000 * YUAN), position=1, day=DAY)],
        {}, {RESIDENTS: Budget(dip=0)}, {("H002", RESIDENTS): 2700 * YUAN}, RULES, {},
    )  # fmt: skip
    h = year.institutions[("H002", RESIDENTS)]
    assert year.point_values[RESIDENTS].value == Decimal(5000)  # fen a point
    # pre-paid 0.9 × 3,000 = 2,700: all of it comes back
    assert (h.dip_due, h.annual_due, h.balance) == (0, 0, -2700 * YUAN)


def test_a_hospital_whose_cases_were_all_reversed_pays_back_every_prepayment() -> None:
    key = ("H002", RESIDENTS)
    year = settle_year([], {}, {}, {key: 9000 * YUAN}, RULES, {})
    h = year.institutions[key]
    assert (h.cases, h.annual_due, h.deposit, h.balance) == (0, 0, 0, -9000 * YUAN)


# =========================================================================== one rounding rule


def test_prepayment_rounds_half_away_from_zero_both_ways() -> None:
    # docs/money.md: half up (away from zero), once. 0.9 × 5 fen = 4.5 → 5; 0.9 × −5 = −4.5 → −5,
    # so a case pre-paid in one month and reversed in another nets to zero.
    assert prepayment(Figures(item_fund=5), Decimal("0.9")) == 5
    assert prepayment(Figures(item_fund=-5), Decimal("0.9")) == -5


def _dip_rules(point_value: str, coefficient: str = "1") -> CasePaymentRules:
    return CasePaymentRules(
        dip_point_value=Decimal(point_value), dip_hospital_coefficient={"default": Decimal(coefficient)}
    )


def test_dip_points_round_half_up_at_the_fifth_decimal_not_to_even() -> None:
    # score 0.33345 × coefficient 1 = 0.33345 points → 4 places half up: 0.3335 (to even: 0.3334)
    base, points, outlier = dip_points(Decimal("0.33345"), 100, 100, "2", _dip_rules("12"))
    assert (base, points, outlier) == (Decimal("0.33345"), Decimal("0.3335"), None)


def _dip_case(
    score: str, medfee: int, item_fund: int, rules: CasePaymentRules, clinical: ClinicalCase | None = None
) -> CaseValuation:
    row = DipGroup("G1", "K35.8", "47.01", "core", Decimal(score), date(2024, 1, 1), OPEN_END)
    return CaseValuation(
        clinical or ClinicalCase("K35.800", "47.0100x001", None, None, None),
        InstitutionTerms("H002", "2", "640104", "dip"), "640000", RESIDENTS, rules,
        CaseMixTable((row,), ()), DAY, medfee, item_fund,
    )  # fmt: skip


def test_the_provisional_dip_due_rounds_half_a_fen_up() -> None:
    # point value 0.125 yuan = 12.5 fen; score 5 × 1 = 5 points → 62.5 fen → 63 (to even: 62).
    # reference 63 fen; cost 100 fen lies in [0.5 × 63, 2 × 63]: no outlier; nobody else paid.
    case, _ = value_case(_dip_case("5", 100, 100, _dip_rules("0.125")))
    assert (case.reference_cost, case.points, case.provisional_due) == (63, Decimal("5.0000"), 63)


def test_a_score_coefficient_and_point_value_with_many_decimals_are_rounded_once_each() -> None:
    # score 123.456789 × coefficient 0.87654321 = 108.21521012635269 points → kept 108.2152
    # point value 12.345678 yuan = 1,234.5678 fen
    # reference = 108.21521012635269 × 1,234.5678 = 133,599.0138922… → 133,599 fen
    # provisional = 108.2152 × 1,234.5678 = 133,599.00139056 → 133,599 − others 599 = 133,000
    rules = _dip_rules("12.345678", "0.87654321")
    case, _ = value_case(_dip_case("123.456789", 140_000, 139_401, rules))
    assert case.base_points == Decimal("108.21521012635269")
    assert (case.points, case.reference_cost, case.non_basic) == (Decimal("108.2152"), 133_599, 599)
    assert case.provisional_due == 133_000


# =========================================================================== the payer decides

declared_codes = st.one_of(st.none(), st.text(alphabet="ABCDEFGHK0123456789.-", min_size=1, max_size=12))
declared_values = st.one_of(st.none(), st.decimals(min_value=0, max_value=100_000, places=4))
costs = st.integers(min_value=1, max_value=10_000_000)


@settings(max_examples=200, deadline=None)
@given(declared_codes, declared_values, costs, st.integers(min_value=0, max_value=100))
def test_a_dip_code_or_score_the_hospital_sends_never_changes_the_points_or_the_money(
    code: str | None, value: Decimal | None, medfee: int, fund_share: int
) -> None:
    item_fund = medfee * fund_share // 100
    rules = _dip_rules("12", "0.85")
    fund_view, _ = value_case(_dip_case("800", medfee, item_fund, rules))
    sent = ClinicalCase("K35.800", "47.0100x001", code, None, value)
    hospital_view, _ = value_case(_dip_case("800", medfee, item_fund, rules, sent))
    money = ("group_code", "points", "reference_cost", "outlier", "special_review", "provisional_due")
    assert [getattr(hospital_view, f) for f in money] == [getattr(fund_view, f) for f in money]


@settings(max_examples=200, deadline=None)
@given(declared_values, costs, st.integers(min_value=0, max_value=100))
def test_a_drg_weight_the_hospital_sends_never_changes_the_standard_or_the_money(
    value: Decimal | None, medfee: int, fund_share: int
) -> None:
    item_fund = medfee * fund_share // 100
    rules = CasePaymentRules(drg_base_rate={"default": Decimal(9000)})
    table = CaseMixTable((), (DrgGroup("GB29", Decimal("1.65"), date(2024, 1, 1), OPEN_END),))

    def valued(weight: Decimal | None) -> tuple[object, ...]:
        given_ = CaseValuation(
            ClinicalCase("K35.800", None, None, "GB29", weight), InstitutionTerms("H001", "2", "640104", "drg"),
            "640000", RESIDENTS, rules, table, DAY, medfee, item_fund,
        )  # fmt: skip
        case, _ = value_case(given_)
        return case.reference_cost, case.outlier, case.provisional_due

    # standard = 1.65 × 9,000 = 14,850 yuan whatever weight the hospital claims
    assert valued(value) == valued(None)
    assert valued(None)[0] == 1_485_000


# =========================================================================== periods and the year


@st.composite
def logged_year(draw: st.DrawFn) -> tuple[list[Entry], list[int]]:
    """Settlements of a coverage year at random positions and months, some reversed later
    (later in the log, same month or after, possibly after the year: counted as December)."""
    originals = draw(
        st.lists(
            st.tuples(st.integers(1, 5000), st.integers(1, 12), st.sampled_from(["H1", "H2", "H3"]),
                      st.integers(0, 10**7), st.decimals(0, 5000, places=4)),
            min_size=1, max_size=40, unique_by=lambda t: t[0],
        )
    )  # fmt: skip
    every: list[Entry] = []
    for pos, month, code, fund, pts in originals:
        e = entry(f"S{pos}", dip(str(pts), 0, fund), position=pos, day=date(2025, month, 3), code=code)
        every.append(e)
        if draw(st.booleans()):
            later = draw(st.integers(0, 6))
            day = date(2025, month + later, 20) if month + later <= 12 else date(2026, 1, 10)
            every.append(reversed_entry(e, f"R{pos}", position=pos + 5000 + draw(st.integers(1, 5000)), day=day))
    reach = sorted(draw(st.lists(st.integers(1, 15_000), min_size=13, max_size=13)))
    return every, reach


@settings(max_examples=200, deadline=None)
@given(logged_year())
def test_the_month_closes_and_the_year_end_close_add_up_to_the_years_figures(
    year: tuple[list[Entry], list[int]],
) -> None:
    every, reach = year
    closes: list[Close] = []
    total: dict[tuple[str, FundPayType], Figures] = {}
    seen: list[str] = []
    for month, up_to in zip([*range(1, 13), YEAR_END], reach, strict=True):
        counted = for_close(every, month, up_to, closes)
        seen += [e.entry_id for e in counted]
        for key, f in figures_by_institution(counted).items():
            total[key] = total.get(key, Figures()) + f
        closes.append(Close(month, up_to))
    upto_year_end = [e for e in every if e.position <= reach[-1]]
    assert sorted(seen) == sorted(e.entry_id for e in upto_year_end)  # each entry in one period
    assert total == {k: v for k, v in figures_by_institution(upto_year_end).items()}


def test_a_regrouped_case_counts_its_new_group_only_and_the_months_net_to_it() -> None:
    # January: S1 in group G1, 100 points; March: S1 reversed and settled again as S2 in G2, 150
    first = entry("S1", dip("100", 0, 1000 * YUAN, group_code="G1"), position=10, day=date(2025, 1, 5))
    undo = reversed_entry(first, "R1", position=40, day=date(2025, 3, 2))
    again = entry("S2", dip("150", 0, 1500 * YUAN, group_code="G2"), position=41, day=date(2025, 3, 2))
    every = [first, undo, again]
    january = figures_by_institution(for_close(every, 1, 20, []))[("H002", RESIDENTS)]
    march = figures_by_institution(for_close(every, 3, 50, [Close(1, 20), Close(2, 30)]))[("H002", RESIDENTS)]
    # January +100 points, +1,000; March −100 + 150 = +50 points, −1,000 + 1,500 = +500
    assert (january.points, january.item_fund) == (Decimal(100), 1000 * YUAN)
    assert (march.points, march.item_fund, march.cases, march.reversals) == (Decimal(50), 500 * YUAN, 1, 1)
    assert [e.setl_id for e in net_cases(every)] == ["S2"]


def test_a_reversal_recorded_after_december_closed_falls_in_the_year_end_close() -> None:
    december = entry("S1", dip("100", 0, 1000 * YUAN), position=10, day=date(2025, 12, 20))
    undo = reversed_entry(december, "R1", position=150, day=date(2026, 1, 10))  # in 2026, of a 2025 stay
    closes = [Close(m, 100) for m in range(1, 13)]
    assert undo.month == 12 and for_close([december, undo], 12, 100, closes[:11]) == [december]
    late = figures_by_institution(for_close([december, undo], YEAR_END, 200, closes))[("H002", RESIDENTS)]
    assert (late.reversals, late.points, late.item_fund) == (1, Decimal(-100), -1000 * YUAN)
    assert net_cases([december, undo]) == []


# =========================================================================== event folds


def test_a_budget_set_in_parts_keeps_each_part() -> None:
    dip_only = BudgetSet(REGION, 2025, RESIDENTS, Budget(dip=400_000 * YUAN))
    drg_only = BudgetSet(REGION, 2025, RESIDENTS, Budget(drg=250_000 * YUAN))
    state = fold_region([dip_only, drg_only])
    assert state.budgets[RESIDENTS] == Budget(dip=400_000 * YUAN, drg=250_000 * YUAN)
    # a mid-year adjustment (年中调整) of the DIP pool replaces that part only
    adjusted = fold_region([dip_only, drg_only, BudgetSet(REGION, 2025, RESIDENTS, Budget(dip=380_000 * YUAN))])
    assert adjusted.budgets[RESIDENTS] == Budget(dip=380_000 * YUAN, drg=250_000 * YUAN)


def test_a_hospital_treating_two_regions_patients_is_prepaid_and_settled_by_each_region_apart() -> None:
    # H002's January: a 640000 patient (100 points, fund paid 10,000 item by item) and a 650000
    # patient (50 points, 5,000). Each region pre-pays 0.9 of its own: 9,000 and 4,500.
    a = entry("A1", dip("100", 0, 10_000 * YUAN), position=1, day=date(2025, 1, 5))
    b = entry("B1", dip("50", 0, 5000 * YUAN, region="650000"), position=2, day=date(2025, 1, 6))
    regions = {"640000": [a], "650000": [b]}
    inst_stream: list[ClearingEvent] = []
    region_streams: dict[str, list[ClearingEvent]] = {
        r: [BudgetSet(r, 2025, RESIDENTS, Budget(dip=10_000 * YUAN))] for r in regions
    }
    for month in range(1, 13):
        for r, cases in regions.items():  # 640000 closes each month first, then 650000
            plan = plan_month_close(r, 2025, month, 100, cases, fold_region(region_streams[r]), lambda _b: RULES)
            region_streams[r].append(plan.region)
            inst_stream += [plan.institutions["H002"]]
    assert sum(m.books[0].prepay for m in inst_stream if isinstance(m, MonthClosed) and m.books) == 13_500 * YUAN
    year = plan_year_close(
        "640000", 2025, 100, [a], fold_region(region_streams["640000"]),
        {"H002": fold_institution(inst_stream, "640000")}, lambda _b: RULES, {},
    )  # fmt: skip
    [book] = year.institutions["H002"].books
    # 640000's year: 100 points share its 10,000 budget: due 10,000; it pre-paid 9,000: 1,000 left
    assert (book.annual_due, book.prepaid, book.balance) == (10_000 * YUAN, 9000 * YUAN, 1000 * YUAN)


# =========================================================================== the payer's catalogue


def test_a_dip_catalogues_average_cost_column_reaches_the_outlier_reference(tmp_path: Path) -> None:
    folder = tmp_path / "640000"
    shutil.copytree(ROOT / "policies" / "payer" / "640000", folder)
    dip_csv = folder / "casemix" / "dip.csv"
    head, *rows = dip_csv.read_text(encoding="utf-8").splitlines()
    with_cost = [f"{r},10000.00" if r.startswith("DIP-K35-1,") else f"{r}," for r in rows]
    dip_csv.write_text("\n".join([f"{head},avg_cost", *with_cost]) + "\n", encoding="utf-8")
    table = catalogue_of(load_payer_data(folder).casemix)
    [row] = [r for r in table.dip_rows("K35.800", DAY) if r.dip_code == "DIP-K35-1"]
    assert row.avg_cost == 10_000 * YUAN  # the column is yuan, the clearing keeps fen


@pytest.mark.parametrize("cell", ["0", "-5.00", "10.005", "NaN"])
def test_a_dip_average_cost_that_is_no_positive_amount_of_yuan_is_refused_naming_the_column(
    tmp_path: Path, cell: str
) -> None:
    folder = tmp_path / "640000"
    shutil.copytree(ROOT / "policies" / "payer" / "640000", folder)
    dip_csv = folder / "casemix" / "dip.csv"
    head, first, *_ = dip_csv.read_text(encoding="utf-8").splitlines()
    dip_csv.write_text(f"{head},avg_cost\n{first},{cell}\n", encoding="utf-8")
    with pytest.raises(PayerFileError, match="column avg_cost"):
        load_payer_data(folder)


# =========================================================================== the commands

POLICIES = load_policy_book(ROOT / "policies")


class World:
    """The settlement service and the clearing commands over the in-memory ledger."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)
        self.store = MemoryLedger(clock=lambda: self.now)
        self.service = SettlementService(self.store, POLICIES, lambda: self.now)
        self.source = LogSource(self.store)
        self.commands = ClearingCommands(self.store, self.source, POLICIES, lambda: self.now)

    async def january(self) -> list[Entry]:
        for m in enrolments(30):
            await self.service.handle(m.raw, received_at=m.received_at)
        for m in year_of_claims(people=30, per_month=20, months=1)[0]:
            self.now = m.received_at
            await self.service.handle(m.raw, received_at=m.received_at)
        return await self.source.region_cases(REGION, 2025)


async def test_a_budget_set_back_to_an_earlier_figure_is_the_one_in_force() -> None:
    world = World()
    for fen in (400_000 * YUAN, 450_000 * YUAN, 400_000 * YUAN):  # 年初预算, 年中调整, then undone
        assert not (await world.commands.set_budget(REGION, 2025, RESIDENTS, Budget(dip=fen))).already
    version, state = await world.commands.region(REGION, 2025)
    assert state.budgets[RESIDENTS].dip == 400_000 * YUAN and version == 3
    retry = await world.commands.set_budget(REGION, 2025, RESIDENTS, Budget(dip=400_000 * YUAN))
    assert retry.already and retry.answer["in_force"]  # a retry of the figure in force writes nothing
    assert (await world.commands.region(REGION, 2025))[0] == 3


async def test_a_special_review_decision_set_back_to_an_earlier_one_is_the_one_in_force() -> None:
    world = World()
    case = next(e for e in await world.january() if cleared_by_case(e) and not e.reversal)
    for fen in (300 * YUAN, 500 * YUAN, 300 * YUAN):
        await world.commands.decide_review(case.setl_id, ReviewDecision(case.setl_id, "amount", fen, reason="panel"))
    _, state = await world.commands.institution(case.fixmedins_code, 2025, REGION)
    assert state.decisions[case.setl_id].amount == 300 * YUAN


async def test_a_negative_budget_is_refused() -> None:
    world = World()
    with pytest.raises(CommandRefused, match="negative"):
        await world.commands.set_budget(REGION, 2025, RESIDENTS, Budget(dip=-1 * YUAN))
    _, state = await world.commands.region(REGION, 2025)
    assert state.budgets == {}


@pytest.mark.parametrize(
    "decision",
    [
        ReviewDecision("?", "amount", amount=-100 * YUAN),  # the fund would claw back beyond the case
        ReviewDecision("?", "points", points=Decimal(-500)),  # negative points shrink everyone's share
        ReviewDecision("?", "points", points=Decimal("NaN")),  # the year end could never close
        ReviewDecision("?", "points", points=Decimal("Infinity")),  # nor this (a traceback at close-year)
    ],
    ids=["negative amount", "negative points", "NaN points", "infinite points"],
)
async def test_a_special_review_decision_of_a_negative_or_non_finite_amount_or_points_is_refused(
    decision: ReviewDecision,
) -> None:
    world = World()
    case = next(e for e in await world.january() if e.case is not None and e.case.in_point_pool)
    decision = replace(decision, setl_id=case.setl_id)
    with pytest.raises(CommandRefused):
        await world.commands.decide_review(case.setl_id, decision)
    _, state = await world.commands.institution(case.fixmedins_code, 2025, REGION)
    assert state.decisions == {}


async def test_a_deposit_release_coefficient_that_is_not_a_number_is_refused_in_a_sentence() -> None:
    world = World()
    with pytest.raises(CommandRefused, match="between 0 and 1"):
        await world.commands.release_deposit("H64010100002", 2025, RESIDENTS, Decimal("NaN"))


# =========================================================================== reprice


def test_reprice_under_the_same_average_cost_policy_gives_a_dip_outlier_its_recorded_points() -> None:
    from engine_builders import resident_policy
    from ledger.clearing.reprice import revalue

    policy = resident_policy(
        case_payment={**resident_policy().case_payment.model_dump(), "dip_reference": "group_average_cost"}
    )
    row = DipGroup("G1", "K35.8", "47.01", "core", Decimal(800), date(2024, 1, 1), OPEN_END, 10_000 * YUAN)
    given_ = CaseValuation(
        ClinicalCase("K35.800", "47.0100x001", None, None, None), InstitutionTerms("H002", "2", "640104", "dip"),
        "640000", RESIDENTS, policy.case_payment, CaseMixTable((row,), ()), DAY, 25_000 * YUAN, 10_000 * YUAN,
    )  # fmt: skip
    recorded, _ = value_case(given_)
    # level 2: 800 × 0.85 = 680 points; reference = the group's average cost 10,000;
    # 25,000 > 2 × 10,000: high outlier, 680 × (25,000 ÷ 10,000 − 2 + 1) = 680 × 1.5 = 1,020 points
    assert recorded.points == Decimal("1020.0000")
    # the same policy and its catalogue, the same case (the average cost is the catalogue's, not
    # the case's: reprice --clearing passes the repricing policy's case mix)
    again = revalue(recorded, policy, DAY, CaseMixTable((row,), ()))
    assert (again.reference_cost, again.points) == (recorded.reference_cost, recorded.points)
    # without a catalogue the reference falls back to points × provisional value, as at settlement
    assert revalue(recorded, policy, DAY).points != recorded.points


@pytest.mark.parametrize(("mode", "due"), [("standard", 1000 * YUAN), ("budget", 500 * YUAN)])
def test_a_drg_case_whose_other_payers_paid_more_than_its_standard_lowers_the_due_only_under_a_budget(
    mode: str, due: int
) -> None:
    # H002's two DRG stays, each a standard of 1,000: others paid 1,500 for the first, nothing
    # for the second. Standard mode: max(0, 1,000 − 1,500) + max(0, 1,000 − 0) = 1,000.
    # Budget mode with a DRG budget of 500: factor = (500 + 1,500) ÷ 2,000 = 1.0, due =
    # 2,000 × 1.0 − 1,500 = 500 — the budget, shared with no floor per case (docs/clearing.md).
    first = entry("S1", drg(1000 * YUAN, 1500 * YUAN, 0), position=1, day=DAY)
    second = entry("S2", drg(1000 * YUAN, 0, 0), position=2, day=DAY)
    rules = ClearingRules(drg_year_end=mode)
    year = settle_year([first, second], {}, {RESIDENTS: Budget(drg=500 * YUAN)}, {}, rules, {})
    [institution] = year.institutions.values()
    assert institution.drg_due == due
