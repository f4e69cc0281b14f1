"""Recording enrolment facts and monthly personal-account credits."""

from __future__ import annotations

from contracts.codes import Insutype, RejectionCode
from contracts.enrolments import AccountCredit, Enrolment
from engine.eligibility import coverage_from, in_collection_period
from engine.errors import Rejected
from engine.events import AccountCredited, PersonEnrolled
from engine.person import PersonYear
from engine.personal_account import monthly_credit
from engine.policy import Policy
from engine.totals import Totals


def record_enrolment(enrolment: Enrolment, policy: Policy) -> PersonEnrolled:
    stated = enrolment.in_collection_period
    if enrolment.insutype is Insutype.RESIDENT and stated is not None:
        derived = in_collection_period(enrolment, policy.waiting)
        if stated != derived:
            month, day = policy.waiting.collection_start
            window = f"{enrolment.year - 1}-{month:02d}-{day:02d} to {enrolment.year - 1}-12-31"
            raise Rejected(
                RejectionCode.INVALID_MESSAGE,
                f"in_collection_period is {str(stated).lower()} but enrol_date {enrolment.enrol_date.isoformat()} is "
                f"{'inside' if derived else 'outside'} the collection period ({window}); "
                "omit the field to let the date decide",
                field="in_collection_period",
            )
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
