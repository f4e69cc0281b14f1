"""A person's year as a reader wants it: paid so far, and what is left of each cap."""

from __future__ import annotations

from contracts.results import AnnualTotals
from engine.benefit_name import POOLED
from engine.benefits import configured
from engine.major_illness import yearly_cap
from engine.medical_aid import aid_cap
from engine.person import PersonYear
from engine.policy import Policy


def annual_totals(state: PersonYear, policy: Policy | None) -> AnnualTotals:
    t = state.totals
    annual_left = mi_left = aid_left = None
    caps_left: dict[str, int] = {}
    if policy is not None:
        annual_left = max(0, policy.annual_cap - t.hifp_in_annual_cap)
        for name in POOLED:
            benefit = configured(policy, name)
            if benefit is not None and benefit.yearly_cap is not None:
                caps_left[name.value] = max(0, benefit.yearly_cap - t.hifp[name])
        if state.enrolment is not None:
            mi_left = max(0, yearly_cap(policy.major_illness, state.enrolment)[0] - t.mi_paid)
            category = state.enrolment.aid_category
            if category is not None and policy.medical_aid is not None:
                aid_left = max(0, aid_cap(category, policy.medical_aid) - t.aid_paid)
    enrolment = state.enrolment
    return AnnualTotals(
        psn_no=state.psn_no,
        year=state.year,
        insutype=enrolment.insutype.value if enrolment else None,
        policy_id=policy.policy.id if policy else None,
        coverage_from=state.coverage_from.isoformat() if state.coverage_from else None,
        settlements=t.settlements,
        admissions=t.admissions,
        medfee_sumamt=t.medfee_sumamt,
        fund_pay_sumamt=t.fund_pay_sumamt,
        hifp_pay=t.hifp_total,
        major_illness_pay=t.mi_paid,
        maf_pay=t.aid_paid,
        acct_pay=t.acct_paid_own + t.acct_mulaid_received,
        acct_paid_for_family=t.acct_paid_for_family,
        psn_cash_pay=t.psn_cash_pay,
        deductible_used={b.value: used for b, used in t.dedc.items() if used},
        annual_cap_left=annual_left,
        benefit_caps_left=caps_left,
        major_illness_base=t.mi_base,
        major_illness_cap_left=mi_left,
        medical_aid_base=t.aid_base,
        medical_aid_cap_left=aid_left,
        balc=state.account_balance,
    )
