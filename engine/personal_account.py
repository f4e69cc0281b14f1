"""职工个人账户 (003): monthly credits, and paying what is left for the person.

The account pays only when the person asks (acct_used_flag), up to its balance, never for
excluded expenses such as public health, fitness or wellness. A relative's staff account may
pay instead (家庭共济: spouse, parents, children); that payment is acct_mulaid_pay, part of
acct_pay, and is debited in the relative's own stream.
"""

from __future__ import annotations

from contracts.codes import PersonType, RejectionCode
from contracts.enrolments import Enrolment
from engine.errors import Rejected
from engine.money import times
from engine.policy import PersonalAccount


def monthly_credit(enrolment: Enrolment, rules: PersonalAccount) -> tuple[int, str]:
    if enrolment.psn_type is PersonType.RETIRED:
        return rules.retired_monthly, f"retiree: fixed {rules.retired_monthly / 100:.2f} a month (003)"
    base = enrolment.contribution_base or 0
    rate = rules.in_service_rate if enrolment.psn_type is PersonType.IN_SERVICE else rules.flexible_rate
    amount = times(base, rate)
    return amount, f"{rate} of the contribution base {base / 100:.2f} = {amount / 100:.2f} (003)"


def check_family_payer(payer: Enrolment, beneficiary_psn_no: str, relation: str, rules: PersonalAccount) -> None:
    allowed = {r.value for r in rules.family_relations}
    listed = {m.psn_no: m.relation.value for m in payer.family_members}
    if relation not in allowed or listed.get(beneficiary_psn_no) != relation:
        raise Rejected(
            RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED,
            f"person {payer.psn_no} has not registered {beneficiary_psn_no} as {relation} for 家庭共济 "
            f"(allowed: {', '.join(sorted(allowed))})",
            field="acct_payer_psn_no",
        )
