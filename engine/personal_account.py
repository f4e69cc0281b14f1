"""职工个人账户 (003, docs/domain.md#personal-account): monthly credits, and paying what is
left for the person.

The account pays only when the person asks (acct_used_flag), up to its balance, never for
excluded expenses such as public health, fitness or wellness. A relative's staff account may
pay instead (家庭共济: spouse, parents, children); that payment is acct_mulaid_pay, part of
acct_pay, and is debited in the relative's own stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import FamilyRelation, PersonType, RejectionCode
from contracts.money import format_yuan
from engine.enrolment import EnrolmentFacts
from engine.errors import Rejected
from engine.money import times
from engine.policy import PersonalAccount
from engine.trail import TrailLine, domain_rule


def monthly_credit(enrolment: EnrolmentFacts, rules: PersonalAccount) -> tuple[int, str]:
    if enrolment.psn_type is PersonType.RETIRED:
        return rules.retired_monthly, f"retiree: fixed {format_yuan(rules.retired_monthly)} a month (003)"
    base = enrolment.contribution_base or 0
    rate = rules.in_service_rate if enrolment.psn_type is PersonType.IN_SERVICE else rules.flexible_rate
    amount = times(base, rate)
    return amount, f"{rate} of the contribution base {format_yuan(base)} = {format_yuan(amount)} (003)"


def check_family_payer(payer: EnrolmentFacts, beneficiary_psn_no: str, relation: str, rules: PersonalAccount) -> None:
    allowed = {r.value for r in rules.family_relations}
    listed = {m.psn_no: m.relation.value for m in payer.family_members}
    if relation not in allowed or listed.get(beneficiary_psn_no) != relation:
        raise Rejected(
            RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED,
            f"person {payer.psn_no} has not registered {beneficiary_psn_no} as {relation} for 家庭共济 "
            f"(allowed: {', '.join(sorted(allowed))})",
            field="acct_payer_psn_no",
        )


@dataclass(frozen=True)
class PayingRelative:
    """A relative's staff account that may pay (家庭共济), under the rules of their own policy."""

    enrolment: EnrolmentFacts
    balance: int
    rules: PersonalAccount


@dataclass(frozen=True)
class AccountsInput:
    psn_no: str
    acct_used_flag: bool
    acct_payer_relation: FamilyRelation | None
    person_part: int  # psn_part_amt: what the funds left for the person
    never_from_account: int  # 全自费 of lines no personal account may pay
    own_balance: int | None  # None: the person has no personal account
    relative: PayingRelative | None


@dataclass(frozen=True)
class AccountsOutcome:
    payable: int  # what an account may pay of the person's part
    own_pay: int
    mulaid: int  # acct_mulaid_pay: the relative's account
    balance_after: int  # balc: the person's own account after this visit
    could_pay: int  # both balances before this visit
    trail: tuple[TrailLine, ...]


def pay_from_accounts(given: AccountsInput) -> AccountsOutcome:
    """Stage 6 of settle_claim: own account first, then a relative's, when the person asks."""
    payable = given.person_part - given.never_from_account
    own_balance = given.own_balance or 0
    relative = given.relative
    could = own_balance + (relative.balance if relative else 0)
    if not given.acct_used_flag:
        return AccountsOutcome(payable, 0, 0, own_balance, could, ())
    own_pay = max(0, min(own_balance, payable)) if given.own_balance is not None else 0
    mulaid = 0
    if relative is not None and given.acct_payer_relation is not None:
        check_family_payer(relative.enrolment, given.psn_no, given.acct_payer_relation.value, relative.rules)
        mulaid = max(0, min(relative.balance, payable - own_pay))
    text = (
        f"own account pays {format_yuan(own_pay)} (balance after {format_yuan(own_balance - own_pay)}); "
        f"relative's account pays {format_yuan(mulaid)}"
    )
    trail = (TrailLine("personal_account", domain_rule("personal-account"), text),)
    return AccountsOutcome(payable, own_pay, mulaid, own_balance - own_pay, could, trail)
