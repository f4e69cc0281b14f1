"""DRG / DIP: what the funds owe the institution for an inpatient case (docs/domain.md#case-payment).

The patient still pays item by item; this is the separate debt of the basic fund to the
hospital. DRG: standard = weight × base rate. DIP: points = score × hospital coefficient,
valued provisionally at the policy's point value (fixed at year end by the clearing).
Cases costing more than the high multiple or less than the low multiple of the standard are
outliers: paid item by item (what the funds paid) pending special review.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from contracts.money import format_yuan
from engine.money import half_up, times
from engine.payer_casemix import Casemix
from engine.payer_registry import PaymentMethod
from engine.policy import CasePaymentRules, by_level
from engine.trail import TrailLine, policy_key
from engine.visit import Visit


@dataclass(frozen=True)
class CasePayment:
    """What the basic fund owes the institution for the case, in fen."""

    method: Literal["drg", "dip"]
    group_code: str
    weight_or_score: Decimal
    payment_standard: int  # DRG: weight × base rate; DIP: points × provisional point value
    points: Decimal | None  # DIP case score = disease score × hospital coefficient
    outlier: Literal["high", "low"] | None  # paid item by item / by special review
    basic_fund_due: int
    difference_to_itemised: int  # basic_fund_due − hifp_pay (the institution's gain or loss)


@dataclass(frozen=True)
class _Standard:
    method: Literal["drg", "dip"]
    code: str
    size: Decimal
    points: Decimal | None
    standard: int
    how: str


@dataclass(frozen=True)
class CaseMethod:
    """How the payer pays the institution for its stays (registry) and its case-mix catalogue:
    the group code is the institution's, its weight or score always the catalogue's."""

    method: PaymentMethod
    casemix: Casemix


def _standard(visit: Visit, level: str, rules: CasePaymentRules, how_paid: CaseMethod) -> _Standard | None:
    day, mix = visit.enddate, how_paid.casemix
    drg = mix.drg_group(visit.drg_code, day) if visit.drg_code else None
    if how_paid.method is PaymentMethod.DRG and drg is not None and rules.drg_base_rate:
        base = by_level(rules.drg_base_rate, level, "DRG base rate")
        standard = times(base, drg.weight)
        how = f"DRG {drg.drg_code}: weight {drg.weight} × base rate {format_yuan(base)} = {format_yuan(standard)}"
        return _Standard("drg", drg.drg_code, drg.weight, None, standard, how)
    dip = mix.dip_group(visit.dip_code, day) if visit.dip_code else None
    if how_paid.method is PaymentMethod.DIP and dip is not None and rules.dip_point_value is not None:
        coefficient = by_level(rules.dip_hospital_coefficient, level, "DIP coefficient")
        points = dip.score * coefficient
        standard = half_up(points * rules.dip_point_value)
        how = (
            f"DIP {dip.dip_code}: score {dip.score} × coefficient {coefficient} = {points} points × "
            f"provisional {format_yuan(rules.dip_point_value)} = {format_yuan(standard)}"
        )
        return _Standard("dip", dip.dip_code, dip.score, points, standard, how)
    return None


def case_payment(
    visit: Visit,
    level: str,
    rules: CasePaymentRules,
    how_paid: CaseMethod,
    *,
    medfee: int,
    psn_part: int,
    other_funds: int,
    hifp: int,
) -> tuple[CasePayment | None, str]:
    found = _standard(visit, level, rules, how_paid)
    if found is None:
        return None, ""
    standard, how = found.standard, found.how
    high = by_level(rules.high_multiple, level, "high-cost multiple")
    outlier: Literal["high", "low"] | None = None
    if standard and medfee > half_up(Decimal(standard) * high):
        outlier = "high"
    elif medfee < half_up(Decimal(standard) * rules.low_multiple):
        outlier = "low"
    due = hifp if outlier else max(0, standard - psn_part - other_funds)
    if outlier:
        how += f"; cost {format_yuan(medfee)} is a {outlier}-cost outlier: paid item by item"
    payment = CasePayment(found.method, found.code, found.size, standard, found.points, outlier, due, due - hifp)
    return payment, how


@dataclass(frozen=True)
class CaseInput:
    visit: Visit
    level: str
    covered: bool
    inpatient: bool  # the region maps the visit's med_type to a stay
    rules: CasePaymentRules
    how_paid: CaseMethod
    medfee: int
    psn_part: int
    other_funds: int  # major illness and medical aid
    hifp: int
    policy_file: str


def case_payment_stage(given: CaseInput) -> tuple[CasePayment | None, tuple[TrailLine, ...]]:
    """Stage 7 of settle_claim: an inpatient case's DRG/DIP standard (an uncovered stay: no
    fund owes anything, so no case either)."""
    if not (given.inpatient and given.covered):
        return None, ()
    case, why = case_payment(
        given.visit,
        given.level,
        given.rules,
        given.how_paid,
        medfee=given.medfee,
        psn_part=given.psn_part,
        other_funds=given.other_funds,
        hifp=given.hifp,
    )
    if not why:
        return case, ()
    return case, (TrailLine("case_payment", policy_key(given.policy_file, "case_payment"), why),)
