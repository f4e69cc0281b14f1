"""Daily reconciliation (3201/3202) and the city ↔ county roll-up, worked by hand
(docs/clearing.md#reconciliation, #city-county)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from clearing_builders import RESIDENTS, entry, reversed_entry

from contracts.codes import FundPayType
from engine.clearing.reconcile import BALANCED, NOT_BALANCED, DetailRow, TotalsRow, reconcile
from engine.clearing.rollup import Spending, roll_up
from engine.clearing.rules import RiskSharing

DAY = date(2025, 3, 2)


def day_entries() -> list:
    s1 = replace(entry("S1", None, position=1, day=DAY), medfee=10000, fund_pay_sumamt=7000)
    s2 = replace(entry("S2", None, position=2, day=DAY), medfee=20000, fund_pay_sumamt=15000, acct_pay=1000)
    other_day = replace(entry("S3", None, position=3, day=date(2025, 3, 3)), medfee=99900)
    return [s1, s2, reversed_entry(s1, "R1", position=4, day=DAY), other_day]


def totals(count: int, medfee: int, fund: int, acct: int, flag: str = "1") -> TotalsRow:
    return TotalsRow("390", "11", "640000", DAY, DAY, medfee, fund, acct, count, flag)  # type: ignore[arg-type]


def test_totals_that_match_the_ledger_are_balanced() -> None:
    # S1 100.00 + S2 200.00 − S1's reversal 100.00 = 200.00; funds 70 + 150 − 70 = 150; account 10; 3 rows
    [result] = reconcile("H002", [totals(3, 20000, 15000, 1000)], day_entries())
    assert (result.stmt_rslt, result.differences) == (BALANCED, ())


def test_without_refunds_only_forward_settlements_count() -> None:
    # refd_setl_flag 0: S1 and S2 only: 300.00, funds 220.00, account 10.00, 2 settlements
    [result] = reconcile("H002", [totals(2, 30000, 22000, 1000, "0")], day_entries())
    assert result.stmt_rslt == BALANCED


def test_a_settlement_missing_at_the_hospital_is_a_mismatch_that_names_it() -> None:
    details = [
        DetailRow("S1", "M-S1", "P-S1", 10000, 7000, 0),
        DetailRow("R1", "M-S1", "P-S1", -10000, -7000, 0, "1"),
    ]
    [result] = reconcile("H002", [totals(2, 0, 0, 0)], day_entries(), details)
    assert result.stmt_rslt == NOT_BALANCED
    assert "count ledger 3 / institution 2" in result.stmt_rslt_dscr
    [missing] = result.differences
    assert (missing.setl_id, missing.memo, missing.institution) == ("S2", "missing_at_institution", None)
    assert missing.ledger is not None and missing.ledger.medfee_sumamt == 20000


def test_a_settlement_the_ledger_does_not_know_and_one_with_other_amounts_are_named() -> None:
    details = [
        DetailRow("S1", "M-S1", "P-S1", 10000, 7000, 0),
        DetailRow("S2", "M-S2", "P-S2", 20000, 14000, 1000),  # the fund paid 150.00, not 140.00
        DetailRow("R1", "M-S1", "P-S1", -10000, -7000, 0, "1"),
        DetailRow("X9", "M-X9", "P-X9", 500, 0, 0),  # never settled here
    ]
    [result] = reconcile("H002", [totals(4, 20500, 14000, 1000)], day_entries(), details)
    assert {(d.setl_id, d.memo) for d in result.differences} == {("S2", "amounts_differ"), ("X9", "missing_in_ledger")}


def test_without_detail_rows_a_mismatch_lists_the_ledgers_settlements() -> None:
    [result] = reconcile("H002", [totals(2, 20000, 15000, 1000)], day_entries())
    assert [(d.setl_id, d.memo) for d in result.differences] == [("S1", "listed"), ("S2", "listed"), ("R1", "listed")]


def test_counties_share_overspend_and_surplus_with_the_city_by_the_regions_rule() -> None:
    staff = FundPayType.STAFF_POOLED
    spending = {
        ("H001", RESIDENTS): Spending(1_000_000, -50_000),  # item level 10,000, DRG pays 500 less
        ("H002", RESIDENTS): Spending(600_000, 20_000),
        ("H004", RESIDENTS): Spending(300_000, 0),
        ("H001", staff): Spending(200_000, 0),  # the staff book is kept apart
    }
    county_of = {"H001": "640104", "H002": "640104", "H004": "640121"}
    budgets = {("640104", RESIDENTS): 1_500_000, ("640121", RESIDENTS): 400_000}
    rule = RiskSharing(county_overspend_share=Decimal("0.3"), county_surplus_share=Decimal("0.5"))
    staff_a, a, b = roll_up(spending, county_of, budgets, rule)  # by county, then fund book
    # 640104 residents: 9,500 + 6,200 = 15,700 against 15,000: overspend 700; county 30% = 210, city 490
    assert (a.admdvs, a.fund_pay_type, a.spending.total) == ("640104", RESIDENTS, 1_570_000)
    assert (a.county_bears, a.city_bears, a.city_to_county) == (21_000, 49_000, 49_000)
    # 640121: 3,000 against 4,000: surplus 1,000; the county keeps half, 500 go back to the city
    assert (b.county_keeps, b.city_recovers, b.city_to_county) == (50_000, 50_000, -50_000)
    # the staff book has no county budget: reported, not shared
    assert (staff_a.fund_pay_type, staff_a.spending.total, staff_a.budget, staff_a.city_to_county) == (
        staff,
        200_000,
        None,
        0,
    )
