"""City ↔ county (002: 市级统筹, 统收统支, "市管理、分级清算"; 基金…分别建账、分账核算).

Every institution belongs to a county of the pooling city (its registry entry). Its spending,
per fund book — the two basic funds, the staff accounts, major illness, medical aid, each kept
apart — is what the funds paid for its settlements, except that the basic fund's item-level
payments for DRG/DIP cases are replaced by what the fund owes for them (the year-end due once
the year is closed, the provisional due before). Counties sum their institutions; the city
sums its counties.

Each county's year against its budget, under the region's risk-sharing rule (policy data; 002
says only that city and counties share the risk, 具体办法另行制订):
    overspend = spending − budget > 0: the county bears ``county_overspend_share`` of it, the
                city the rest (city_to_county > 0: the city pays the county that part)
    surplus   = budget − spending > 0: the county keeps ``county_surplus_share``, the rest goes
                back to the city (city_to_county < 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.codes import FundPayType
from engine.clearing.rules import RiskSharing
from engine.money import times


@dataclass(frozen=True)
class Spending:
    """One institution's (or area's) spending of one fund book for a year, in fen."""

    item_level: int = 0  # what the fund paid, settlement by settlement
    case_adjustment: int = 0  # DRG/DIP: what it owes for its cases − their item-level payments

    @property
    def total(self) -> int:
        return self.item_level + self.case_adjustment

    def __add__(self, other: Spending) -> Spending:
        return Spending(self.item_level + other.item_level, self.case_adjustment + other.case_adjustment)


@dataclass(frozen=True)
class CountyYear:
    admdvs: str
    fund_pay_type: FundPayType
    institutions: Mapping[str, Spending]
    spending: Spending
    budget: int | None
    county_bears: int = 0
    city_bears: int = 0
    county_keeps: int = 0
    city_recovers: int = 0

    @property
    def city_to_county(self) -> int:
        """What the city pays the county beyond its budget (negative: the county pays back)."""
        return self.city_bears - self.city_recovers


def share_risk(budget: int | None, spending: int, rule: RiskSharing) -> tuple[int, int, int, int]:
    """(county bears, city bears, county keeps, city recovers), each half up once."""
    if budget is None:
        return 0, 0, 0, 0
    over, under = max(0, spending - budget), max(0, budget - spending)
    county_bears = times(over, rule.county_overspend_share)
    county_keeps = times(under, rule.county_surplus_share)
    return county_bears, over - county_bears, county_keeps, under - county_keeps


def roll_up(
    spending: Mapping[tuple[str, FundPayType], Spending],
    county_of: Mapping[str, str],
    budgets: Mapping[tuple[str, FundPayType], int],
    rule: RiskSharing,
) -> list[CountyYear]:
    """``spending``: per (institution, fund book); ``county_of``: institution → county;
    ``budgets``: per (county, fund book), the county's spending budget."""
    grouped: dict[tuple[str, FundPayType], dict[str, Spending]] = {}
    for (code, book), amount in spending.items():
        grouped.setdefault((county_of.get(code, "unassigned"), book), {})[code] = amount
    counties = []
    for (county, book), institutions in sorted(grouped.items()):
        total = sum(institutions.values(), Spending())
        budget = budgets.get((county, book))
        shares = share_risk(budget, total.total, rule)
        counties.append(CountyYear(county, book, dict(sorted(institutions.items())), total, budget, *shares))
    return counties
