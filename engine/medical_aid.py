"""医疗救助 (610100) for aid categories, on what basic and major illness left (§2.5, 004).

Categories: yearly deductible and ratio each, one yearly limit shared by outpatient chronic
care and inpatient stays. Impoverished by illness (因病返贫致贫): the person qualifies once the
year's remaining compliant cost reaches the threshold; then the ratio applies to the year's
accumulation above the deductible, up to its own yearly cap. Like major illness, the visit is
paid what the rounded yearly figure owes beyond
what was paid, never more than the visit's own self-pay.
"""

from __future__ import annotations

from decimal import Decimal

from contracts.codes import AidCategory
from engine.money import half_up
from engine.policy import MedicalAid


def _yearly_due(accumulated: int, category: AidCategory, rules: MedicalAid) -> int:
    if category is AidCategory.IMPOVERISHED_BY_ILLNESS:
        ibi = rules.impoverished_by_illness
        if ibi is None or accumulated < ibi.threshold:
            return 0
        return half_up(Decimal(accumulated - ibi.deductible) * ibi.ratio)
    rule = rules.categories.get(category)
    if rule is None:
        return 0
    return half_up(Decimal(max(0, accumulated - rule.deductible)) * rule.ratio)


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
            f"impoverished by illness: from {r.threshold / 100:.2f} a year, {r.ratio} above "
            f"{r.deductible / 100:.2f}, up to {r.yearly_cap / 100:.2f} (004)"
        )
    rule = rules.categories.get(category)
    if rule is None:
        return f"no aid rule for {category.value} in this policy"
    return (
        f"{category.value}: {rule.ratio} above a yearly {rule.deductible / 100:.2f}, "
        f"shared limit {rules.shared_yearly_cap / 100:.2f} (004)"
    )
