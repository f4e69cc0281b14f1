"""settlements.v1 answers rendered from the ledger's facts, at the edge.

The events hold what happened (in fen); an answer is a view of it in yuan, with the national
field names and the fund names. Rendering the same facts again gives the same bytes, so the
answer a retry gets back, the one in the outbox and the one an auditor asks for agree.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime
from typing import Any, Literal

from contracts.codes import FundPayType
from contracts.results import (
    PolicyRef,
    ReversalResult,
    SetlInfo,
    SettlementResult,
)
from engine.clearing.valuation import CaseFacts
from engine.events import ClaimSettled, SettlementReversed
from engine.items import SplitItem as SplitFacts
from engine.policy_book import PolicyStamp
from engine.settlement_facts import FundPayment, SettlementAmounts

FUND_NAMES = {
    FundPayType.STAFF_POOLED: "职工基本医疗保险统筹基金",
    FundPayType.STAFF_ACCOUNT: "职工基本医疗保险个人账户",
    FundPayType.STAFF_LARGE_AMOUNT: "职工大额医疗费用补助",
    FundPayType.RESIDENT_POOLED: "城乡居民基本医疗保险基金",
    FundPayType.RESIDENT_MAJOR_ILLNESS: "城乡居民大病保险",
    FundPayType.MEDICAL_AID: "医疗救助基金",
}


# An answer's parts are given as plain fields and validated once, with the answer: a model
# built per part (a row per fund, per line, per trail step) ran pydantic's __init__ a dozen
# times a claim for the same checks.
Fields = dict[str, Any]
_AMOUNTS = tuple(f.name for f in fields(SettlementAmounts))


def setlinfo(amounts: SettlementAmounts) -> Fields:
    return {name: getattr(amounts, name) for name in _AMOUNTS}


def setldetail(row: FundPayment) -> Fields:
    return {
        "fund_pay_type": row.fund_pay_type,
        "fund_pay_type_name": FUND_NAMES[row.fund_pay_type],
        "inscp_scp_amt": row.inscp_scp_amt,
        "crt_payb_lmt_amt": row.crt_payb_lmt_amt,
        "fund_payamt": row.fund_payamt,
        "setl_proc_info": row.setl_proc_info,
    }


def policy_ref(stamp: PolicyStamp) -> Fields:
    return {"policy_id": stamp.policy_id, "version": stamp.version, "content_hash": stamp.content_hash}


def _case(case: CaseFacts | None) -> Fields | None:
    """The fund's valuation of an inpatient case; none for an institution paid item by item."""
    if case is None or case.paymtd == "item":
        return None
    return {
        "method": case.paymtd,
        "group_code": case.group_code,
        "weight_or_score": case.catalogue_value,
        "payment_standard": case.reference_cost,
        "points": case.points,
        "outlier": case.outlier,
        "basic_fund_due": case.provisional_due,
        "difference_to_itemised": case.provisional_due - case.item_fund,
        "declared_code": case.declared_code,
        "disagreement": case.disagreement,
        "special_review": case.special_review,
        "ungrouped": case.ungrouped,
    }


def item_split(s: SplitFacts) -> Fields:
    """One line of the answer's item detail: the split, the catalogue's terms, the reason a line
    is 全自费, and where the institution's word differs from the catalogue."""
    return {
        "feedetl_sn": s.feedetl_sn,
        "det_item_fee_sumamt": s.det_item_fee_sumamt,
        "fulamt_ownpay_amt": s.fulamt_ownpay_amt,
        "overlmt_selfpay": s.overlmt_selfpay,
        "preselfpay_amt": s.preselfpay_amt,
        "inscp_scp_amt": s.inscp_scp_amt,
        "benefit": s.benefit.value,
        "excluded_category": s.excluded_category,
        "chrgitm_lv": None if s.chrgitm_lv is None else s.chrgitm_lv.value,
        "selfpay_prop": s.selfpay_prop,
        "pric_uplmt_amt": s.pric_uplmt_amt,
        "hi_nego_drug_flag": s.hi_nego_drug_flag,
        "reason": None if s.reason is None else s.reason.value,
        "disagreements": [{"field": d.field, "sent": d.sent, "catalogue": d.catalogue} for d in s.disagreements],
        "refund_sns": s.refund_sns,
    }


def settlement_answer(
    facts: ClaimSettled, *, event_id: uuid.UUID, occurred_at: datetime, setl_mode: Literal["settle", "pre_settle"]
) -> SettlementResult:
    visit = facts.visit
    return SettlementResult.model_validate(
        {
            "event_id": event_id,
            "occurred_at": occurred_at,
            "request_id": facts.request_id,
            "setl_mode": setl_mode,
            "setl_id": facts.setl_id,
            "psn_no": visit.psn_no,
            "mdtrt_id": visit.mdtrt_id,
            "fixmedins_code": visit.fixmedins_code,
            "med_type": visit.med_type,
            "insutype": visit.insutype,
            "year": facts.year,
            "setlinfo": setlinfo(facts.amounts),
            "setldetail": [setldetail(row) for row in facts.funds],
            "items": [item_split(s) for s in facts.items],
            "case_payment": _case(facts.case),
            "policy": policy_ref(facts.policy),
            "trail": [{"rule": line.rule, "source": line.source, "text": line.text} for line in facts.trail],
        }
    )


def reversal_answer(facts: SettlementReversed, *, event_id: uuid.UUID, occurred_at: datetime) -> ReversalResult:
    return ReversalResult(
        event_id=event_id,
        occurred_at=occurred_at,
        request_id=facts.request_id,
        setl_id=facts.setl_id,
        reversed_setl_id=facts.reversed_setl_id,
        psn_no=facts.psn_no,
        fixmedins_code=facts.fixmedins_code,
        year=facts.year,
        setlinfo=SetlInfo.model_validate(setlinfo(facts.amounts)),
        policy=PolicyRef.model_validate(policy_ref(facts.policy)),
    )
