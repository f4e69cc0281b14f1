"""DRG / DIP: what the funds owe the institution for an inpatient case (§5).

The patient still pays item by item; this is the separate debt of the basic fund to the
hospital. DRG: standard = weight × base rate. DIP: points = score × hospital coefficient,
valued provisionally at the policy's point value (fixed at year end by the clearing).
Cases costing more than the high multiple or less than the low multiple of the standard are
outliers: paid item by item (what the funds paid) pending special review.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from contracts.claims import Claim
from contracts.results import CasePayment
from engine.money import half_up, times
from engine.policy import CasePaymentRules, by_level


def case_payment(
    claim: Claim, level: str, rules: CasePaymentRules, *, medfee: int, psn_part: int, other_funds: int, hifp: int
) -> tuple[CasePayment | None, str]:
    if claim.drg_code is not None and claim.drg_weight is not None and rules.drg_base_rate:
        base = by_level(rules.drg_base_rate, level, "DRG base rate")
        standard = times(base, claim.drg_weight)
        method: Literal["drg", "dip"] = "drg"
        code, size, points = claim.drg_code, claim.drg_weight, None
        how = f"DRG {code}: weight {size} × base rate {base / 100:.2f} = {standard / 100:.2f}"
    elif claim.dip_code is not None and claim.dip_score is not None and rules.dip_point_value is not None:
        coefficient = by_level(rules.dip_hospital_coefficient, level, "DIP coefficient")
        points = claim.dip_score * coefficient
        standard = half_up(points * rules.dip_point_value)
        method, code, size = "dip", claim.dip_code, claim.dip_score
        how = (
            f"DIP {code}: score {size} × coefficient {coefficient} = {points} points × "
            f"provisional {rules.dip_point_value / 100:.2f} = {standard / 100:.2f}"
        )
    else:
        return None, ""
    high = by_level(rules.high_multiple, level, "high-cost multiple")
    outlier: Literal["high", "low"] | None = None
    if standard and medfee > half_up(Decimal(standard) * high):
        outlier = "high"
    elif medfee < half_up(Decimal(standard) * rules.low_multiple):
        outlier = "low"
    due = hifp if outlier else max(0, standard - psn_part - other_funds)
    if outlier:
        how += f"; cost {medfee / 100:.2f} is a {outlier}-cost outlier: paid item by item"
    payment = CasePayment(
        method=method,
        group_code=code,
        weight_or_score=size,
        payment_standard=standard,
        points=points,
        outlier=outlier,
        basic_fund_due=due,
        difference_to_itemised=due - hifp,
    )
    return payment, how
