"""Recording enrolment facts and monthly personal-account credits."""

from __future__ import annotations

from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Enrolment
from engine.eligibility import coverage_from
from engine.errors import Rejected
from engine.events import AccountCredited, PersonEnrolled
from engine.person import PersonYear
from engine.personal_account import monthly_credit
from engine.policy import Policy
from engine.totals import Totals


def record_enrolment(enrolment: Enrolment, policy: Policy) -> PersonEnrolled:
    start, why = coverage_from(enrolment, policy.waiting)
    return PersonEnrolled(enrolment=enrolment, coverage_from=start, coverage_reason=why)


def credit_account(credit: AccountCredit, person: PersonYear, policy: Policy) -> AccountCredited:
    if person.enrolment is None:
        raise Rejected(
            RejectionCode.UNKNOWN_PERSON,
            f"person {credit.psn_no} has no enrolment for {credit.year}; send enrolments.v1 first",
            field="psn_no",
        )
    if not person.has_account or policy.personal_account is None:
        raise Rejected(
            RejectionCode.NO_PERSONAL_ACCOUNT,
            f"person {credit.psn_no} is in residents' insurance, which has no personal account",
            field="psn_no",
        )
    if credit.month in person.credited_months:
        raise Rejected(
            RejectionCode.ACCOUNT_MONTH_ALREADY_CREDITED,
            f"month {credit.year}-{credit.month:02d} is already credited to {credit.psn_no}",
            field="month",
        )
    amount, _ = monthly_credit(person.enrolment, policy.personal_account)
    return AccountCredited(month=credit.month, amount=amount, delta=Totals(acct_credited=amount))
