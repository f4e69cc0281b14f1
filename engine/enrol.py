"""Recording enrolment facts and monthly personal-account credits (docs/domain.md#eligibility,
#personal-account)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from contracts.codes import Insutype, RejectionCode
from contracts.money import format_yuan
from engine.eligibility import coverage_from, in_collection_period
from engine.enrolment import EnrolmentFacts
from engine.errors import Rejected
from engine.events import AccountCredited, PersonEnrolled
from engine.incentives import PriorYear, checked_history
from engine.person import PersonYear
from engine.personal_account import monthly_credit
from engine.policy import Policy
from engine.totals import Totals


def _check_collection_period(enrolment: EnrolmentFacts, policy: Policy) -> None:
    stated = enrolment.in_collection_period
    if enrolment.insutype is not Insutype.RESIDENT or stated is None:
        return
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


def _check_account_not_overdrawn(enrolment: EnrolmentFacts, current: PersonYear) -> None:
    """A correction replaces the year's facts, the opening balance of the account with them;
    one that leaves less than the account has already paid this year would overdraw it."""
    corrected = replace(current, enrolment=enrolment)
    if corrected.account_balance >= 0:
        return
    t = current.totals
    spent = t.acct_paid_own + t.acct_paid_for_family
    needed = spent - t.acct_credited
    raise Rejected(
        RejectionCode.OPENING_BALANCE_ALREADY_SPENT,
        f"the personal account of {enrolment.psn_no} has already paid {format_yuan(spent)} in {enrolment.year} "
        f"against {format_yuan(t.acct_credited)} credited, so the year's opening balance cannot be less than "
        f"{format_yuan(needed)}; this correction gives {format_yuan(enrolment.acct_opening_balance)} "
        "(a lower balance is a claim on the account: reverse the settlements it paid first)",
        field="acct_opening_balance",
    )


def record_enrolment(
    enrolment: EnrolmentFacts, policy: Policy, current: PersonYear, prior: Sequence[PriorYear] = ()
) -> PersonEnrolled:
    """``current``: the person-year as recorded so far (a later enrolment corrects it);
    ``prior``: the person's earlier years the ledger holds (the incentives are checked against them)."""
    enrolment = checked_history(enrolment, prior)
    _check_collection_period(enrolment, policy)
    _check_account_not_overdrawn(enrolment, current)
    start, why = coverage_from(enrolment, policy.waiting)
    return PersonEnrolled(enrolment=enrolment, coverage_from=start, coverage_reason=why)


def credit_account(psn_no: str, year: int, month: int, person: PersonYear, policy: Policy) -> AccountCredited:
    if person.enrolment is None:
        raise Rejected(
            RejectionCode.UNKNOWN_PERSON,
            f"person {psn_no} has no enrolment for {year}; send enrolments.v2 first",
            field="psn_no",
        )
    if not person.has_account or policy.personal_account is None:
        raise Rejected(
            RejectionCode.NO_PERSONAL_ACCOUNT,
            f"person {psn_no} is in residents' insurance, which has no personal account",
            field="psn_no",
        )
    if month in person.credited_months:
        raise Rejected(
            RejectionCode.ACCOUNT_MONTH_ALREADY_CREDITED,
            f"month {year}-{month:02d} is already credited to {psn_no}",
            field="month",
        )
    amount, _ = monthly_credit(person.enrolment, policy.personal_account)
    return AccountCredited(month=month, amount=amount, delta=Totals(acct_credited=amount))
