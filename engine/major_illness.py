"""Major illness (居民大病保险 390200 / 职工大额 330100) on the year's accumulated self-pay (§2.4).

The qualifying base is policy-range self-pay after the basic fund (deductible, co-pay and the
part above the basic cap; never 全自费 or 超限价). The bands are applied to the *year's*
accumulation; a visit is paid what the rounded yearly figure owes beyond what was already paid,
so a later visit can trigger payment an earlier one did not, and the year's payments sum to the
rounded yearly figure (unless a cap binds).
"""

from __future__ import annotations

from decimal import Decimal

from contracts.enrolments import Enrolment
from engine.money import half_up
from engine.policy import MajorIllness


def banded(accumulated: int, rules: MajorIllness) -> int:
    """What the bands pay on a yearly accumulation (exact, then rounded once)."""
    total = Decimal(0)
    bounds = [band.above for band in rules.bands[1:]] + [None]
    for band, upper in zip(rules.bands, bounds, strict=True):
        top = accumulated if upper is None else min(accumulated, upper)
        if top > band.above:
            total += Decimal(top - band.above) * band.ratio
    return half_up(total)


def yearly_cap(rules: MajorIllness, enrolment: Enrolment) -> tuple[int, str]:
    """The cap with residents' incentives (000 四): +per continuous year after the first few,
    +per zero-claim year, together at most a share of the original cap; −penalty on rejoining."""
    inc = rules.incentives
    if inc is None:
        return rules.cap, f"cap {rules.cap / 100:.2f}"
    continuous = max(0, enrolment.continuous_years - inc.continuous_years_before_reward) * inc.per_continuous_year
    zero_claim = enrolment.zero_claim_years * inc.per_zero_claim_year
    ceiling = half_up(Decimal(rules.cap) * inc.max_share_of_cap)
    bonus = min(continuous + zero_claim, ceiling)
    penalty = inc.rejoin_penalty if enrolment.rejoined_after_break else 0
    cap = rules.cap + bonus - penalty
    return cap, (
        f"cap {rules.cap / 100:.2f} + incentives {bonus / 100:.2f} (continuous {continuous / 100:.2f}, "
        f"zero-claim {zero_claim / 100:.2f}, at most {ceiling / 100:.2f}) "
        f"− rejoin {penalty / 100:.2f} = {cap / 100:.2f}"
    )


def pay_major_illness(base_before: int, base_added: int, paid_before: int, cap: int, rules: MajorIllness) -> int:
    """What the bands owe on the year so far, less what was paid, within the cap and never more
    than this visit's own qualifying self-pay (a fund never pays a visit more than it cost the
    person); anything held back that way is paid by later visits."""
    owed = banded(base_before + base_added, rules) - paid_before
    return max(0, min(owed, cap - paid_before, base_added))
