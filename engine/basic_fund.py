"""基本医疗保险统筹基金: (policy-range − deductible) × ratio, within the caps left (§2.3).

Two limits apply: the benefit's own yearly cap, if any (e.g. general outpatient 330 / 1,200,
004), and the fund's annual cap shared by every benefit that counts inside it (outpatient
inside the inpatient cap, 003; negotiated drugs inside the fund cap, 004).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.codes import PersonType
from engine.benefits import BenefitName
from engine.money import times
from engine.policy import DEFAULT, Benefit, Policy, by_level
from engine.totals import Totals


def ratio_for(benefit: Benefit, name: BenefitName, person: PersonType, level: str) -> Decimal:
    table = benefit.ratio.get(person.value) or benefit.ratio.get(DEFAULT)
    if table is None:
        raise LookupError(f"the policy has no {name.value} ratio for person type {person.value!r}")
    return by_level(table, level, f"{name.value} ratio")


def paid_this_year(totals: Totals, name: BenefitName) -> int:
    paid: int = getattr(totals, f"hifp_{name.value}")
    return paid


@dataclass(frozen=True)
class BasicPayment:
    payable: int  # before the caps
    paid: int
    could_pay: int  # crt_payb_lmt_amt: what the caps left before this visit
    why: str


def pay_basic(
    benefit: Benefit, name: BenefitName, base: int, ratio: Decimal, totals: Totals, policy: Policy
) -> BasicPayment:
    payable = times(base, ratio)
    limits = []
    if benefit.yearly_cap is not None:
        limits.append((max(0, benefit.yearly_cap - paid_this_year(totals, name)), f"{name.value} yearly cap"))
    if benefit.counts_in_annual_cap:
        limits.append((max(0, policy.annual_cap - totals.hifp_in_annual_cap), "fund annual cap"))
    could_pay, binding = min(limits, default=(payable, ""))
    paid = min(payable, could_pay)
    why = f"({base / 100:.2f}) × {ratio} = {payable / 100:.2f}"
    if paid < payable:
        why += f", limited to {paid / 100:.2f} by what is left of the {binding}"
    return BasicPayment(payable, paid, could_pay, why)
