"""The record form of the engine's facts: explicit JSON per type, written and read field by field.

Money is int fen, ratios and quantities are decimal text, dates ISO text, codes their value.
Readers are strict: a missing field, an unexpected one or a value of the wrong type raises
(KeyError, TypeError or ValueError), which engine.events.from_record reports as an unreadable
event. Nothing here knows a wire message: the wire is rendered from these facts at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any

from contracts.codes import (
    AidCategory,
    ChargeLevel,
    ExcludedCategory,
    FamilyRelation,
    Insutype,
    PersonType,
    PhysicianTitle,
)
from engine.enrolment import EnrolmentFacts, FilingType, OutOfRegionFiling, PriorCover, Relative
from engine.visit import DeclaredTerms, Diagnosis, Prescriber, Procedure, Visit, VisitItem

Json = dict[str, Any]


def exact(data: Mapping[str, Any], names: AbstractSet[str]) -> Mapping[str, Any]:
    """``data`` if it holds exactly ``names``; a reader never drops a field it does not know."""
    # A dict's keys view compares with a set as one (no copy: this runs for every object of every
    # event read); anything else as before, so a list where an object belongs fails the same way.
    if (data.keys() if type(data) is dict else set(data)) != names:
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
    kind = type(value)  # exact types first (a StrEnum is not exactly str): most fields are text or fen
    if kind is str or kind is int or kind is bool or value is None:
        return value
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
    "medins_list_codg",
    "hilist_name",
    "pric",
    "cnt",
    "det_item_fee_sumamt",
    "init_feedetl_sn",
    "excluded_category",
)
_DECLARED = ("chrgitm_lv", "selfpay_prop", "pric_uplmt_amt", "hi_nego_drug_flag")
_DECLARED_FIELDS = frozenset(_DECLARED)
_VISIT = (
    "psn_no",
    "insutype",
    "mdtrt_id",
    "fixmedins_code",
    "med_type",
    "begndate",
    "enddate",
    "dise_codg",
    "extn_rx_flag",
    "drg_code",
    "dip_code",
    "acct_used_flag",
    "acct_payer_psn_no",
    "acct_payer_relation",
    "gend",
    "brdy",
    "mdtrtarea_admvs",
)
VISIT_FIELDS = frozenset({*_VISIT, "diagnoses", "procedures", "resp_physician", "items", "extra"})
ITEM_FIELDS = frozenset({*_ITEM, "declared", "extra"})


def plain_json(value: Any) -> Any:
    """``extra`` as the record keeps it: JSON values only (a number as its decimal text)."""
    if isinstance(value, dict | Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"no record form for {type(value).__name__} in extra")


def _extra(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"extra must be an object, got {value!r}")
    return MappingProxyType(plain_json(value))


def _item_to_json(item: VisitItem) -> Json:
    return {**flat(item, _ITEM), "declared": flat(item.declared, _DECLARED), "extra": plain_json(item.extra)}


def visit_to_json(visit: Visit) -> Json:
    doctor = visit.resp_physician
    return {
        **flat(visit, _VISIT),
        "diagnoses": [
            {"diag_type": d.diag_type, "diag_code": d.diag_code, "maindiag_flag": d.maindiag_flag}
            for d in visit.diagnoses
        ],
        "procedures": [{"oprn_oprt_code": p.oprn_oprt_code, "main": p.main} for p in visit.procedures],
        "resp_physician": None
        if doctor is None
        else {"dr_code": doctor.dr_code, "declared_title": _plain(doctor.declared_title)},
        "items": [_item_to_json(item) for item in visit.items],
        "extra": plain_json(visit.extra),
    }


def _declared(d: Mapping[str, Any]) -> DeclaredTerms:
    d = exact(d, _DECLARED_FIELDS)
    level, flagged = d["chrgitm_lv"], d["hi_nego_drug_flag"]
    return DeclaredTerms(
        chrgitm_lv=None if level is None else ChargeLevel(level),
        selfpay_prop=opt_decimal(d["selfpay_prop"]),
        pric_uplmt_amt=opt_decimal(d["pric_uplmt_amt"]),
        hi_nego_drug_flag=None if flagged is None else flag(flagged),
    )


def _item(d: Mapping[str, Any]) -> VisitItem:
    d = exact(d, ITEM_FIELDS)
    excluded = d["excluded_category"]
    return VisitItem(
        feedetl_sn=text(d["feedetl_sn"]),
        hilist_code=text(d["hilist_code"]),
        medins_list_codg=text(d["medins_list_codg"]),
        hilist_name=text(d["hilist_name"]),
        pric=decimal(d["pric"]),
        cnt=decimal(d["cnt"]),
        det_item_fee_sumamt=fen(d["det_item_fee_sumamt"]),
        init_feedetl_sn=opt_text(d["init_feedetl_sn"]),
        excluded_category=None if excluded is None else ExcludedCategory(excluded),
        declared=_declared(d["declared"]),
        extra=_extra(d["extra"]),
    )


def _prescriber(d: Mapping[str, Any] | None) -> Prescriber | None:
    if d is None:
        return None
    d = exact(d, {"dr_code", "declared_title"})
    title = d["declared_title"]
    return Prescriber(text(d["dr_code"]), None if title is None else PhysicianTitle(title))


def visit_from_json(data: Mapping[str, Any]) -> Visit:
    d = exact(data, VISIT_FIELDS)
    relation = d["acct_payer_relation"]
    return Visit(
        psn_no=text(d["psn_no"]),
        insutype=text(d["insutype"]),
        mdtrt_id=text(d["mdtrt_id"]),
        fixmedins_code=text(d["fixmedins_code"]),
        med_type=text(d["med_type"]),
        begndate=day(d["begndate"]),
        enddate=day(d["enddate"]),
        diagnoses=tuple(
            Diagnosis(text(g["diag_code"]), flag(g["maindiag_flag"]), text(g["diag_type"]))
            for g in (exact(g, {"diag_type", "diag_code", "maindiag_flag"}) for g in d["diagnoses"])
        ),
        procedures=tuple(
            Procedure(text(p["oprn_oprt_code"]), flag(p["main"]))
            for p in (exact(p, {"oprn_oprt_code", "main"}) for p in d["procedures"])
        ),
        dise_codg=opt_text(d["dise_codg"]),
        extn_rx_flag=flag(d["extn_rx_flag"]),
        drg_code=opt_text(d["drg_code"]),
        dip_code=opt_text(d["dip_code"]),
        resp_physician=_prescriber(d["resp_physician"]),
        acct_used_flag=flag(d["acct_used_flag"]),
        acct_payer_psn_no=opt_text(d["acct_payer_psn_no"]),
        acct_payer_relation=None if relation is None else FamilyRelation(relation),
        items=tuple(_item(i) for i in d["items"]),
        gend=opt_text(d["gend"]),
        brdy=opt_day(d["brdy"]),
        mdtrtarea_admvs=opt_text(d["mdtrtarea_admvs"]),
        extra=_extra(d["extra"]),
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
        "out_of_region_filings": [_filing_to_json(f) for f in e.out_of_region_filings],
    }


_FILING = ("filing_type", "mdtrtarea_admvs", "begndate", "enddate")


def _filing_to_json(f: OutOfRegionFiling) -> Json:
    return flat(f, _FILING)


def _filing(data: Mapping[str, Any]) -> OutOfRegionFiling:
    d = exact(data, set(_FILING))
    kinds: dict[str, FilingType] = {"resident": "resident", "referral": "referral", "temporary": "temporary"}
    kind = kinds.get(text(d["filing_type"]))
    if kind is None:
        raise ValueError(f"filing_type {d['filing_type']!r}")
    return OutOfRegionFiling(kind, text(d["mdtrtarea_admvs"]), day(d["begndate"]), opt_day(d["enddate"]))


def enrolment_from_json(data: Mapping[str, Any]) -> EnrolmentFacts:
    d = exact(data, {*_ENROLMENT, "prior_cover", "registered_diseases", "family_members", "out_of_region_filings"})
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
        out_of_region_filings=tuple(_filing(f) for f in d["out_of_region_filings"]),
    )
