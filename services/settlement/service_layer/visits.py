"""Wire messages → the engine's own inputs, at the edge.

claims.v1 is one way a visit reaches the engine; the national interface's messages (2207,
2304, …) or a claims.v2 will be others, each converted here into the same ``Visit``. Amounts
are already fen in the wire models; only the fields the rules and the record need are kept.
"""

from __future__ import annotations

from contracts.claims import Claim, ClaimItem, Reversal
from contracts.enrolments import Enrolment
from engine.enrolment import EnrolmentFacts, PriorCover, Relative
from engine.reverse import ReversalRequest
from engine.visit import Diagnosis, Prescriber, Visit, VisitItem


def _item(item: ClaimItem) -> VisitItem:
    return VisitItem(
        feedetl_sn=item.feedetl_sn,
        hilist_code=item.hilist_code,
        hilist_name=item.hilist_name,
        chrgitm_lv=item.chrgitm_lv,
        selfpay_prop=item.selfpay_prop,
        pric=item.pric,
        cnt=item.cnt,
        det_item_fee_sumamt=item.det_item_fee_sumamt,
        pric_uplmt_amt=item.pric_uplmt_amt,
        hi_nego_drug_flag=item.hi_nego_drug_flag,
        excluded_category=item.excluded_category,
    )


def visit_of(claim: Claim) -> Visit:
    doctor = claim.resp_physician
    return Visit(
        psn_no=claim.psn_no,
        insutype=claim.insutype,
        mdtrt_id=claim.mdtrt_id,
        fixmedins_code=claim.fixmedins_code,
        fixmedins_kind=claim.fixmedins_kind,
        fixmedins_level=claim.fixmedins_level,
        dual_channel_designated=claim.dual_channel_designated,
        med_type=claim.med_type,
        begndate=claim.begndate,
        enddate=claim.enddate,
        diagnoses=tuple(Diagnosis(d.diag_code, d.maindiag_flag) for d in claim.diagnoses),
        dise_codg=claim.dise_codg,
        extn_rx_flag=claim.extn_rx_flag,
        drg_code=claim.drg_code,
        drg_weight=claim.drg_weight,
        dip_code=claim.dip_code,
        dip_score=claim.dip_score,
        resp_physician=None if doctor is None else Prescriber(doctor.dr_code, doctor.dr_title),
        acct_used_flag=claim.acct_used_flag,
        acct_payer_psn_no=claim.acct_payer_psn_no,
        acct_payer_relation=claim.acct_payer_relation,
        items=tuple(_item(item) for item in claim.items),
    )


def enrolment_facts_of(e: Enrolment) -> EnrolmentFacts:
    prior = e.prior_cover
    return EnrolmentFacts(
        psn_no=e.psn_no,
        insutype=e.insutype,
        psn_type=e.psn_type,
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
