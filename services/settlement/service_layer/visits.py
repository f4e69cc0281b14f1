"""Wire messages → the engine's own inputs, at the edge.

claims.v2 is one way a visit reaches the engine; the national interface's messages (2207,
2304, …) are another, each converted into the same ``Visit``: national codes as sent, every fee
line with what the institution declared of it (compared with the payer's catalogue by the
engine, never used for money), and the national fields the service does not use as ``extra``.
An enrolments.v2 enrolment becomes ``EnrolmentFacts`` through the region's code mapping.
"""

from __future__ import annotations

from contracts.claims import Claim, FeeLine, Reversal
from contracts.codes import STAFF_PERSON_TYPES, Insutype, PersonType, RejectionCode
from contracts.enrolments import Contribution, Enrolment
from engine.code_mapping import person_type_of, scheme_of
from engine.contributions import ContributionFacts
from engine.enrolment import EnrolmentFacts, OutOfRegionFiling, PriorCover, Relative
from engine.errors import Rejected
from engine.national_codes import NationalCodes
from engine.policy import Policy
from engine.reverse import ReversalRequest
from engine.visit import DeclaredTerms, Diagnosis, Prescriber, Procedure, Visit, VisitItem


def _item(line: FeeLine) -> VisitItem:
    return VisitItem(
        feedetl_sn=line.feedetl_sn,
        hilist_code=line.med_list_codg,
        medins_list_codg=line.medins_list_codg or "",
        hilist_name=line.med_list_name,
        pric=line.pric,
        cnt=line.cnt,
        det_item_fee_sumamt=line.det_item_fee_sumamt,
        init_feedetl_sn=line.init_feedetl_sn,
        excluded_category=line.excluded_category,
        declared=DeclaredTerms(line.chrgitm_lv, line.selfpay_prop, line.pric_uplmt_amt, line.hi_nego_drug_flag),
        extra=line.extra,
    )


def visit_of(claim: Claim) -> Visit:
    doctor = claim.resp_physician
    extra = claim.extra
    if claim.fixmedins_name:
        extra["fixmedins_name"] = claim.fixmedins_name
    return Visit(
        psn_no=claim.psn_no,
        insutype=claim.insutype,
        mdtrt_id=claim.mdtrt_id,
        fixmedins_code=claim.fixmedins_code,
        med_type=claim.med_type,
        begndate=claim.begntime,
        enddate=claim.endtime,
        diagnoses=tuple(Diagnosis(d.diag_code, d.maindiag_flag, d.diag_type) for d in claim.diseinfo),
        procedures=tuple(Procedure(o.oprn_oprt_code, o.oprn_oprt_type == "1") for o in claim.oprninfo),
        dise_codg=claim.dise_codg,
        extn_rx_flag=claim.extn_rx_flag,
        drg_code=claim.drg_code,
        dip_code=claim.dip_code,
        resp_physician=None if doctor is None else Prescriber(doctor.dr_code, doctor.dr_title),
        acct_used_flag=claim.acct_used_flag,
        acct_payer_psn_no=claim.acct_payer_psn_no,
        acct_payer_relation=claim.acct_payer_relation,
        items=tuple(_item(line) for line in claim.feedetail),
        gend=claim.gend,
        brdy=claim.brdy,
        mdtrtarea_admvs=claim.mdtrtarea_admvs,
        extra=extra,
    )


def _coherent(e: Enrolment, scheme: Insutype, person: PersonType) -> None:
    """What enrolments.v1 checked on its own words, now checked after the region's mapping."""
    problem, field = None, None
    if person is PersonType.NEWBORN and e.birth_date is None:
        problem, field = "birth_date is required for a newborn", "birth_date"
    elif person is PersonType.IN_SERVICE and e.contribution_base is None:
        problem, field = "contribution_base is required for in-service staff", "contribution_base"
    elif scheme is not Insutype.STAFF and e.acct_opening_balance:
        problem, field = "only staff insurance has a personal account", "acct_opening_balance"
    if problem is not None:
        raise Rejected(RejectionCode.INVALID_MESSAGE, problem, field=field)


def enrolment_facts_of(e: Enrolment, scheme: Insutype, policy: Policy, codes: NationalCodes) -> EnrolmentFacts:
    """``scheme``: the region's reading of ``e.insutype`` (PolicyBook.scheme_of); ``policy``: the
    region's policy of that scheme, whose [codes.psn_type] reads ``e.psn_type``."""
    person = person_type_of(policy, e.psn_type, scheme, codes)
    assert (person in STAFF_PERSON_TYPES) == (scheme is Insutype.STAFF)  # person_type_of refuses a mismatch
    _coherent(e, scheme, person)
    prior = e.prior_cover
    return EnrolmentFacts(
        psn_no=e.psn_no,
        insutype=scheme,
        psn_type=person,
        insuplc_admdvs=e.insuplc_admdvs,
        year=e.year,
        enrol_date=e.enrol_date,
        in_collection_period=e.in_collection_period,
        migrant_worker=e.migrant_worker,
        continuous_years=e.continuous_years,
        break_years=e.break_years,
        paid_back_years=e.paid_back_years,
        first_enrolment=e.first_enrolment,
        zero_claim_years=e.zero_claim_years,
        rejoined_after_break=e.rejoined_after_break,
        birth_date=e.birth_date,
        aid_category=e.aid_category,
        veteran_resettled=e.veteran_resettled,
        prior_cover=None if prior is None else PriorCover(prior.left_scheme, prior.left_on),
        registered_diseases=tuple(e.registered_diseases),
        family_members=tuple(Relative(m.psn_no, m.relation) for m in e.family_members),
        out_of_region_filings=tuple(
            OutOfRegionFiling(f.filing_type, f.mdtrtarea_admvs, f.begndate, f.enddate) for f in e.out_of_region_filings
        ),
        acct_opening_balance=e.acct_opening_balance,
        contribution_base=e.contribution_base,
    )


def reversal_request_of(reversal: Reversal) -> ReversalRequest:
    return ReversalRequest(
        request_key=reversal.idempotency_key,
        request_id=reversal.request_id,
        psn_no=reversal.psn_no,
        fixmedins_code=reversal.fixmedins_code,
        setl_id=reversal.setl_id,
    )


def contribution_facts_of(
    c: Contribution, enrolled: Insutype, policy: Policy, codes: NationalCodes
) -> ContributionFacts:
    """``enrolled``: the scheme of the person-year's enrolment; ``policy``: the region's policy of
    it, whose [codes.insutype] reads the contribution's national ``insutype``."""
    paid_into = scheme_of(policy, c.insutype, codes)
    if paid_into is not enrolled:
        raise Rejected(
            RejectionCode.SCHEME_MISMATCH,
            f"the contribution is for insutype {codes.describe('insutype', c.insutype)}, but person {c.psn_no} "
            f"is enrolled under {enrolled.value} in {c.year}",
            field="insutype",
        )
    return ContributionFacts(
        psn_no=c.psn_no,
        year=c.year,
        month=c.month,
        individual=c.individual,
        aid_subsidy=c.aid_subsidy,
        back_payment=c.back_payment,
        employer=c.employer,
        large_amount=c.large_amount,
    )
