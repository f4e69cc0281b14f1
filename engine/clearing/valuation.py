"""What one inpatient case is worth to the hospital, valued when it is settled (issue 13 §2).

The patient is settled item by item whatever the method. Separately the basic fund owes the
hospital, for a case at a DRG or DIP institution:

DIP (国家医疗保障按病种分值付费(DIP)技术规范, NHSA 2020):
    points     = group score × the level's coefficient (医疗机构等级系数)
    reference  = points × the provisional point value, rounded to the fen (or, by choice, the
                 group's published average cost: the spec's 上一年度同级别…次均医疗总费用)
    cost < low × reference           (费用超低): points × cost ÷ reference
    cost > high × reference          (费用超高): points × (cost ÷ reference − high + 1)
    otherwise                                    the points stand
    cost > extreme × reference (optional, 极端异常): queued for special review as well
  The points are kept to ``points_places`` decimals (half up); the money comes at year end, when
  the point value is known. The provisional due shown per case is points × the provisional value
  − what others paid.

DRG (CHS-DRG 分组与付费技术规范, NHSA 2019):
    standard = catalogue weight × base rate of the level, rounded to the fen
    cost > high × standard or cost < low × standard: an outlier, cleared item by item (the basic
    fund's item-level payment) and queued for special review (特病单议)
    otherwise: due = standard − what others paid, not below zero (the fund cannot take back
    what patients already paid the hospital)

"What others paid" (non-basic) = total cost − the basic fund's item-level payment: the patient
(including 全自费 and accounts), major illness, medical aid — the full-cost basis (全费用).
Ungrouped cases and institutions paid item by item are owed the item-level payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from contracts.codes import FundPayType
from contracts.money import format_yuan
from engine.clearing.grouping import ClinicalCase, Grouped, disagreement, group_dip, group_drg
from engine.clearing.rules import CasePaymentRules
from engine.clearing.terms import CaseMixCatalogue, InstitutionTerms, PaymentMethod
from engine.errors import PolicyGap
from engine.money import half_up, times
from engine.policy import by_level

Outlier = Literal["high", "low"]


@dataclass(frozen=True)
class CaseFacts:
    """The case as the fund valued it at settlement: recorded in ClaimSettled (schema v3)."""

    paymtd: PaymentMethod  # the institution's inpatient payment method on the day (registry)
    region: str  # the pooling region whose policy priced the case (its budget pays)
    admdvs: str  # the institution's county (registry): who clears it, whose roll-up it is in
    hosp_lv: str  # the level key the coefficients and base rates were read with
    fund_pay_type: FundPayType  # the basic fund's book (310100 staff, 390100 residents)
    main_diag: str | None
    main_oprn: str | None
    group_code: str | None  # the fund's group; None: ungrouped (or paid item by item)
    group_kind: Literal["core", "comprehensive", "drg"] | None
    declared_code: str | None  # the hospital's dip_code / drg_code
    declared_value: Decimal | None  # the hospital's score / weight: never used for money
    disagreement: bool  # the hospital's code or value differs from the fund's grouping
    catalogue_value: Decimal | None  # DIP score or DRG weight from the catalogue
    coefficient: Decimal | None  # DIP level coefficient
    base_points: Decimal | None  # DIP score × coefficient
    points: Decimal | None  # DIP points after the outlier rule
    reference_cost: int | None  # fen: DIP outlier reference, or DRG standard
    outlier: Outlier | None
    special_review: bool  # queued for 特病单议
    medfee: int  # total cost of the case
    item_fund: int  # the basic fund's item-level payment (hifp_pay)
    non_basic: int  # medfee − item_fund: what everyone but the basic fund paid
    provisional_due: int  # what the basic fund owes for the case on today's figures

    @property
    def ungrouped(self) -> bool:
        return self.paymtd != "item" and self.group_code is None

    @property
    def in_point_pool(self) -> bool:
        """A DIP case whose points share the year's DIP budget."""
        return self.paymtd == "dip" and self.points is not None


@dataclass(frozen=True)
class CaseValuation:
    clinical: ClinicalCase
    terms: InstitutionTerms
    region: str
    fund_pay_type: FundPayType
    rules: CasePaymentRules
    catalogue: CaseMixCatalogue
    on: date  # the discharge day: the catalogue in force then
    medfee: int
    item_fund: int


def _points(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _Priced:
    """The method-specific part of the facts."""

    coefficient: Decimal | None = None
    base_points: Decimal | None = None
    points: Decimal | None = None
    reference_cost: int | None = None
    outlier: Outlier | None = None
    special_review: bool = False
    due: int = 0
    why: str = ""


def point_value_fen(rules: CasePaymentRules) -> Decimal:
    if rules.dip_point_value is None:
        raise PolicyGap("the policy has no [case_payment] dip_point_value for a DIP institution")
    return rules.dip_point_value * 100


def dip_points(score: Decimal, cost: int, reference: int, level: str, rules: CasePaymentRules) -> tuple[
    Decimal, Decimal, Outlier | None
]:  # fmt: skip
    """(base points, points after the outlier rule, outlier) — the formulas of the module doc."""
    coefficient = by_level(rules.dip_hospital_coefficient, level, "DIP coefficient")
    base = score * coefficient
    high = by_level(rules.dip_high_multiple, level, "DIP high multiple")
    if reference > 0 and cost < rules.dip_low_multiple * reference:
        return base, _points(base * cost / reference, rules.points_places), "low"
    if reference > 0 and cost > high * reference:
        return base, _points(base * (Decimal(cost) / reference - high + 1), rules.points_places), "high"
    return base, _points(base, rules.points_places), None


def _dip(given: CaseValuation, grouped: Grouped, non_basic: int) -> _Priced:
    rules, level, cost = given.rules, given.terms.level, given.medfee
    assert grouped.value is not None
    coefficient = by_level(rules.dip_hospital_coefficient, level, "DIP coefficient")
    pv = point_value_fen(rules)
    reference = half_up(grouped.value * coefficient * pv)
    if rules.dip_reference == "group_average_cost" and grouped.avg_cost:
        reference = grouped.avg_cost
    base, points, outlier = dip_points(grouped.value, cost, reference, level, rules)
    extreme = rules.dip_extreme_multiple is not None and cost > rules.dip_extreme_multiple * reference
    due = half_up(points * pv) - non_basic
    why = (
        f"{base} points (score {grouped.value} × coefficient {coefficient}); reference cost {format_yuan(reference)}"
        + (f"; cost {format_yuan(cost)} is a {outlier} outlier: {points} points" if outlier else "")
        + ("; extreme: special review" if extreme else "")
        + f"; provisionally {points} × {rules.dip_point_value} − {format_yuan(non_basic)} = {format_yuan(due)}"
    )
    return _Priced(coefficient, base, points, reference, outlier, extreme, due, why)


def _drg(given: CaseValuation, grouped: Grouped, non_basic: int) -> _Priced:
    rules, level, cost = given.rules, given.terms.level, given.medfee
    assert grouped.value is not None
    rate = by_level(rules.drg_base_rate, level, "DRG base rate")
    standard = times(rate, grouped.value)
    high = by_level(rules.drg_high_multiple, level, "DRG high multiple")
    outlier: Outlier | None = None
    if cost > high * standard:
        outlier = "high"
    elif cost < rules.drg_low_multiple * standard:
        outlier = "low"
    why = f"standard {grouped.value} × {format_yuan(rate)} = {format_yuan(standard)}"
    if outlier:
        why += f"; cost {format_yuan(cost)} is a {outlier} outlier: item by item, special review"
        return _Priced(reference_cost=standard, outlier=outlier, special_review=True, due=given.item_fund, why=why)
    due = max(0, standard - non_basic)
    return _Priced(reference_cost=standard, due=due, why=why + f" − {format_yuan(non_basic)} = {format_yuan(due)}")


def value_case(given: CaseValuation) -> tuple[CaseFacts, str]:
    """The case's facts and one trail sentence."""
    method, clinical = given.terms.paymtd, given.clinical
    non_basic = given.medfee - given.item_fund
    grouped: Grouped | None = None
    if method == "item":
        priced = _Priced(due=given.item_fund, why="institution paid item by item")
    else:
        grouped = (
            group_dip(clinical, given.catalogue, given.on)
            if method == "dip"
            else group_drg(clinical, given.catalogue, given.on)
        )
        if grouped.ungrouped:
            priced = _Priced(due=given.item_fund, why=f"{grouped.why}; cleared item by item")
        else:
            priced = (_dip if method == "dip" else _drg)(given, grouped, non_basic)
            priced = _Priced(**{**priced.__dict__, "why": f"{grouped.why}; {priced.why}"})
    facts = CaseFacts(
        paymtd=method,
        region=given.region,
        admdvs=given.terms.admdvs,
        hosp_lv=given.terms.level,
        fund_pay_type=given.fund_pay_type,
        main_diag=clinical.main_diag,
        main_oprn=clinical.main_oprn,
        group_code=grouped.group_code if grouped else None,
        group_kind=grouped.kind if grouped else None,
        declared_code=clinical.declared_dip if method == "dip" else clinical.declared_drg,
        declared_value=clinical.declared_value,
        disagreement=grouped is not None and disagreement(clinical, grouped, method),  # type: ignore[arg-type]
        catalogue_value=grouped.value if grouped else None,
        coefficient=priced.coefficient,
        base_points=priced.base_points,
        points=priced.points,
        reference_cost=priced.reference_cost,
        outlier=priced.outlier,
        special_review=priced.special_review,
        medfee=given.medfee,
        item_fund=given.item_fund,
        non_basic=non_basic,
        provisional_due=priced.due,
    )
    flag = "; the hospital's code or value differs: the fund's grouping stands" if facts.disagreement else ""
    return facts, f"{method.upper()} case at level {given.terms.level}: {priced.why}{flag}"
