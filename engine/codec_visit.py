"""Record form of the visit-stream events (engine.visit_events), field by field.

The same conventions as engine.codec: money int fen, ratios, prices and quantities decimal
text, times ISO text (China time, no zone, as the hospital sent them), strict readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from engine.codec import Json, decimal, exact, fen, flag, integer, opt_decimal, opt_text, text
from engine.visit_events import (
    DeclaredTerms,
    FeeLine,
    FeesUploaded,
    FeesWithdrawn,
    LinePricing,
    Source,
    VisitCancelled,
    VisitDiagnosis,
    VisitDischarged,
    VisitEvent,
    VisitInfoRecorded,
    VisitRegistered,
    VisitSettled,
    VisitSettlementReversed,
)


def moment(value: Any) -> datetime:
    return datetime.fromisoformat(text(value))


def _source_out(s: Source) -> Json:
    return {"infno": s.infno, "msgid": s.msgid}


def _source_in(d: Any) -> Source:
    d = exact(d, {"infno", "msgid"})
    return Source(text(d["infno"]), text(d["msgid"]))


def _diagnoses_out(rows: tuple[VisitDiagnosis, ...]) -> list[Json]:
    return [{"diag_type": r.diag_type, "diag_code": r.diag_code, "maindiag_flag": r.maindiag_flag} for r in rows]


def _diagnoses_in(rows: Any) -> tuple[VisitDiagnosis, ...]:
    out = []
    for row in rows:
        r = exact(row, {"diag_type", "diag_code", "maindiag_flag"})
        out.append(VisitDiagnosis(text(r["diag_type"]), text(r["diag_code"]), flag(r["maindiag_flag"])))
    return tuple(out)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _declared_out(t: DeclaredTerms) -> Json:
    flag_ = t.hi_nego_drug_flag
    return {
        "chrgitm_lv": t.chrgitm_lv,
        "selfpay_prop": _opt_str(t.selfpay_prop),
        "pric_uplmt_amt": _opt_str(t.pric_uplmt_amt),
        "hi_nego_drug_flag": flag_,
    }


def _declared_in(d: Any) -> DeclaredTerms:
    d = exact(d, {"chrgitm_lv", "selfpay_prop", "pric_uplmt_amt", "hi_nego_drug_flag"})
    nego = d["hi_nego_drug_flag"]
    return DeclaredTerms(
        opt_text(d["chrgitm_lv"]),
        opt_decimal(d["selfpay_prop"]),
        opt_decimal(d["pric_uplmt_amt"]),
        None if nego is None else flag(nego),
    )


_PRICING_FEN = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
_PRICING = frozenset(
    {"chrgitm_lv", "med_chrgitm_type", "selfpay_prop", "pric_uplmt_amt", "hi_nego_drug_flag", "lmt_used_flag"}
    | set(_PRICING_FEN)
    | {"memo", "disagreements"}
)


def _pricing_out(p: LinePricing) -> Json:
    return {
        "chrgitm_lv": p.chrgitm_lv,
        "med_chrgitm_type": p.med_chrgitm_type,
        "selfpay_prop": str(p.selfpay_prop),
        "pric_uplmt_amt": _opt_str(p.pric_uplmt_amt),
        "hi_nego_drug_flag": p.hi_nego_drug_flag,
        "lmt_used_flag": p.lmt_used_flag,
        **{name: getattr(p, name) for name in _PRICING_FEN},
        "memo": p.memo,
        "disagreements": list(p.disagreements),
    }


def _pricing_in(d: Any) -> LinePricing:
    d = exact(d, set(_PRICING))
    return LinePricing(
        chrgitm_lv=text(d["chrgitm_lv"]),
        med_chrgitm_type=text(d["med_chrgitm_type"]),
        selfpay_prop=decimal(d["selfpay_prop"]),
        pric_uplmt_amt=opt_decimal(d["pric_uplmt_amt"]),
        hi_nego_drug_flag=flag(d["hi_nego_drug_flag"]),
        lmt_used_flag=flag(d["lmt_used_flag"]),
        fulamt_ownpay_amt=fen(d["fulamt_ownpay_amt"]),
        overlmt_amt=fen(d["overlmt_amt"]),
        preselfpay_amt=fen(d["preselfpay_amt"]),
        inscp_scp_amt=fen(d["inscp_scp_amt"]),
        memo=text(d["memo"]),
        disagreements=tuple(text(s) for s in d["disagreements"]),
    )


_LINE = frozenset(
    {"feedetl_sn", "init_feedetl_sn", "chrg_bchno", "med_list_codg", "medins_list_codg", "fee_ocur_time"}
    | {"pric", "cnt", "det_item_fee_sumamt", "hosp_appr_flag", "declared", "priced"}
)


def line_out(line: FeeLine) -> Json:
    return {
        "feedetl_sn": line.feedetl_sn,
        "init_feedetl_sn": line.init_feedetl_sn,
        "chrg_bchno": line.chrg_bchno,
        "med_list_codg": line.med_list_codg,
        "medins_list_codg": line.medins_list_codg,
        "fee_ocur_time": line.fee_ocur_time.isoformat(),
        "pric": str(line.pric),
        "cnt": str(line.cnt),
        "det_item_fee_sumamt": line.det_item_fee_sumamt,
        "hosp_appr_flag": line.hosp_appr_flag,
        "declared": _declared_out(line.declared),
        "priced": _pricing_out(line.priced),
    }


def line_in(d: Any) -> FeeLine:
    d = exact(d, set(_LINE))
    return FeeLine(
        feedetl_sn=text(d["feedetl_sn"]),
        init_feedetl_sn=opt_text(d["init_feedetl_sn"]),
        chrg_bchno=text(d["chrg_bchno"]),
        med_list_codg=text(d["med_list_codg"]),
        medins_list_codg=text(d["medins_list_codg"]),
        fee_ocur_time=moment(d["fee_ocur_time"]),
        pric=decimal(d["pric"]),
        cnt=decimal(d["cnt"]),
        det_item_fee_sumamt=fen(d["det_item_fee_sumamt"]),
        hosp_appr_flag=text(d["hosp_appr_flag"]),
        declared=_declared_in(d["declared"]),
        priced=_pricing_in(d["priced"]),
    )


def _registered_out(e: VisitRegistered) -> Json:
    return {
        "mdtrt_id": e.mdtrt_id,
        "psn_no": e.psn_no,
        "insutype": e.insutype,
        "fixmedins_code": e.fixmedins_code,
        "setting": e.setting,
        "med_type": e.med_type,
        "begntime": e.begntime.isoformat(),
        "ipt_otp_no": e.ipt_otp_no,
        "diagnoses": _diagnoses_out(e.diagnoses),
        "source": _source_out(e.source),
    }


def _registered_in(d: Mapping[str, Any]) -> VisitRegistered:
    setting = text(d["setting"])
    if setting not in ("outpatient", "inpatient", "pharmacy"):
        raise ValueError(f"setting {setting!r}")
    return VisitRegistered(
        mdtrt_id=text(d["mdtrt_id"]),
        psn_no=text(d["psn_no"]),
        insutype=text(d["insutype"]),
        fixmedins_code=text(d["fixmedins_code"]),
        setting=setting,
        med_type=opt_text(d["med_type"]),
        begntime=moment(d["begntime"]),
        ipt_otp_no=text(d["ipt_otp_no"]),
        diagnoses=_diagnoses_in(d["diagnoses"]),
        source=_source_in(d["source"]),
    )


def _info_out(e: VisitInfoRecorded) -> Json:
    return {
        "med_type": e.med_type,
        "diagnoses": _diagnoses_out(e.diagnoses),
        "dise_codg": e.dise_codg,
        "source": _source_out(e.source),
    }


def _info_in(d: Mapping[str, Any]) -> VisitInfoRecorded:
    return VisitInfoRecorded(
        text(d["med_type"]), _diagnoses_in(d["diagnoses"]), opt_text(d["dise_codg"]), _source_in(d["source"])
    )


def _uploaded_out(e: FeesUploaded) -> Json:
    return {"lines": [line_out(line) for line in e.lines], "source": _source_out(e.source)}


def _uploaded_in(d: Mapping[str, Any]) -> FeesUploaded:
    return FeesUploaded(tuple(line_in(line) for line in d["lines"]), _source_in(d["source"]))


def _withdrawn_out(e: FeesWithdrawn) -> Json:
    return {"feedetl_sns": list(e.feedetl_sns), "source": _source_out(e.source)}


def _withdrawn_in(d: Mapping[str, Any]) -> FeesWithdrawn:
    return FeesWithdrawn(tuple(text(s) for s in d["feedetl_sns"]), _source_in(d["source"]))


def _discharged_out(e: VisitDischarged) -> Json:
    return {
        "endtime": e.endtime.isoformat(),
        "dscg_way": e.dscg_way,
        "diagnoses": _diagnoses_out(e.diagnoses),
        "source": _source_out(e.source),
    }


def _discharged_in(d: Mapping[str, Any]) -> VisitDischarged:
    return VisitDischarged(
        moment(d["endtime"]), text(d["dscg_way"]), _diagnoses_in(d["diagnoses"]), _source_in(d["source"])
    )


def _settled_out(e: VisitSettled) -> Json:
    return {
        "setl_id": e.setl_id,
        "psn_no": e.psn_no,
        "year": e.year,
        "med_type": e.med_type,
        "feedetl_sns": list(e.feedetl_sns),
        "medfee_sumamt": e.medfee_sumamt,
        "source": _source_out(e.source),
    }


def _settled_in(d: Mapping[str, Any]) -> VisitSettled:
    return VisitSettled(
        setl_id=text(d["setl_id"]),
        psn_no=text(d["psn_no"]),
        year=integer(d["year"]),
        med_type=text(d["med_type"]),
        feedetl_sns=tuple(text(s) for s in d["feedetl_sns"]),
        medfee_sumamt=fen(d["medfee_sumamt"]),
        source=_source_in(d["source"]),
    )


def _reversed_out(e: VisitSettlementReversed) -> Json:
    return {"setl_id": e.setl_id, "reversed_setl_id": e.reversed_setl_id, "source": _source_out(e.source)}


def _reversed_in(d: Mapping[str, Any]) -> VisitSettlementReversed:
    return VisitSettlementReversed(text(d["setl_id"]), text(d["reversed_setl_id"]), _source_in(d["source"]))


def _cancelled_out(e: VisitCancelled) -> Json:
    return {"source": _source_out(e.source)}


def _cancelled_in(d: Mapping[str, Any]) -> VisitCancelled:
    return VisitCancelled(_source_in(d["source"]))


Writer = Callable[[Any], Json]
Reader = Callable[[Mapping[str, Any]], VisitEvent]
# type → (event_type, fields, writer, reader); every type is at version 1 (ADR 0004: a new type
# starts at 1 with an explicit schema_version).
VISIT_CODECS: Mapping[type[Any], tuple[str, frozenset[str], Writer, Reader]] = {
    VisitRegistered: (
        "VisitRegistered",
        frozenset(
            {"mdtrt_id", "psn_no", "insutype", "fixmedins_code", "setting", "med_type", "begntime", "ipt_otp_no"}
            | {"diagnoses", "source"}
        ),
        _registered_out,
        _registered_in,
    ),
    VisitInfoRecorded: (
        "VisitInfoRecorded",
        frozenset({"med_type", "diagnoses", "dise_codg", "source"}),
        _info_out,
        _info_in,
    ),
    FeesUploaded: ("FeesUploaded", frozenset({"lines", "source"}), _uploaded_out, _uploaded_in),
    FeesWithdrawn: ("FeesWithdrawn", frozenset({"feedetl_sns", "source"}), _withdrawn_out, _withdrawn_in),
    VisitDischarged: (
        "VisitDischarged",
        frozenset({"endtime", "dscg_way", "diagnoses", "source"}),
        _discharged_out,
        _discharged_in,
    ),
    VisitSettled: (
        "VisitSettled",
        frozenset({"setl_id", "psn_no", "year", "med_type", "feedetl_sns", "medfee_sumamt", "source"}),
        _settled_out,
        _settled_in,
    ),
    VisitSettlementReversed: (
        "VisitSettlementReversed",
        frozenset({"setl_id", "reversed_setl_id", "source"}),
        _reversed_out,
        _reversed_in,
    ),
    VisitCancelled: ("VisitCancelled", frozenset({"source"}), _cancelled_out, _cancelled_in),
}
