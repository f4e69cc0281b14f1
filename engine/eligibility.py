"""From which day any fund pays for a person in a year: waiting periods and their exemptions
(docs/domain.md#eligibility).

Sources: 000 五 (waiting periods from 2025, flexible-employment staff 6 months), 001 2 (rejoin
from staff insurance, the army or prison within 3 months: retroactive, later: 3-month wait),
001 8 (newborns enrolled within 90 days are covered from birth).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.codes import Insutype, PersonType
from engine.enrolment import EnrolmentFacts
from engine.policy import Waiting
from engine.trail import TrailLine, domain_rule


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def waiting_months(e: EnrolmentFacts, rules: Waiting) -> int:
    """Residents outside the collection period or after a break: 3 months fixed, plus one
    month per year of break (reduced by years paid back), at least 6 after a break of 4+ years.

    Reading of 000 "每多断保1年…增加变动待遇等待期1个月": each year of the break adds a month,
    so a 1-year break waits 4 months; this is what makes the 6-month floor bite after 4 years.
    """
    variable = max(0, e.break_years * rules.variable_months_per_break_year - e.paid_back_years)
    total = rules.fixed_months + variable
    if e.break_years >= rules.long_break_years:
        total = max(total, rules.long_break_min_months)
    return total


def in_collection_period(e: EnrolmentFacts, rules: Waiting) -> bool:
    """Paid between the collection start (1 Sep, 000) and 31 Dec of the year before cover."""
    month, day = rules.collection_start
    return date(e.year - 1, month, day) <= e.enrol_date <= date(e.year - 1, 12, 31)


def _on_time(e: EnrolmentFacts, rules: Waiting) -> bool:
    if in_collection_period(e, rules):
        return True
    if rules.migrant_deadline is None:  # 000 (五) exempts no migrants; only a region's own rule does
        return False
    month, day = rules.migrant_deadline
    deadline = date(e.year, month, min(day, calendar.monthrange(e.year, month)[1]))
    return e.migrant_worker and e.enrol_date <= deadline


def coverage_from(e: EnrolmentFacts, rules: Waiting) -> tuple[date, str]:
    """The first day of cover in year ``e.year`` and the sentence that explains it."""
    year_start = date(e.year, 1, 1)
    joined = max(e.enrol_date, year_start)
    if e.insutype is Insutype.STAFF:
        if e.psn_type is PersonType.FLEXIBLE and (e.first_enrolment or e.break_years > 0):
            start = add_months(joined, rules.flexible_staff_months)
            months = rules.flexible_staff_months
            return start, f"flexible-employment staff joining or rejoining wait {months} months (000)"
        return joined, "staff insurance covers from enrolment"
    if e.psn_type is PersonType.NEWBORN and e.birth_date is not None:
        if e.enrol_date <= e.birth_date + timedelta(days=rules.newborn_grace_days):
            why = f"newborn enrolled within {rules.newborn_grace_days} days: covered from birth (001)"
            return max(e.birth_date, year_start), why
        return joined, "newborns wait no period (000), cover from enrolment"
    grace = rules.rejoin_grace_months
    if e.prior_cover is not None and e.enrol_date <= add_months(e.prior_cover.left_on, grace):
        start = max(year_start, e.prior_cover.left_on + timedelta(days=1))
        left = e.prior_cover.left_scheme
        return start, f"joined within {grace} months of leaving {left} cover: no wait, retroactive (001)"
    exempt = e.aid_category is not None or e.veteran_resettled
    if _on_time(e, rules) and e.break_years == 0 and e.prior_cover is None:
        return year_start, "enrolled in the collection period without a break: covered all year"
    if exempt:  # 000 exempts them from every waiting period, the late-rejoin one of 001 included
        return joined, "medical-aid recipients and resettled veterans wait no period (000)"
    if e.prior_cover is not None:
        wait, left = rules.rejoin_late_wait_months, e.prior_cover.left_scheme
        start = add_months(joined, wait)
        return start, f"joined more than {grace} months after leaving {left} cover: {wait}-month wait (001)"
    months = waiting_months(e, rules)
    why = "after a break" if e.break_years else "outside the collection period"
    return add_months(joined, months), f"enrolled {why}: {months}-month waiting period (000)"


@dataclass(frozen=True)
class Cover:
    covered: bool  # False: the visit begins inside a waiting period, so no fund pays
    trail: tuple[TrailLine, ...]


def cover_for(begndate: date, year: int, coverage_from: date, coverage_reason: str) -> Cover:
    """Stage 2 of settle_claim. A stay that began last year and ends in this one is covered
    from 1 January when this year's cover starts then (continuous cover); otherwise the
    visit's first day decides."""
    covered = max(begndate, date(year, 1, 1)) >= coverage_from
    text = f"covered from {coverage_from.isoformat()}: {coverage_reason}"
    if not covered:
        text += f"; the visit begins {begndate.isoformat()}, inside the waiting period, so no fund pays"
    return Cover(covered, (TrailLine("eligibility", domain_rule("eligibility"), text),))
