"""起付线: the part of the policy-range amount the person pays before the fund starts
(docs/domain.md#deductible).

Inpatient: per admission by hospital level, lower for later stays in the year. Outpatient
benefits: per year, so only what is left of the year's deductible applies, or — where a region's
policy says so — per visit (按次起付: the full amount again at every visit). Some regions also
cap the year's deductibles across all benefits (deductible_yearly_cap), whatever the basis.
"""

from __future__ import annotations

from contracts.money import format_yuan
from engine.benefit_name import BenefitName
from engine.policy import Benefit, Policy, by_level
from engine.totals import Totals


def deductible_left(benefit: Benefit, name: BenefitName, level: str, totals: Totals, policy: Policy) -> tuple[int, str]:
    """The deductible still to be met before this visit, and a sentence saying why."""
    if benefit.deductible_basis == "none":
        return 0, "no deductible for this benefit"
    amounts = by_level(benefit.deductible, level, f"{name.value} deductible")
    if benefit.deductible_basis == "admission":
        nth = totals.admissions  # stays already settled this year
        due = amounts[min(nth, len(amounts) - 1)]
        why = f"stay no. {nth + 1} of the year at level {level}: deductible {format_yuan(due)}"
    elif benefit.deductible_basis == "visit":
        due = amounts[0]
        why = f"deductible per visit at level {level}: {format_yuan(due)}"
    else:
        used = totals.dedc[name]
        due = max(0, amounts[0] - used)
        why = f"yearly deductible {format_yuan(amounts[0])}, {format_yuan(used)} already met"
    if policy.deductible_yearly_cap is not None:
        room = max(0, policy.deductible_yearly_cap - totals.deductibles_total)
        if room < due:
            due, why = room, why + f"; limited by the year's deductible cap {format_yuan(policy.deductible_yearly_cap)}"
    return due, why


def special_treatment_deductible(benefit: Benefit, level: str, totals: Totals, policy: Policy) -> tuple[int, str]:
    """A 门诊特殊治疗 参照住院 (003): the chronic benefit's yearly deductible, or — where the policy
    says "inpatient_once_a_year" — a first stay's deductible at this level, met once a year by the
    person's chronic-outpatient care (what the chronic benefit's deductible already took counts:
    one yearly outpatient-chronic deductible, project rule)."""
    if policy.chronic.special_treatment.deductible == "chronic":
        return deductible_left(benefit, BenefitName.CHRONIC_OUTPATIENT, level, totals, policy)
    first_stay = by_level(policy.benefits.inpatient.deductible, level, "inpatient deductible")[0]
    used = totals.dedc[BenefitName.CHRONIC_OUTPATIENT]
    due = max(0, first_stay - used)
    why = (
        f"special treatment on inpatient rules (003): a first stay's deductible at level {level}, "
        f"{format_yuan(first_stay)} a year, {format_yuan(used)} already met"
    )
    if policy.deductible_yearly_cap is not None:
        room = max(0, policy.deductible_yearly_cap - totals.deductibles_total)
        if room < due:
            due, why = room, why + f"; limited by the year's deductible cap {format_yuan(policy.deductible_yearly_cap)}"
    return due, why
