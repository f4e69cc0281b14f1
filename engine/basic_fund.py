"""基本医疗保险统筹基金: (policy-range − deductible) × ratio, within the caps left
(docs/domain.md#basic-fund).

Two limits apply: the benefit's own yearly cap, if any (e.g. general outpatient 330 / 1,200,
004), and the fund's annual cap shared by every benefit that counts inside it (outpatient
inside the inpatient cap, 003; negotiated drugs inside the fund cap, 004). A visit may be paid
under two benefits (its main one, and dual-channel for negotiated drugs): they are paid in
that order, the second against the totals the first left, so both spend one shared cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, reduce
from operator import add

from contracts.codes import PersonType
from contracts.money import format_yuan
from engine.benefit_name import BenefitName
from engine.benefits import Routing, configured
from engine.deductible import deductible_left, special_treatment_deductible
from engine.errors import PolicyGap
from engine.items import SplitItem
from engine.money import half_up, times
from engine.policy import DEFAULT, Benefit, Policy, by_level
from engine.totals import ZERO, ByBenefit, Totals
from engine.trail import TrailLine, policy_key


def ratio_for(benefit: Benefit, name: BenefitName, person: PersonType, level: str) -> Decimal:
    table = benefit.ratio.get(person.value) or benefit.ratio.get(DEFAULT)
    if table is None:
        raise PolicyGap(f"the policy has no {name.value} ratio for person type {person.value!r}")
    return by_level(table, level, f"{name.value} ratio")


@dataclass(frozen=True)
class BasicPayment:
    payable: int  # before the caps
    paid: int
    could_pay: int  # crt_payb_lmt_amt: what the caps left before this visit
    why: str
    above_annual_cap: int = 0  # of the base (after the deductible), what the fund's annual cap left unpaid


def _above_annual_cap(base: int, ratio: Decimal, paid: int) -> int:
    """The part of the base the fund's annual cap kept from being paid: the base less what the
    payment stands for (paid ÷ ratio, to the fen)."""
    if ratio == 0:
        return 0
    return max(0, base - half_up(Decimal(paid) / ratio))


def pay_basic(
    benefit: Benefit, name: BenefitName, base: int, ratio: Decimal, totals: Totals, policy: Policy
) -> BasicPayment:
    payable = times(base, ratio)
    limits = []
    if benefit.yearly_cap is not None:
        limits.append((max(0, benefit.yearly_cap - totals.hifp[name]), f"{name.value} yearly cap"))
    if benefit.counts_in_annual_cap:
        limits.append((max(0, policy.annual_cap - totals.hifp_in_annual_cap), "fund annual cap"))
    could_pay, binding = min(limits, default=(payable, ""))
    paid = min(payable, could_pay)
    why = f"({format_yuan(base)}) × {ratio} = {format_yuan(payable)}"
    above = 0
    if paid < payable:
        why += f", limited to {format_yuan(paid)} by what is left of the {binding}"
        above = _above_annual_cap(base, ratio, paid) if binding == "fund annual cap" else 0
    return BasicPayment(payable, paid, could_pay, why, above)


@dataclass(frozen=True)
class BasicInput:
    splits: tuple[SplitItem, ...]
    routing: Routing
    level: str  # engine.benefits.level_key
    psn_type: PersonType
    totals: Totals  # the year before this visit
    covered: bool  # outside any waiting period
    inpatient: bool
    policy: Policy
    policy_file: str
    ratio_reduction: Decimal = Decimal(0)  # 异地就医 without the local standard (engine.out_of_region)


@dataclass(frozen=True)
class BenefitShare:
    """What one benefit gave a visit: its deductible, its payment, the self-pay it left."""

    name: BenefitName
    dedc: int
    paid: int
    could_pay: int
    counts_in_annual_cap: bool
    ratio: Decimal
    mi_selfpay: int  # qualifying self-pay it adds for major illness
    aid_selfpay: int  # self-pay medical aid may work on

    @cached_property  # read twice: the running totals, then the visit's delta
    def delta(self) -> Totals:
        in_cap = self.paid if self.counts_in_annual_cap else 0
        return Totals(
            dedc=ByBenefit({self.name: self.dedc}), hifp=ByBenefit({self.name: self.paid}), hifp_in_annual_cap=in_cap
        )


@dataclass(frozen=True)
class BasicOutcome:
    shares: tuple[BenefitShare, ...]
    delta: Totals
    could_pay: int  # the basic fund row's crt_payb_lmt_amt
    trail: tuple[TrailLine, ...]

    @property
    def dedc_total(self) -> int:
        return sum(s.dedc for s in self.shares)

    @property
    def hifp_total(self) -> int:
        return sum(s.paid for s in self.shares)

    @property
    def main_ratio(self) -> Decimal | None:
        """pool_prop_selfpay: the ratio of the first benefit that paid under its rules."""
        return self.shares[0].ratio if self.shares else None


def _special_caps(benefit: Benefit, policy: Policy) -> Benefit:
    """A special treatment 参照住院 (003) under the inpatient caps: the fund's annual cap only."""
    if policy.chronic.special_treatment.caps == "chronic":
        return benefit
    return benefit.model_copy(update={"yearly_cap": None, "counts_in_annual_cap": True})


_ONE_ADMISSION = Totals(admissions=1)


def pay_basic_benefits(given: BasicInput) -> BasicOutcome:
    """Stage 3 of settle_claim: deductible and basic fund, benefit by benefit."""
    running = given.totals
    shares: list[BenefitShare] = []
    trail: list[TrailLine] = []
    for name in given.routing.order:
        amount = sum(s.inscp_scp_amt for s in given.splits if s.benefit is name)
        if amount == 0 and name is not given.routing.main:
            continue
        share, lines = _one_benefit(given, name, amount, running)
        trail += lines
        if share is not None:
            shares.append(share)
            running = running + share.delta
    delta = reduce(add, (s.delta for s in shares)) if shares else ZERO
    if given.inpatient and given.covered:
        delta += _ONE_ADMISSION
    outside_cap = sum(s.could_pay for s in shares if not s.counts_in_annual_cap)
    annual_left = max(0, given.policy.annual_cap - given.totals.hifp_in_annual_cap)
    return BasicOutcome(tuple(shares), delta, annual_left + outside_cap, tuple(trail))


def _one_benefit(
    given: BasicInput, name: BenefitName, amount: int, running: Totals
) -> tuple[BenefitShare | None, tuple[TrailLine, ...]]:
    policy, file = given.policy, given.policy_file
    benefit = configured(policy, name)
    if benefit is None:
        why = f"{name.value}: no pooled benefit; {format_yuan(amount)} is self-pay"
        return None, ((TrailLine("basic_fund", policy_key(file, "benefits"), why),) if amount else ())
    if not given.covered:
        return None, ()
    special = given.routing.inpatient_rules and name is BenefitName.CHRONIC_OUTPATIENT
    ratio_name = BenefitName.INPATIENT if special else name
    ratio_source = policy.benefits.inpatient if special else benefit
    due, why = (
        special_treatment_deductible(benefit, given.level, running, policy)
        if special
        else deductible_left(benefit, name, given.level, running, policy)
    )
    dedc = min(amount, due)
    ratio = max(Decimal(0), ratio_for(ratio_source, name, given.psn_type, given.level) - given.ratio_reduction)
    capped = _special_caps(benefit, policy) if special else benefit
    pay = pay_basic(capped, name, amount - dedc, ratio, running, policy)
    selfpay = amount - pay.paid
    if policy.major_illness.include_preselfpay:
        selfpay += sum(s.preselfpay_amt for s in given.splits if s.benefit is name)
    mi_base = pay.above_annual_cap if policy.major_illness.basis == "above_basic_cap" else selfpay
    share = BenefitShare(
        name,
        dedc,
        pay.paid,
        pay.could_pay,
        benefit.counts_in_annual_cap,
        ratio,
        mi_selfpay=mi_base if benefit.major_illness else 0,
        aid_selfpay=selfpay if benefit.medical_aid else 0,
    )
    dedc_key = f"benefits.{name.value}." + ("deductible" if benefit.deductible_basis != "none" else "deductible_basis")
    if special and policy.chronic.special_treatment.deductible != "chronic":
        dedc_key = "chronic.special_treatment"
    lines = (
        TrailLine(
            "deductible",
            policy_key(file, dedc_key),
            f"{name.value}: {why}; {format_yuan(dedc)} taken from {format_yuan(amount)}",
        ),
        TrailLine("basic_fund", policy_key(file, f"benefits.{ratio_name.value}.ratio"), f"{name.value}: {pay.why}"),
    )
    return share, lines
