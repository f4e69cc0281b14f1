"""Contributions (筹资): what a person's contribution brings to each fund's book, checked against
the policy (docs/domain.md#fund-books).

Sources: [001] 1 (Anhui 2024: 1,020 a person = at least 640 fiscal subsidy + 380 individual),
[001] 3 (the medical-aid fund pays part of the individual contribution of the poor: 特困 100%,
低保 80–90%, 返贫致贫 70–80%, 监测对象 50%), [000] (五) (back-payment 「参照当年参保地的个人缴费
标准」), [002] 二(一)2 (大额 and 大病 individual yearly contributions), [003] 二 (单位缴纳的基本医疗
保险费全部计入统筹基金; the in-service account is credited from the person's own contribution).

A contribution is recorded in a stream of its own, ``contrib/<psn_no>/<year>``, as a
``ContributionRecorded`` fact that names its book entries: the follower of ledger/funds.py only
adds them up. The person-year must be enrolled first (the enrolment carries the aid category and
the years paid back that the amounts are checked against).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from contracts.codes import FundPayType, Insutype, RejectionCode
from contracts.money import format_yuan
from engine.enrolment import EnrolmentFacts
from engine.errors import PolicyGap, Rejected
from engine.money import half_up
from engine.policy import Contributions, Policy

Kind = Literal["income", "spending"]


@dataclass(frozen=True)
class ContributionFacts:
    """One contribution as paid, in fen (enrolments.v2 ``contribution``)."""

    psn_no: str
    year: int
    month: int | None  # staff: the month paid for; residents: None (the year)
    individual: int  # residents' individual contribution; staff: the employee's part
    aid_subsidy: int  # paid by the medical-aid fund for a resident of an aid category (001 3)
    back_payment: int  # years of break repaired, at this year's individual standard (000 五)
    employer: int  # staff: the employer's part
    large_amount: int  # staff: 大额 individual yearly contribution (002)


@dataclass(frozen=True)
class BookEntry:
    fund_pay_type: FundPayType
    kind: Kind
    item: str  # what the money is: individual, fiscal_subsidy, employer, contribution_subsidies, …
    amount: int  # fen


@dataclass(frozen=True)
class ContributionRecorded:
    contribution: ContributionFacts
    insutype: Insutype
    admdvs: str  # the insured region (insuplc_admdvs) whose books the entries go to
    policy_id: str
    entries: tuple[BookEntry, ...]


@dataclass(frozen=True)
class PaidSoFar:
    """What a contribution stream already holds for the person-year."""

    year_paid: bool = False  # residents: the year's contribution
    months: frozenset[int] = frozenset()  # staff: months paid
    large_amount_paid: bool = False


def contribution_stream(psn_no: str, year: int) -> str:
    return f"contrib/{psn_no}/{year}"


def paid_so_far(events: Iterable[ContributionRecorded]) -> PaidSoFar:
    state = PaidSoFar()
    for e in events:
        c = e.contribution
        state = PaidSoFar(
            state.year_paid or c.month is None,
            state.months | ({c.month} if c.month is not None else set()),
            state.large_amount_paid or c.large_amount > 0,
        )
    return state


def _refuse(text: str, field: str, code: RejectionCode = RejectionCode.INVALID_MESSAGE) -> Rejected:
    return Rejected(code, text, field=field)


def _rules(policy: Policy) -> Contributions:
    if policy.contributions is None:
        raise PolicyGap(f"policy {policy.policy.id} states no contribution standard ([contributions])")
    return policy.contributions


def _resident_standard(rules: Contributions, policy: Policy) -> int:
    if rules.individual is None:
        raise PolicyGap(f"policy {policy.policy.id} states no individual contribution standard")
    return rules.individual


def _check_aid_subsidy(c: ContributionFacts, e: EnrolmentFacts, rules: Contributions, standard: int) -> None:
    category = e.aid_category
    bound = rules.aid_subsidy.get(category) if category is not None else None
    if bound is None:
        if c.aid_subsidy:
            who = category.value if category else "not in an aid category"
            raise _refuse(f"aid_subsidy {format_yuan(c.aid_subsidy)} for a person {who}: no subsidy", "aid_subsidy")
        return
    low, high = half_up(Decimal(standard) * bound.low), half_up(Decimal(standard) * bound.high)
    if not low <= c.aid_subsidy <= high:
        raise _refuse(
            f"aid_subsidy {format_yuan(c.aid_subsidy)} is outside {format_yuan(low)}–{format_yuan(high)}, "
            f"the {bound.low}–{bound.high} of the {format_yuan(standard)} standard for {category} (001 3)",
            "aid_subsidy",
        )


def _resident(c: ContributionFacts, e: EnrolmentFacts, policy: Policy, paid: PaidSoFar) -> tuple[BookEntry, ...]:
    rules = _rules(policy)
    standard = _resident_standard(rules, policy)
    if c.month is not None or c.employer or c.large_amount:
        raise _refuse("a residents' contribution is yearly: no month, employer or large_amount", "month")
    if paid.year_paid:
        raise _refuse(
            f"the {c.year} contribution of {c.psn_no} is already recorded",
            "psn_no",
            RejectionCode.CONTRIBUTION_ALREADY_RECORDED,
        )
    if c.individual + c.aid_subsidy != standard:
        raise _refuse(
            f"individual {format_yuan(c.individual)} + aid_subsidy {format_yuan(c.aid_subsidy)} must make the "
            f"individual standard {format_yuan(standard)} of policy {policy.policy.id}",
            "individual",
        )
    _check_aid_subsidy(c, e, rules, standard)
    owed_back = e.paid_back_years * standard
    if c.back_payment != owed_back:
        raise _refuse(
            f"back_payment {format_yuan(c.back_payment)}: the enrolment repairs {e.paid_back_years} year(s) at "
            f"this year's {format_yuan(standard)} (000 五), {format_yuan(owed_back)}",
            "back_payment",
        )
    return _resident_entries(c, rules)


def _resident_entries(c: ContributionFacts, rules: Contributions) -> tuple[BookEntry, ...]:
    basic, mi, aid = FundPayType.RESIDENT_POOLED, FundPayType.RESIDENT_MAJOR_ILLNESS, FundPayType.MEDICAL_AID
    entries = [
        BookEntry(basic, "income", "individual", c.individual),
        BookEntry(basic, "income", "aid_subsidy", c.aid_subsidy),
        BookEntry(aid, "spending", "contribution_subsidies", c.aid_subsidy),
        BookEntry(basic, "income", "back_payment", c.back_payment),
        BookEntry(basic, "income", "fiscal_subsidy", rules.fiscal_subsidy or 0),
    ]
    if rules.major_illness_per_person:
        transfer = rules.major_illness_per_person
        entries += [
            BookEntry(basic, "spending", "transfer_to_major_illness", transfer),
            BookEntry(mi, "income", "transfer_from_basic_fund", transfer),
        ]
    return tuple(entry for entry in entries if entry.amount)


def _staff(c: ContributionFacts, policy: Policy, paid: PaidSoFar) -> tuple[BookEntry, ...]:
    if c.month is None:
        raise _refuse("a staff contribution names the month it pays for", "month")
    if c.aid_subsidy or c.back_payment:
        raise _refuse("aid_subsidy and back_payment are residents' contributions", "aid_subsidy")
    if c.month in paid.months:
        raise _refuse(
            f"the {c.year}-{c.month:02d} contribution of {c.psn_no} is already recorded",
            "month",
            RejectionCode.CONTRIBUTION_ALREADY_RECORDED,
        )
    entries = [
        # [003] 二 单位缴纳的基本医疗保险费全部计入统筹基金; the employee's part credits the account
        BookEntry(FundPayType.STAFF_POOLED, "income", "employer", c.employer),
        BookEntry(FundPayType.STAFF_ACCOUNT, "income", "employee", c.individual),
    ]
    if c.large_amount:
        expected = _rules(policy).large_amount_yearly
        if paid.large_amount_paid or c.large_amount != expected:
            raise _refuse(
                f"large_amount {format_yuan(c.large_amount)}: once a year, "
                f"{format_yuan(expected or 0)} in policy {policy.policy.id} (002)",
                "large_amount",
            )
        entries.append(BookEntry(FundPayType.STAFF_LARGE_AMOUNT, "income", "individual", c.large_amount))
    return tuple(entry for entry in entries if entry.amount)


def record_contribution(
    c: ContributionFacts, enrolment: EnrolmentFacts | None, policy: Policy, paid: PaidSoFar
) -> ContributionRecorded:
    """The book entries of one contribution, or a rejection saying what does not fit."""
    if enrolment is None:
        raise _refuse(
            f"person {c.psn_no} has no enrolment for {c.year}; send the enrolment first",
            "psn_no",
            RejectionCode.UNKNOWN_PERSON,
        )
    if enrolment.insutype is Insutype.RESIDENT:
        entries = _resident(c, enrolment, policy, paid)
    else:
        entries = _staff(c, policy, paid)
    return ContributionRecorded(c, enrolment.insutype, enrolment.insuplc_admdvs, policy.policy.id, entries)
