"""The major-illness incentives' inputs, checked against the person's own history in the ledger
(000 四, docs/domain.md#major-illness).

000 四: 「对连续参加居民医保满4年的参保人员,之后每连续参保1年,大病保险最高支付限额相继提高5000元。对当年
基金零报销的居民医保参保人员,次年可提高大病保险最高支付限额5000元…对断保人员再参保的,大病保险当年最高
支付限额降低5000元。居民发生大病报销并使用奖励额度后,前期积累的零报销激励额度清零。断保之后再次参保的,
连续参保年数重新计算。」

The enrolment message states the figures (continuous_years, break_years, zero_claim_years,
rejoined_after_break); the ledger holds the years it has seen. This module derives what those
years prove and refuses a message that contradicts it. Readings where the seed is silent
(docs/policies.md, project rules):
- a continuous year is a year with a residents' (390) enrolment; a staff year ends the run
  without being a break, a year with no enrolment at all is a break;
- a zero-claim year is a residents' year in which no fund paid anything (fund_pay_sumamt 0
  after reversals); the count carries over a break (the seed restarts only the continuous count)
  and restarts after a year whose major-illness payments went beyond the cap without rewards
  (使用奖励额度 → 清零);
- the ledger's history of a person starts with the first year it holds for them: before it,
  anything may have happened, so the figures are then lower bounds, never exact;
- a year not yet over when the enrolment is recorded counts as it stands then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from contracts.codes import Insutype, RejectionCode
from engine.enrolment import EnrolmentFacts
from engine.errors import Rejected
from engine.person import PersonYear
from engine.policy import MajorIllness


@dataclass(frozen=True)
class PriorYear:
    """One earlier year of the person as the ledger holds it."""

    year: int
    scheme: Insutype | None  # None: no enrolment in the ledger that year
    fund_paid: int  # fen, every fund, after reversals
    reward_used: bool | None  # major illness paid beyond the cap without rewards; None: cannot tell


@dataclass(frozen=True)
class Derived:
    """What the ledger proves: each figure exact, or at least so much when history runs out."""

    continuous: int
    continuous_exact: bool
    break_years: int | None  # None: the ledger cannot tell (no earlier year at all)
    zero_claim: int
    zero_claim_exact: bool
    why: str


def _run(years: Sequence[PriorYear]) -> int:
    run = 0
    for prior in years:
        if prior.scheme is not Insutype.RESIDENT:
            break
        run += 1
    return run


def _gap(years: Sequence[PriorYear]) -> int:
    gap = 0
    for prior in years:
        if prior.scheme is not None:
            break
        gap += 1
    return gap


def _zero_claim(years: Sequence[PriorYear], as_of: date) -> tuple[int, bool]:
    """Zero-claim residents' years since the reward was last used; exact once a clearing is seen.
    A year not over on ``as_of`` (the enrolment is recorded before its end) proves nothing yet
    about zero claims: it is left out of the count and the count is then at least that much."""
    count, exact = 0, True
    for prior in years:
        still_open = as_of <= date(prior.year, 12, 31)
        if prior.reward_used is None:
            return count, False
        if prior.reward_used:
            return count, exact
        if prior.scheme is Insutype.RESIDENT and prior.fund_paid == 0:
            if still_open:
                exact = False
            else:
                count += 1
    return count, False


def derive(year: int, prior: Sequence[PriorYear], as_of: date) -> Derived | None:
    """From the years before ``year`` the ledger holds (any order, gaps allowed), as they stand on
    ``as_of`` (the enrolment's date); None: the ledger holds none."""
    if not prior:
        return None
    known = {p.year: p for p in prior}
    earliest = min(known)
    years = [known.get(y, PriorYear(y, None, 0, False)) for y in range(year - 1, earliest - 1, -1)]
    run, gap = _run(years), _gap(years)
    whole = run == len(years)  # the run reaches back past the ledger's first year: a lower bound
    break_years = None if gap == len(years) else gap
    zero, zero_exact = _zero_claim(years, as_of)
    why = f"the ledger holds {earliest}–{year - 1} for this person"
    return Derived(run + 1, not whole, break_years, zero, zero_exact, why)


def _refuse(field: str, stated: int, derived: str, why: str) -> Rejected:
    return Rejected(
        RejectionCode.INVALID_MESSAGE,
        f"{field} is {stated} but {why}, which makes it {derived}; correct the enrolment",
        field=field,
    )


def _check_internal(e: EnrolmentFacts) -> EnrolmentFacts:
    """Contradictions inside the message itself (000 四: a break restarts the count)."""
    if e.rejoined_after_break and e.break_years == 0:
        raise Rejected(
            RejectionCode.INVALID_MESSAGE,
            "rejoined_after_break is true but break_years is 0; a re-enrolment after a break (断保) "
            "says how many years the break lasted",
            field="rejoined_after_break",
        )
    if e.break_years > 0 and e.continuous_years != 1:
        raise Rejected(
            RejectionCode.INVALID_MESSAGE,
            f"continuous_years is {e.continuous_years} after a break of {e.break_years} year(s); "
            "断保之后再次参保的,连续参保年数重新计算 (000): this year is the first, send 1",
            field="continuous_years",
        )
    return replace(e, rejoined_after_break=e.break_years > 0)


def _check_ledger(e: EnrolmentFacts, d: Derived) -> None:
    if d.continuous_exact and e.continuous_years != d.continuous:
        raise _refuse("continuous_years", e.continuous_years, f"exactly {d.continuous}", d.why)
    if not d.continuous_exact and e.continuous_years < d.continuous:
        raise _refuse("continuous_years", e.continuous_years, f"at least {d.continuous}", d.why)
    if d.break_years is not None and e.break_years != d.break_years:
        raise _refuse("break_years", e.break_years, f"{d.break_years}", d.why)
    if d.zero_claim_exact and e.zero_claim_years != d.zero_claim:
        why = d.why + " and a year whose major-illness payments used the reward (清零)"
        raise _refuse("zero_claim_years", e.zero_claim_years, f"exactly {d.zero_claim}", why)
    if not d.zero_claim_exact and e.zero_claim_years < d.zero_claim:
        raise _refuse("zero_claim_years", e.zero_claim_years, f"at least {d.zero_claim}", d.why)


def checked_history(e: EnrolmentFacts, prior: Sequence[PriorYear]) -> EnrolmentFacts:
    """The enrolment's incentive figures, checked against themselves and against the ledger's
    years; residents only (staff have no incentives). Raises Rejected on a contradiction."""
    if e.insutype is not Insutype.RESIDENT:
        return e
    checked = _check_internal(e)
    derived = derive(e.year, [p for p in prior if p.year < e.year], e.enrol_date)
    if derived is not None:
        _check_ledger(checked, derived)
    return checked


LOOK_BACK_YEARS = 16  # 4 years before the reward + 12 × 5,000 = 20% of 300,000: older years change nothing


def prior_year(state: PersonYear, cap_without_rewards: int | None) -> PriorYear:
    """One earlier person-year as the incentives read it. ``cap_without_rewards``: that year's
    major-illness cap before rewards (less the rejoin penalty), None when no policy says it."""
    enrolment = state.enrolment
    scheme = None if enrolment is None else enrolment.insutype
    paid = state.totals.mi_paid
    used: bool | None = False
    if scheme is Insutype.RESIDENT and paid > 0:
        used = None if cap_without_rewards is None else paid > cap_without_rewards
    return PriorYear(state.year, scheme, state.totals.fund_pay_sumamt, used)


def cap_without_rewards(rules: MajorIllness, enrolment: EnrolmentFacts) -> int:
    """The cap a year's major illness could pay without touching a reward (000 四 使用奖励额度)."""
    penalty = rules.incentives.rejoin_penalty if rules.incentives and enrolment.rejoined_after_break else 0
    return rules.cap - penalty
