"""The record form of the engine's facts: explicit JSON per type, written and read field by field.

Money is int fen, ratios and quantities are decimal text, dates ISO text, codes their value.
Readers are strict: a missing field, an unexpected one or a value of the wrong type raises
(KeyError, TypeError or ValueError), which engine.events.from_record reports as an unreadable
event. Nothing here knows a wire message: the wire is rendered from these facts at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from contracts.codes import (
    AidCategory,
    ChargeLevel,
    ExcludedCategory,
    FamilyRelation,
    HospitalLevel,
    InstitutionKind,
    Insutype,
    MedType,
    PersonType,
    PhysicianTitle,
)
from engine.enrolment import EnrolmentFacts, PriorCover, Relative
from engine.visit import Diagnosis, Prescriber, Visit, VisitItem

Json = dict[str, Any]


def exact(data: Mapping[str, Any], names: set[str]) -> Mapping[str, Any]:
    """``data`` if it holds exactly ``names``; a reader never drops a field it does not know."""
    if set(data) != names:
        missing, unknown = sorted(names - set(data)), sorted(set(data) - names)
        raise ValueError(f"fields missing {missing}, unknown {unknown}")
    return data


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


fen = integer  # money: int fen


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true/false, got {value!r}")
    return value


def decimal(value: Any) -> Decimal:
    return Decimal(text(value))


def day(value: Any) -> date:
    return date.fromisoformat(text(value))


def opt_fen(value: Any) -> int | None:
    return None if value is None else fen(value)


def opt_text(value: Any) -> str | None:
    return None if value is None else text(value)


def opt_decimal(value: Any) -> Decimal | None:
    return None if value is None else decimal(value)


def opt_day(value: Any) -> date | None:
    return None if value is None else day(value)


def _plain(value: Any) -> Any:
    """A fact's field as JSON: enums by value, decimals as text, dates ISO."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no record form for {type(value).__name__}")


def flat(obj: Any, names: tuple[str, ...]) -> Json:
    return {name: _plain(getattr(obj, name)) for name in names}


_ITEM = (
    "feedetl_sn",
    "hilist_code",
    "hilist_name",
    "chrgitm_lv",
    "selfpay_prop",
    "pric",
    "cnt",
    "det_item_fee_sumamt",
    "pric_uplmt_amt",
    "hi_nego_drug_flag",
    "excluded_category",
)
_VISIT = (
    "psn_no",
    "insutype",
    "mdtrt_id",
    "fixmedins_code",
    "fixmedins_kind",
    "fixmedins_level",
    "dual_channel_designated",
    "med_type",
    "begndate",
    "enddate",
    "dise_codg",
    "extn_rx_flag",
    "drg_code",
    "drg_weight",
    "dip_code",
    "dip_score",
    "acct_used_flag",
    "acct_payer_psn_no",
    "acct_payer_relation",
)


def visit_to_json(visit: Visit) -> Json:
    doctor = visit.resp_physician
    return {
        **flat(visit, _VISIT),
        "diagnoses": [{"diag_code": d.diag_code, "maindiag_flag": d.maindiag_flag} for d in visit.diagnoses],
        "resp_physician": None if doctor is None else {"dr_code": doctor.dr_code, "dr_title": doctor.dr_title.value},
        "items": [flat(item, _ITEM) for item in visit.items],
    }


def _item(d: Mapping[str, Any]) -> VisitItem:
    d = exact(d, set(_ITEM))
    excluded = d["excluded_category"]
    return VisitItem(
        feedetl_sn=text(d["feedetl_sn"]),
        hilist_code=text(d["hilist_code"]),
        hilist_name=text(d["hilist_name"]),
        chrgitm_lv=ChargeLevel(d["chrgitm_lv"]),
        selfpay_prop=decimal(d["selfpay_prop"]),
        pric=fen(d["pric"]),
        cnt=decimal(d["cnt"]),
        det_item_fee_sumamt=fen(d["det_item_fee_sumamt"]),
        pric_uplmt_amt=opt_fen(d["pric_uplmt_amt"]),
        hi_nego_drug_flag=flag(d["hi_nego_drug_flag"]),
        excluded_category=None if excluded is None else ExcludedCategory(excluded),
    )


def visit_from_json(data: Mapping[str, Any]) -> Visit:
    d = exact(data, {*_VISIT, "diagnoses", "resp_physician", "items"})
    doctor, level, relation = d["resp_physician"], d["fixmedins_level"], d["acct_payer_relation"]
    return Visit(
        psn_no=text(d["psn_no"]),
        insutype=Insutype(d["insutype"]),
        mdtrt_id=text(d["mdtrt_id"]),
        fixmedins_code=text(d["fixmedins_code"]),
        fixmedins_kind=InstitutionKind(d["fixmedins_kind"]),
        fixmedins_level=None if level is None else HospitalLevel(level),
        dual_channel_designated=flag(d["dual_channel_designated"]),
        med_type=MedType(d["med_type"]),
        begndate=day(d["begndate"]),
        enddate=day(d["enddate"]),
        diagnoses=tuple(
            Diagnosis(text(g["diag_code"]), flag(g["maindiag_flag"]))
            for g in (exact(g, {"diag_code", "maindiag_flag"}) for g in d["diagnoses"])
        ),
        dise_codg=opt_text(d["dise_codg"]),
        extn_rx_flag=flag(d["extn_rx_flag"]),
        drg_code=opt_text(d["drg_code"]),
        drg_weight=opt_decimal(d["drg_weight"]),
        dip_code=opt_text(d["dip_code"]),
        dip_score=opt_decimal(d["dip_score"]),
        resp_physician=None
        if doctor is None
        else Prescriber(text(exact(doctor, {"dr_code", "dr_title"})["dr_code"]), PhysicianTitle(doctor["dr_title"])),
        acct_used_flag=flag(d["acct_used_flag"]),
        acct_payer_psn_no=opt_text(d["acct_payer_psn_no"]),
        acct_payer_relation=None if relation is None else FamilyRelation(relation),
        items=tuple(_item(i) for i in d["items"]),
    )


_ENROLMENT = (
    "psn_no",
    "insutype",
    "psn_type",
    "insuplc_admdvs",
    "year",
    "enrol_date",
    "in_collection_period",
    "migrant_worker",
    "continuous_years",
    "break_years",
    "paid_back_years",
    "first_enrolment",
    "zero_claim_years",
    "rejoined_after_break",
    "birth_date",
    "aid_category",
    "veteran_resettled",
    "acct_opening_balance",
    "contribution_base",
)


def enrolment_to_json(e: EnrolmentFacts) -> Json:
    prior = e.prior_cover
    return {
        **flat(e, _ENROLMENT),
        "prior_cover": None
        if prior is None
        else {"left_scheme": prior.left_scheme, "left_on": prior.left_on.isoformat()},
        "registered_diseases": list(e.registered_diseases),
        "family_members": [{"psn_no": m.psn_no, "relation": m.relation.value} for m in e.family_members],
    }


def enrolment_from_json(data: Mapping[str, Any]) -> EnrolmentFacts:
    d = exact(data, {*_ENROLMENT, "prior_cover", "registered_diseases", "family_members"})
    prior, aid, stated = d["prior_cover"], d["aid_category"], d["in_collection_period"]
    if prior is not None:
        exact(prior, {"left_scheme", "left_on"})
        if prior["left_scheme"] not in ("staff", "army", "prison"):
            raise ValueError(f"prior_cover.left_scheme {prior['left_scheme']!r}")
    return EnrolmentFacts(
        psn_no=text(d["psn_no"]),
        insutype=Insutype(d["insutype"]),
        psn_type=PersonType(d["psn_type"]),
        insuplc_admdvs=text(d["insuplc_admdvs"]),
        year=integer(d["year"]),
        enrol_date=day(d["enrol_date"]),
        in_collection_period=None if stated is None else flag(stated),
        migrant_worker=flag(d["migrant_worker"]),
        continuous_years=integer(d["continuous_years"]),
        break_years=integer(d["break_years"]),
        paid_back_years=integer(d["paid_back_years"]),
        first_enrolment=flag(d["first_enrolment"]),
        zero_claim_years=integer(d["zero_claim_years"]),
        rejoined_after_break=flag(d["rejoined_after_break"]),
        birth_date=opt_day(d["birth_date"]),
        aid_category=None if aid is None else AidCategory(aid),
        veteran_resettled=flag(d["veteran_resettled"]),
        prior_cover=None if prior is None else PriorCover(prior["left_scheme"], day(prior["left_on"])),
        registered_diseases=tuple(text(code) for code in d["registered_diseases"]),
        family_members=tuple(
            Relative(text(m["psn_no"]), FamilyRelation(exact(m, {"psn_no", "relation"})["relation"]))
            for m in d["family_members"]
        ),
        acct_opening_balance=fen(d["acct_opening_balance"]),
        contribution_base=opt_fen(d["contribution_base"]),
    )
