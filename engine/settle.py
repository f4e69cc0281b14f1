"""settle_claim: price one visit against the policy and the person's year (docs/domain.md §2).

Pure: no I/O, no clock. The ids and the time come in as arguments, so pricing the same claim
against the same year and policy always gives the same result — which is what audit replay
relies on. The order is the policy's: items → deductible → basic fund → major illness →
medical aid → personal account → cash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from contracts.claims import Claim, visit_year
from contracts.codes import FundPayType, RejectionCode
from contracts.results import SetlDetail, SetlInfo, SettlementResult, TrailStep
from engine.basic_fund import pay_basic, ratio_for
from engine.benefits import BenefitName, configured, level_key, route
from engine.case_payment import case_payment
from engine.deductible import deductible_left
from engine.errors import InvariantBroken, Rejected
from engine.events import ClaimSettled, Event, FamilyAccountDebited
from engine.items import SplitItem, check_amount, item_views, split_item
from engine.major_illness import pay_major_illness, yearly_cap
from engine.medical_aid import aid_cap, describe, pay_aid
from engine.person import PersonYear
from engine.personal_account import check_family_payer
from engine.policy import Benefit, Policy
from engine.policy_book import PricedPolicy
from engine.totals import Totals

FUND_NAMES = {
    FundPayType.STAFF_POOLED: "职工基本医疗保险统筹基金",
    FundPayType.STAFF_ACCOUNT: "职工基本医疗保险个人账户",
    FundPayType.STAFF_LARGE_AMOUNT: "职工大额医疗费用补助",
    FundPayType.RESIDENT_POOLED: "城乡居民基本医疗保险基金",
    FundPayType.RESIDENT_MAJOR_ILLNESS: "城乡居民大病保险",
    FundPayType.MEDICAL_AID: "医疗救助基金",
}


@dataclass(frozen=True)
class PayerAccount:
    """A relative whose staff account pays (家庭共济), with the policy of their own scheme."""

    person: PersonYear
    policy: Policy


@dataclass(frozen=True)
class Settled:
    result: SettlementResult
    delta: Totals  # the change to the person's year
    events: tuple[tuple[str, Event], ...]  # (stream id, event): the person's, then the payer's


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _preflight(claim: Claim, person: PersonYear, payer: PayerAccount | None) -> None:
    if person.enrolment is None:
        raise Rejected(
            RejectionCode.UNKNOWN_PERSON,
            f"person {claim.psn_no} has no enrolment for {person.year}; send enrolments.v1 first",
            field="psn_no",
        )
    if person.enrolment.insutype is not claim.insutype:
        raise Rejected(
            RejectionCode.SCHEME_MISMATCH,
            f"person {claim.psn_no} is insured under {person.enrolment.insutype.value}, "
            f"the claim says {claim.insutype.value}",
            field="insutype",
        )
    if claim.mdtrt_id in person.visits:
        raise Rejected(
            RejectionCode.VISIT_ALREADY_SETTLED,
            f"visit {claim.mdtrt_id} is already settled as {person.visits[claim.mdtrt_id]}; "
            "reverse that settlement before settling the visit again",
            field="mdtrt_id",
        )
    if claim.acct_payer_psn_no is not None and (
        payer is None or payer.person.enrolment is None or not payer.person.has_account
    ):
        raise Rejected(
            RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED,
            f"{claim.acct_payer_psn_no} has no staff personal account in {person.year}",
            field="acct_payer_psn_no",
        )


def settle_claim(
    claim: Claim,
    person: PersonYear,
    priced: PricedPolicy,
    *,
    payer: PayerAccount | None,
    setl_id: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
) -> Settled:
    policy = priced.policy
    _preflight(claim, person, payer)
    enrolment = person.enrolment
    assert enrolment is not None and person.coverage_from is not None
    if visit_year(claim) != person.year or policy.policy.year != person.year:
        raise Rejected(
            RejectionCode.OUTSIDE_POLICY_YEAR,
            f"visit ends in {visit_year(claim)}, outside policy year {policy.policy.year}",
            field="enddate",
        )
    trail: list[TrailStep] = []

    def note(rule: str, source: str, text: str) -> None:
        trail.append(TrailStep(rule=rule, source=source, text=text))

    level = level_key(claim)
    routing = route(claim, enrolment, policy)
    note("benefit", "docs/domain.md §3", routing.why)
    if routing.dual_channel_why:
        note("dual_channel", "004", routing.dual_channel_why)
    # A stay that began last year and ends in this one is covered from 1 January when this
    # year's cover starts then (continuous cover); otherwise the visit's first day decides.
    covered = max(claim.begndate, date(person.year, 1, 1)) >= person.coverage_from
    note(
        "eligibility",
        "000/001",
        f"covered from {person.coverage_from.isoformat()}: {person.coverage_reason}"
        + (
            ""
            if covered
            else f"; the visit begins {claim.begndate.isoformat()}, inside the waiting period, so no fund pays"
        ),
    )

    # 1. items
    excluded = frozenset(policy.excluded_categories)
    acct_rules = (payer.policy.personal_account if payer else None) or policy.personal_account
    acct_excluded = frozenset(acct_rules.excluded_categories) if acct_rules else excluded
    splits: list[SplitItem] = []
    for index, item in enumerate(claim.items):
        check_amount(item, index)
        priced_by = routing.negotiated if item.hi_nego_drug_flag else routing.main
        splits.append(split_item(item, priced_by, excluded, acct_excluded))
    medfee = sum(s.amount for s in splits)
    fulamt = sum(s.fulamt_ownpay for s in splits)
    overlmt = sum(s.overlmt_selfpay for s in splits)
    preself = sum(s.preselfpay for s in splits)
    inscp = sum(s.inscp for s in splits)
    note(
        "items",
        "docs/domain.md §2.1",
        f"total {_yuan(medfee)} = 全自费 {_yuan(fulamt)} + 超限价 {_yuan(overlmt)} + 先行自付 {_yuan(preself)} "
        f"+ 政策范围内 {_yuan(inscp)}",
    )

    # 2–3. deductible and basic fund, benefit by benefit (the main benefit first)
    delta = Totals(
        settlements=1,
        medfee_sumamt=medfee,
        fulamt_ownpay_amt=fulamt,
        overlmt_selfpay=overlmt,
        preselfpay_amt=preself,
        inscp_scp_amt=inscp,
    )
    running = person.totals
    order = [routing.main] + [b for b in (routing.negotiated,) if b is not None and b is not routing.main]
    dedc_total = hifp_total = mi_added = aid_selfpay = 0
    annual_left_before = max(0, policy.annual_cap - person.totals.hifp_in_annual_cap)
    outside_annual_cap = 0  # room of benefits with their own cap only (counts_in_annual_cap = false)
    main_ratio = None
    for name in order:
        amount = sum(s.inscp for s in splits if s.benefit is name)
        benefit = configured(policy, name)
        ratio_source: Benefit | None
        if routing.inpatient_rules and name is BenefitName.CHRONIC_OUTPATIENT:
            ratio_source = policy.benefits.inpatient
        else:
            ratio_source = benefit
        if amount == 0 and name is not routing.main:
            continue
        if benefit is None or ratio_source is None or not covered:
            if benefit is None and amount:
                note("basic_fund", policy.policy.id, f"{name.value}: no pooled benefit; {_yuan(amount)} is self-pay")
            continue
        due, why = deductible_left(benefit, name, level, running, policy)
        dedc = min(amount, due)
        ratio = ratio_for(ratio_source, name, enrolment.psn_type, level)
        main_ratio = main_ratio if main_ratio is not None else ratio
        pay = pay_basic(benefit, name, amount - dedc, ratio, running, policy)
        note(
            "deductible",
            f"{policy.policy.id} benefits.{name.value}.deductible",
            f"{name.value}: {why}; {_yuan(dedc)} taken from {_yuan(amount)}",
        )
        note("basic_fund", f"{policy.policy.id} benefits.{name.value}.ratio", f"{name.value}: {pay.why}")
        step = Totals(
            **{f"dedc_{name.value}": dedc, f"hifp_{name.value}": pay.paid},
            hifp_in_annual_cap=pay.paid if benefit.counts_in_annual_cap else 0,
        )
        running, delta = running + step, delta + step
        if not benefit.counts_in_annual_cap:
            outside_annual_cap += pay.could_pay
        dedc_total += dedc
        hifp_total += pay.paid
        selfpay = amount - pay.paid
        if policy.major_illness.include_preselfpay:
            selfpay += sum(s.preselfpay for s in splits if s.benefit is name)
        if benefit.major_illness:
            mi_added += selfpay
        if benefit.medical_aid:
            aid_selfpay += selfpay
    if claim.med_type.value.startswith("2") and covered:
        delta += Totals(admissions=1)

    # 4. major illness on the year's accumulation
    mi_rules = policy.major_illness
    mi_cap, cap_why = yearly_cap(mi_rules, enrolment)
    mi_could = max(0, mi_cap - person.totals.mi_paid)
    mi_pay = pay_major_illness(person.totals.mi_base, mi_added, person.totals.mi_paid, mi_cap, mi_rules)
    if mi_added:
        note(
            "major_illness",
            f"{policy.policy.id} major_illness",
            f"qualifying self-pay {_yuan(person.totals.mi_base)} + {_yuan(mi_added)} this visit; bands from "
            f"{_yuan(mi_rules.bands[0].above)}; {cap_why}; pays {_yuan(mi_pay)}",
        )
    delta += Totals(mi_base=mi_added, mi_paid=mi_pay)

    # 5. medical aid on what basic and major illness left
    aid_pay = aid_added = aid_could = 0
    category = enrolment.aid_category
    if category is not None and policy.medical_aid is not None and aid_selfpay:
        aid_added = max(0, aid_selfpay - mi_pay)
        aid_could = max(0, aid_cap(category, policy.medical_aid) - person.totals.aid_paid)
        aid_pay = pay_aid(category, person.totals.aid_base, aid_added, person.totals.aid_paid, policy.medical_aid)
        note(
            "medical_aid",
            f"{policy.policy.id} medical_aid",
            f"{describe(category, policy.medical_aid)}; year's base {_yuan(person.totals.aid_base + aid_added)}; "
            f"pays {_yuan(aid_pay)}",
        )
        delta += Totals(aid_base=aid_added, aid_paid=aid_pay)

    fund_pay = hifp_total + mi_pay + aid_pay
    psn_part = medfee - fund_pay

    # 6. personal account: own first, then a relative's (家庭共济)
    account_payable = psn_part - sum(s.fulamt_ownpay for s in splits if not s.account_may_pay)
    own_pay = mulaid = 0
    balance_after = person.account_balance if person.has_account else 0
    events_extra: list[tuple[str, Event]] = []
    if claim.acct_used_flag:
        if person.has_account:
            own_pay = max(0, min(person.account_balance, account_payable))
            balance_after = person.account_balance - own_pay
        if payer is not None and claim.acct_payer_relation is not None:
            assert payer.person.enrolment is not None and payer.policy.personal_account is not None
            check_family_payer(
                payer.person.enrolment, claim.psn_no, claim.acct_payer_relation.value, payer.policy.personal_account
            )
            mulaid = max(0, min(payer.person.account_balance, account_payable - own_pay))
            if mulaid:
                payer_delta = Totals(acct_paid_for_family=mulaid)
                events_extra.append(
                    (payer.person.stream_id, FamilyAccountDebited(setl_id, claim.psn_no, mulaid, payer_delta))
                )
        note(
            "personal_account",
            "003",
            f"own account pays {_yuan(own_pay)} (balance after {_yuan(balance_after)}); "
            f"relative's account pays {_yuan(mulaid)}",
        )
    acct_pay = own_pay + mulaid
    cash = psn_part - acct_pay
    if not (0 <= fund_pay <= medfee and 0 <= acct_pay <= psn_part and cash >= 0):
        raise InvariantBroken(f"funds {fund_pay}, account {acct_pay}, cash {cash} of {medfee}: a share below zero")
    delta += Totals(fund_pay_sumamt=fund_pay, acct_paid_own=own_pay, acct_mulaid_received=mulaid, psn_cash_pay=cash)

    staff = policy.basic_fund is FundPayType.STAFF_POOLED
    info = SetlInfo(
        medfee_sumamt=medfee,
        fulamt_ownpay_amt=fulamt,
        overlmt_selfpay=overlmt,
        preselfpay_amt=preself,
        inscp_scp_amt=inscp,
        act_pay_dedc=dedc_total,
        hifp_pay=hifp_total,
        pool_prop_selfpay=main_ratio if main_ratio is not None else 0,
        hifmi_pay=0 if staff else mi_pay,
        hifob_pay=mi_pay if staff else 0,
        maf_pay=aid_pay,
        fund_pay_sumamt=fund_pay,
        psn_part_amt=psn_part,
        acct_pay=acct_pay,
        acct_mulaid_pay=mulaid,
        psn_cash_pay=cash,
        balc=balance_after,
    )

    details = [
        SetlDetail(
            fund_pay_type=policy.basic_fund,
            fund_pay_type_name=FUND_NAMES[policy.basic_fund],
            inscp_scp_amt=inscp,
            crt_payb_lmt_amt=annual_left_before + outside_annual_cap,
            fund_payamt=hifp_total,
            setl_proc_info=f"deductible {_yuan(dedc_total)}, paid {_yuan(hifp_total)}",
        )
    ]
    running_mi = person.totals.mi_base + mi_added
    if mi_added or mi_pay:
        details.append(
            SetlDetail(
                fund_pay_type=mi_rules.fund,
                fund_pay_type_name=FUND_NAMES[mi_rules.fund],
                inscp_scp_amt=mi_added,
                crt_payb_lmt_amt=mi_could,
                fund_payamt=mi_pay,
                setl_proc_info=f"year's qualifying self-pay {_yuan(running_mi)}",
            )
        )
    if aid_added or aid_pay:
        details.append(
            SetlDetail(
                fund_pay_type=FundPayType.MEDICAL_AID,
                fund_pay_type_name=FUND_NAMES[FundPayType.MEDICAL_AID],
                inscp_scp_amt=aid_added,
                crt_payb_lmt_amt=aid_could,
                fund_payamt=aid_pay,
                setl_proc_info=str(category.value) if category else "",
            )
        )
    if acct_pay:
        details.append(
            SetlDetail(
                fund_pay_type=FundPayType.STAFF_ACCOUNT,
                fund_pay_type_name=FUND_NAMES[FundPayType.STAFF_ACCOUNT],
                inscp_scp_amt=account_payable,
                crt_payb_lmt_amt=(person.account_balance if person.has_account else 0)
                + (payer.person.account_balance if payer else 0),
                fund_payamt=acct_pay,
                setl_proc_info=f"of which 家庭共济 {_yuan(mulaid)}",
            )
        )
    for d in details:
        if not 0 <= d.fund_payamt <= d.crt_payb_lmt_amt and d.fund_pay_type is not FundPayType.STAFF_ACCOUNT:
            raise InvariantBroken(f"{d.fund_pay_type.value} would pay {d.fund_payamt} of {d.crt_payb_lmt_amt}")

    case, case_why = (None, "")
    if claim.med_type.value.startswith("2") and covered:  # an uncovered stay: no fund owes anything
        case, case_why = case_payment(
            claim,
            level,
            policy.case_payment,
            medfee=medfee,
            psn_part=psn_part,
            other_funds=mi_pay + aid_pay,
            hifp=hifp_total,
        )
        if case_why:
            note("case_payment", f"{policy.policy.id} case_payment", case_why)

    result = SettlementResult(
        event_id=event_id,
        occurred_at=occurred_at,
        request_id=claim.request_id,
        setl_mode=claim.setl_mode,
        setl_id=setl_id,
        psn_no=claim.psn_no,
        mdtrt_id=claim.mdtrt_id,
        fixmedins_code=claim.fixmedins_code,
        med_type=claim.med_type.value,
        insutype=claim.insutype.value,
        year=person.year,
        setlinfo=info,
        setldetail=tuple(details),
        items=item_views(splits),
        case_payment=case,
        policy=priced.ref,
        trail=tuple(trail),
    )
    payer_psn_no = claim.acct_payer_psn_no if mulaid else None
    settled = ClaimSettled(
        setl_id=setl_id,
        request_key=claim.idempotency_key,
        mdtrt_id=claim.mdtrt_id,
        fixmedins_code=claim.fixmedins_code,
        payer_psn_no=payer_psn_no,
        acct_mulaid_pay=mulaid,
        delta=delta,
        result=result.model_dump(mode="json"),
        claim=claim.model_dump(mode="json"),
    )
    return Settled(result=result, delta=delta, events=((person.stream_id, settled), *events_extra))
