"""Upcasters: (event_type, version) → a function from that version's data to the next one's.

engine.records applies them one step at a time when it reads an event older than its type's
current version. Stored events are never rewritten: an upcaster works on the data as read.

Version 1 is the shape stored before events had a schema version (no ``schema_version`` key):
``PersonEnrolled`` held the enrolments.v1 message, ``ClaimSettled`` the claims.v1 claim and the
settlements.v1 answer, ``SettlementReversed`` the reversal_result answer, all with yuan text.
The v1 → v2 upcasters read those shapes here, by hand, with the defaults the v1 messages had:
they must not depend on today's wire models, which may change on their own schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contracts.money import format_yuan, parse_yuan

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

# Fields of enrolments.v1 the rules never read, and the v1 defaults of those it may omit.
_ENROLMENT_MESSAGE_ONLY = {"msg_type", "schema_version", "request_id", "sent_at", "psn_name"}
_ENROLMENT_V1_DEFAULTS: Mapping[str, Any] = {
    "in_collection_period": None,
    "migrant_worker": False,
    "continuous_years": 1,
    "break_years": 0,
    "paid_back_years": 0,
    "first_enrolment": False,
    "zero_claim_years": 0,
    "rejoined_after_break": False,
    "birth_date": None,
    "aid_category": None,
    "veteran_resettled": False,
    "prior_cover": None,
    "registered_diseases": [],
    "family_members": [],
    "acct_opening_balance": "0",
    "contribution_base": None,
}
# The same for claims.v1 claims and their items.
_CLAIM_MESSAGE_ONLY = {"msg_type", "schema_version", "request_id", "sent_at", "setl_mode", "fixmedins_name"}
_CLAIM_V1_DEFAULTS: Mapping[str, Any] = {
    "fixmedins_level": None,
    "dual_channel_designated": False,
    "diagnoses": [],
    "dise_codg": None,
    "extn_rx_flag": False,
    "drg_code": None,
    "drg_weight": None,
    "dip_code": None,
    "dip_score": None,
    "resp_physician": None,
    "acct_used_flag": False,
    "acct_payer_psn_no": None,
    "acct_payer_relation": None,
}
_ITEM_V1_DEFAULTS: Mapping[str, Any] = {
    "hilist_name": "",
    "selfpay_prop": "0",
    "pric_uplmt_amt": None,
    "hi_nego_drug_flag": False,
    "excluded_category": None,
}


def _fen(yuan: Any) -> int:
    return parse_yuan(yuan)


def _opt_fen(yuan: Any) -> int | None:
    return None if yuan is None else parse_yuan(yuan)


def _with_fen(row: Mapping[str, Any], names: tuple[str, ...]) -> Data:
    return {**row, **{name: _fen(row[name]) for name in names}}


def enrolment_v1_to_facts(message: Mapping[str, Any]) -> Data:
    """An enrolments.v1 enrolment as v1 stored it → the enrolment facts of v2."""
    facts = {k: v for k, v in {**_ENROLMENT_V1_DEFAULTS, **message}.items() if k not in _ENROLMENT_MESSAGE_ONLY}
    facts["acct_opening_balance"] = _fen(facts["acct_opening_balance"])
    facts["contribution_base"] = _opt_fen(facts["contribution_base"])
    return facts


def _visit_v1(claim: Mapping[str, Any]) -> Data:
    visit = {k: v for k, v in {**_CLAIM_V1_DEFAULTS, **claim}.items() if k not in _CLAIM_MESSAGE_ONLY}
    visit["diagnoses"] = [
        {"diag_code": d["diag_code"], "maindiag_flag": d.get("maindiag_flag", False)} for d in visit["diagnoses"]
    ]
    doctor = visit["resp_physician"]
    if doctor is not None:
        visit["resp_physician"] = {"dr_code": doctor["dr_code"], "dr_title": doctor["dr_title"]}
    visit["items"] = [
        {
            **_with_fen({**_ITEM_V1_DEFAULTS, **item}, ("pric", "det_item_fee_sumamt")),
            "pric_uplmt_amt": _opt_fen(item.get("pric_uplmt_amt")),
        }
        for item in visit["items"]
    ]
    return visit


_SETLINFO_AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "balc",
)
_SPLIT_AMOUNTS = ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
_CASE_AMOUNTS = ("payment_standard", "basic_fund_due", "difference_to_itemised")


def amounts_v1(setlinfo: Mapping[str, Any]) -> Data:
    return {**_with_fen(setlinfo, _SETLINFO_AMOUNTS), "pool_prop_selfpay": str(setlinfo["pool_prop_selfpay"])}


def _fund_row_v1(row: Mapping[str, Any]) -> Data:
    kept = {k: v for k, v in row.items() if k != "fund_pay_type_name"}  # a name, rendered from the code
    return {"setl_proc_info": "", **_with_fen(kept, ("inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt"))}


def claim_settled_v1_to_v2(data: Data) -> Data:
    result, claim = data["result"], data["claim"]
    case = result.get("case_payment")
    return {
        "schema_version": 2,
        "setl_id": data["setl_id"],
        "request_key": data["request_key"],
        "request_id": result["request_id"],
        "year": result["year"],
        "visit": _visit_v1(claim),
        "policy": dict(result["policy"]),
        "amounts": amounts_v1(result["setlinfo"]),
        "funds": [_fund_row_v1(row) for row in result["setldetail"]],
        "items": [{"excluded_category": None, **_with_fen(i, _SPLIT_AMOUNTS)} for i in result["items"]],
        "case_payment": None if case is None else {"points": None, "outlier": None, **_with_fen(case, _CASE_AMOUNTS)},
        "trail": [dict(line) for line in result["trail"]],
        "payer_psn_no": data["payer_psn_no"],
        "delta": data["delta"],
    }


def settlement_reversed_v1_to_v2(data: Data) -> Data:
    result = data["result"]
    return {
        "schema_version": 2,
        "setl_id": data["setl_id"],
        "reversed_setl_id": data["reversed_setl_id"],
        "request_key": data["request_key"],
        "request_id": result["request_id"],
        "psn_no": result["psn_no"],
        "year": result["year"],
        "fixmedins_code": data.get("fixmedins_code") or result["fixmedins_code"],
        "policy": dict(result["policy"]),
        "amounts": amounts_v1(result["setlinfo"]),
        "funds": dict(data.get("funds") or {}),  # early v1 events did not record them
        "delta": data["delta"],
    }


def person_enrolled_v1_to_v2(data: Data) -> Data:
    return {**data, "schema_version": 2, "enrolment": enrolment_v1_to_facts(data["enrolment"])}


def only_versioned(data: Data) -> Data:
    """v1 → v2 of the types whose fields did not change: the version is now stated."""
    return {**data, "schema_version": 2}


# Version 3 of ClaimSettled (docs/adr/0006-payer-data-and-national-codes.md): the visit holds what
# the institution sent, in national codes, and the payer's data decides the rest; each split line
# records the catalogue terms that priced it, why it is 全自费, disagreements and refund lines.
# What version 2 recorded of the institution's own word — kind, level, dual-channel designation,
# DRG weight, DIP score — is not a fact of the v3 visit; it is kept, as recorded, in ``extra``.
# med_type is kept as recorded: v1/v2's 22, 23, 24 meant "inpatient, DRG / DIP / other", and the
# national code set's 22, 23, 24 are inpatient too (外伤, 转外诊治, 急诊转住院), so every region's
# mapping routes them as v2 did; the payment method is the registry's now.
_V2_INSTITUTION_WORD = ("fixmedins_kind", "fixmedins_level", "dual_channel_designated", "drg_weight", "dip_score")


def _item_v2_to_v3(item: Mapping[str, Any]) -> Data:
    cap = item["pric_uplmt_amt"]
    return {
        "feedetl_sn": item["feedetl_sn"],
        "hilist_code": item["hilist_code"],
        "medins_list_codg": "",
        "hilist_name": item["hilist_name"],
        "pric": format_yuan(item["pric"]),  # fen → yuan text: v3 keeps unit prices to 6 decimals
        "cnt": item["cnt"],
        "det_item_fee_sumamt": item["det_item_fee_sumamt"],
        "init_feedetl_sn": None,
        "excluded_category": item["excluded_category"],
        "declared": {
            "chrgitm_lv": item["chrgitm_lv"],
            "selfpay_prop": item["selfpay_prop"],
            "pric_uplmt_amt": None if cap is None else format_yuan(cap),
            "hi_nego_drug_flag": item["hi_nego_drug_flag"],
        },
        "extra": {},
    }


def _visit_v2_to_v3(visit: Mapping[str, Any]) -> Data:
    kept = {k: v for k, v in visit.items() if k not in (*_V2_INSTITUTION_WORD, "items", "resp_physician")}
    doctor = visit["resp_physician"]
    return {
        **kept,
        "diagnoses": [{"diag_type": "", **d} for d in visit["diagnoses"]],  # the v2 visit had no diag_type
        "procedures": [],
        "resp_physician": None
        if doctor is None
        else {"dr_code": doctor["dr_code"], "declared_title": doctor["dr_title"]},
        "items": [_item_v2_to_v3(item) for item in visit["items"]],
        "gend": None,
        "brdy": None,
        "extra": {name: visit[name] for name in _V2_INSTITUTION_WORD},
    }


_SPLIT_V3_UNRECORDED: Mapping[str, Any] = {
    "chrgitm_lv": None,  # v2 priced by the visit's declared terms, recorded there
    "selfpay_prop": None,
    "pric_uplmt_amt": None,
    "hi_nego_drug_flag": None,
    "reason": None,
    "disagreements": [],
    "refund_sns": [],
}


def claim_settled_v2_to_v3(data: Data) -> Data:
    if data.get("schema_version") != 2:
        raise ValueError(f"expected version 2, got {data.get('schema_version')!r}")
    return {
        **data,
        "schema_version": 3,
        "visit": _visit_v2_to_v3(data["visit"]),
        "items": [{**split, **_SPLIT_V3_UNRECORDED} for split in data["items"]],
    }


def claim_settled_v3_to_v4(data: Data) -> Data:
    """v4 values the case by the fund's own grouping (issue 13, docs/clearing.md): ``case``
    replaces ``case_payment``. A v3 ``case_payment`` took the institution's DRG/DIP code at its
    word (only the weight or score came from the catalogue), never grouped a DIP case from its
    diagnoses and was never cleared: a v3 settlement has no case facts (its stored data keeps
    the old figures for whoever reads the raw event), and clearing counts it item by item."""
    if data.get("schema_version") != 3:
        raise ValueError(f"expected version 3, got {data.get('schema_version')!r}")
    rest = {k: v for k, v in data.items() if k != "case_payment"}
    return {**rest, "schema_version": 4, "case": None}


# Version 5 of ClaimSettled and version 3 of PersonEnrolled (issue 12 item 12, 异地就医): the visit
# records the treating region it was sent with (mdtrtarea_admvs), the settlement which policy's
# payer data priced it when that was the treating region's (payer_policy), and the enrolment the
# person's out-of-region filings. Nothing older carried a treating region or a filing: every
# earlier settlement was priced as local care, with its own policy's payer data, which is what
# None and [] say.
def claim_settled_v4_to_v5(data: Data) -> Data:
    if data.get("schema_version") != 4:
        raise ValueError(f"expected version 4, got {data.get('schema_version')!r}")
    if "mdtrtarea_admvs" in data["visit"] or "payer_policy" in data:
        raise ValueError("version 4 recorded no treating region and no payer policy")
    return {**data, "schema_version": 5, "visit": {**data["visit"], "mdtrtarea_admvs": None}, "payer_policy": None}


def enrolment_v2_to_v3(enrolment: Mapping[str, Any]) -> Data:
    """The enrolment facts of version 2 (PersonEnrolled v2, projection v2) with no filing."""
    if "out_of_region_filings" in enrolment:
        raise ValueError("version 2 enrolment facts recorded no out-of-region filings")
    return {**enrolment, "out_of_region_filings": []}


def person_enrolled_v2_to_v3(data: Data) -> Data:
    if data.get("schema_version") != 2:
        raise ValueError(f"expected version 2, got {data.get('schema_version')!r}")
    return {**data, "schema_version": 3, "enrolment": enrolment_v2_to_v3(data["enrolment"])}


UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    ("PersonEnrolled", 1): person_enrolled_v1_to_v2,
    ("PersonEnrolled", 2): person_enrolled_v2_to_v3,
    ("AccountCredited", 1): only_versioned,
    ("ClaimSettled", 1): claim_settled_v1_to_v2,
    ("ClaimSettled", 2): claim_settled_v2_to_v3,
    ("ClaimSettled", 3): claim_settled_v3_to_v4,
    ("ClaimSettled", 4): claim_settled_v4_to_v5,
    ("FamilyAccountDebited", 1): only_versioned,
    ("SettlementReversed", 1): settlement_reversed_v1_to_v2,
    ("FamilyAccountRefunded", 1): only_versioned,
}
