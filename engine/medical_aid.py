"""医疗救助 (610100) for aid categories, on what basic and major illness left
(docs/domain.md#medical-aid, 004).

Categories: yearly deductible and ratio each, one yearly limit shared by outpatient chronic
care and inpatient stays. Impoverished by illness (因病返贫致贫): the person qualifies once the
year's remaining compliant cost reaches the threshold; then the ratio applies to the year's
accumulation above the deductible, up to its own yearly cap. Like major illness, the visit is
paid what the rounded yearly figure owes beyond
what was paid, never more than the visit's own self-pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.codes import AidCategory
from contracts.money import format_yuan
from engine.major_illness import banded_exact
from engine.money import half_up
from engine.policy import MedicalAid
from engine.trail import TrailLine, policy_key


def _yearly_due(accumulated: int, category: AidCategory, rules: MedicalAid) -> int:
    if category is AidCategory.IMPOVERISHED_BY_ILLNESS:
        ibi = rules.impoverished_by_illness
        if ibi is None or accumulated < ibi.threshold:
            return 0
        return half_up(Decimal(accumulated - ibi.deductible) * ibi.ratio)
    rule = rules.categories.get(category)
    if rule is None:
        return 0
    above = max(0, accumulated - rule.deductible)
    if rule.ratio is None:  # 分段 (002): each segment's ratio on the part of the cost inside it
        return half_up(banded_exact(above, rule.segments))
    return half_up(Decimal(above) * rule.ratio)


def aid_cap(category: AidCategory, rules: MedicalAid) -> int:
    if category is AidCategory.IMPOVERISHED_BY_ILLNESS and rules.impoverished_by_illness is not None:
        return rules.impoverished_by_illness.yearly_cap
    return rules.shared_yearly_cap


def pay_aid(category: AidCategory, base_before: int, base_added: int, paid_before: int, rules: MedicalAid) -> int:
    """The year's rounded aid owed, less what was paid, within the cap and never more than this
    visit's own remaining self-pay. When an impoverished-by-illness person first qualifies, the
    year's earlier cost is owed at once; what this visit cannot absorb is paid by later visits."""
    owed = _yearly_due(base_before + base_added, category, rules) - paid_before
    return max(0, min(owed, aid_cap(category, rules) - paid_before, base_added))


def describe(category: AidCategory, rules: MedicalAid) -> str:
    if category is AidCategory.IMPOVERISHED_BY_ILLNESS and rules.impoverished_by_illness is not None:
        r = rules.impoverished_by_illness
        return (
            f"impoverished by illness: from {format_yuan(r.threshold)} a year, {r.ratio} above "
            f"{format_yuan(r.deductible)}, up to {format_yuan(r.yearly_cap)} (004)"
        )
    rule = rules.categories.get(category)
    if rule is None:
        return f"no aid rule for {category.value} in this policy"
    how = (
        str(rule.ratio)
        if rule.ratio is not None
        else " then ".join(f"{b.ratio} from {format_yuan(b.above)}" for b in rule.segments) + " (分段, 002)"
    )
    return (
        f"{category.value}: {how} above a yearly {format_yuan(rule.deductible)}, "
        f"shared limit {format_yuan(rules.shared_yearly_cap)} (004)"
    )


@dataclass(frozen=True)
class MedicalAidInput:
    category: AidCategory | None  # the person's aid category, if any
    rules: MedicalAid | None  # the policy's medical aid, if any
    selfpay: int  # what the basic fund left of the benefits medical aid applies to
    major_illness_paid: int  # major illness pays first: aid works on what it left
    base_before: int
    paid_before: int
    policy_file: str


@dataclass(frozen=True)
class MedicalAidOutcome:
    added: int
    paid: int
    could_pay: int
    trail: tuple[TrailLine, ...]


NO_AID = MedicalAidOutcome(0, 0, 0, ())


def pay_medical_aid_stage(given: MedicalAidInput) -> MedicalAidOutcome:
    """Stage 5 of settle_claim: medical aid on what basic and major illness left."""
    category, rules = given.category, given.rules
    if category is None or rules is None or not given.selfpay:
        return NO_AID
    added = max(0, given.selfpay - given.major_illness_paid)
    could = max(0, aid_cap(category, rules) - given.paid_before)
    paid = pay_aid(category, given.base_before, added, given.paid_before, rules)
    text = (
        f"{describe(category, rules)}; year's base {format_yuan(given.base_before + added)}; pays {format_yuan(paid)}"
    )
    return MedicalAidOutcome(
        added, paid, could, (TrailLine("medical_aid", policy_key(given.policy_file, "medical_aid"), text),)
    )
