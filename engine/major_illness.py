"""Major illness (居民大病保险 390200 / 职工大额 330100) on the year's accumulated self-pay
(docs/domain.md#major-illness).

The qualifying base is policy-range self-pay after the basic fund (deductible, co-pay and the
part above the basic cap; never 全自费 or 超限价). The bands are applied to the *year's*
accumulation; a visit is paid what the rounded yearly figure owes beyond what was already paid,
so a later visit can trigger payment an earlier one did not, and the year's payments sum to the
rounded yearly figure (unless a cap binds).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.money import format_yuan
from engine.enrolment import EnrolmentFacts
from engine.money import half_up
from engine.policy import Band, HardshipTilt, MajorIllness
from engine.trail import TrailLine, policy_key


def banded_exact(accumulated: int, bands: tuple[Band, ...]) -> Decimal:
    """What bands pay on an accumulation, exactly: each ratio between its ``above`` and the next's."""
    total = Decimal(0)
    bounds = [band.above for band in bands[1:]] + [None]
    for band, upper in zip(bands, bounds, strict=True):
        top = accumulated if upper is None else min(accumulated, upper)
        if top > band.above:
            total += Decimal(top - band.above) * band.ratio
    return total


def banded(accumulated: int, rules: MajorIllness, tilt: HardshipTilt | None = None) -> int:
    """What the bands pay on a yearly accumulation (exact, then rounded once)."""
    return half_up(banded_exact(accumulated, tilted_bands(rules.bands, tilt)))


def tilted_bands(bands: tuple[Band, ...], tilt: HardshipTilt | None) -> tuple[Band, ...]:
    """困难群众 (national rule, 医保发〔2021〕19号 / 国办发〔2021〕42号): the threshold lowered, every
    ratio raised (at most 1)."""
    if tilt is None:
        return bands
    first = bands[0].above
    lowered = half_up(Decimal(first) * tilt.deductible_factor)
    # model_construct: the amounts are fen already (validating would read them as yuan)
    return tuple(
        Band.model_construct(above=lowered if i == 0 else b.above, ratio=min(Decimal(1), b.ratio + tilt.ratio_bonus))
        for i, b in enumerate(bands)
    )


def hardship_tilt(rules: MajorIllness, enrolment: EnrolmentFacts) -> HardshipTilt | None:
    category = enrolment.aid_category
    return None if category is None else rules.hardship.get(category)


def yearly_cap(rules: MajorIllness, enrolment: EnrolmentFacts) -> tuple[int, str]:
    """The cap with residents' incentives (000 四): +per continuous year after the first few,
    +per zero-claim year, together at most a share of the original cap; −penalty on rejoining."""
    inc = rules.incentives
    if inc is None:
        return rules.cap, f"cap {format_yuan(rules.cap)}"
    continuous = max(0, enrolment.continuous_years - inc.continuous_years_before_reward) * inc.per_continuous_year
    zero_claim = enrolment.zero_claim_years * inc.per_zero_claim_year
    ceiling = half_up(Decimal(rules.cap) * inc.max_share_of_cap)
    bonus = min(continuous + zero_claim, ceiling)
    penalty = inc.rejoin_penalty if enrolment.rejoined_after_break else 0
    cap = rules.cap + bonus - penalty
    return cap, (
        f"cap {format_yuan(rules.cap)} + incentives {format_yuan(bonus)} (continuous {format_yuan(continuous)}, "
        f"zero-claim {format_yuan(zero_claim)}, at most {format_yuan(ceiling)}) "
        f"− rejoin {format_yuan(penalty)} = {format_yuan(cap)}"
    )


def pay_major_illness(
    base_before: int,
    base_added: int,
    paid_before: int,
    cap: int | None,
    rules: MajorIllness,
    tilt: HardshipTilt | None = None,
) -> int:
    """What the bands owe on the year so far, less what was paid, within the cap (None: no cap)
    and never more than this visit's own qualifying self-pay (a fund never pays a visit more than
    it cost the person); anything held back that way is paid by later visits."""
    owed = banded(base_before + base_added, rules, tilt) - paid_before
    room = owed if cap is None else cap - paid_before
    return max(0, min(owed, room, base_added))


@dataclass(frozen=True)
class MajorIllnessInput:
    rules: MajorIllness
    enrolment: EnrolmentFacts  # the cap's incentives depend on the person's history
    base_before: int  # the year's qualifying self-pay before this visit
    paid_before: int
    added: int  # this visit's qualifying self-pay (from the basic fund stage)
    policy_file: str


@dataclass(frozen=True)
class MajorIllnessOutcome:
    added: int
    paid: int
    could_pay: int  # what the cap left before this visit
    base_after: int
    trail: tuple[TrailLine, ...]


def pay_major_illness_stage(given: MajorIllnessInput) -> MajorIllnessOutcome:
    """Stage 4 of settle_claim: the bands on the year's accumulation, within the yearly cap."""
    rules, tilt = given.rules, hardship_tilt(given.rules, given.enrolment)
    cap, cap_why = yearly_cap(rules, given.enrolment)
    limit = None if tilt is not None and tilt.cap_removed else cap
    paid = pay_major_illness(given.base_before, given.added, given.paid_before, limit, rules, tilt)
    trail: tuple[TrailLine, ...] = ()
    if given.added:
        bands = tilted_bands(rules.bands, tilt)
        category = given.enrolment.aid_category.value if given.enrolment.aid_category else ""
        tilted = "" if tilt is None else f" ({category}: 困难群众 tilt, national rule)"
        cap_text = "no cap (取消封顶线)" if limit is None else cap_why
        text = (
            f"qualifying self-pay {format_yuan(given.base_before)} + {format_yuan(given.added)} this visit; "
            f"bands from {format_yuan(bands[0].above)}{tilted}; {cap_text}; pays {format_yuan(paid)}"
        )
        trail = (TrailLine("major_illness", policy_key(given.policy_file, "major_illness"), text),)
    # crt_payb_lmt_amt: what the cap left, or without a cap what the bands owe so far
    owed_now = banded(given.base_before + given.added, rules, tilt) - given.paid_before
    could = max(0, owed_now) if limit is None else max(0, limit - given.paid_before)
    return MajorIllnessOutcome(given.added, paid, could, given.base_before + given.added, trail)
