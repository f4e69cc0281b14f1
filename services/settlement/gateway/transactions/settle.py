"""2206 门诊预结算 / 2207 门诊结算, 2303 住院预结算 / 2304 住院结算 — by reference.

A settlement names the uploaded lines — ``mdtrt_id`` and the batch ``chrg_bchno`` (all open
lines of the stay for 2303/2304) — and carries no line itself; its ``medfee_sumamt`` must be
the sum of those lines. The visit goes through the same service layer as a claims.v2 claim
(``SettlementService.price_visit``: the person's year, the policy and payer data in force, the
engine's stages): a pre-settlement (2206/2303) stops there and records nothing; a settlement
appends the engine's facts to the person-year stream and ``VisitSettled`` — naming the lines —
to the visit's, in one commit with the answer. What 2207 repeats of the 2206 answer
(``fulamt_ownpay_amt`` …, or "") is the platform's own figure, not a claim: it is not read.
"""

from __future__ import annotations

import re
from datetime import date

from contracts.codes import ChargeLevel
from contracts.money import format_yuan
from engine.visit import DeclaredTerms, Diagnosis, Visit, VisitItem
from engine.visit_events import FeeLine, VisitSettled
from engine.visit_stream import VisitState
from settlement.gateway.context import Context, Done
from settlement.gateway.envelope import Envelope
from settlement.gateway.fields import NationalRefusal, Obj, flag, identifier, required_fen, text
from settlement.gateway.people import PersonRecord
from settlement.gateway.setlinfo import Echo, setldetail, setlinfo
from settlement.gateway.visits import open_visit, source_of, visit_append

ADMDVS = re.compile(r"[0-9]{6}")
DEFAULT_OUTPATIENT_MED_TYPE = "11"  # 普通门诊, when neither 2201, 2203 nor the settlement said
_LEVELS = {level.value for level in ChargeLevel}


def visit_item(line: FeeLine) -> VisitItem:
    declared = line.declared
    level = declared.chrgitm_lv if declared.chrgitm_lv in _LEVELS else None
    return VisitItem(
        feedetl_sn=line.feedetl_sn,
        hilist_code=line.med_list_codg,
        medins_list_codg=line.medins_list_codg,
        hilist_name="",
        pric=line.pric,
        cnt=line.cnt,
        det_item_fee_sumamt=line.det_item_fee_sumamt,
        init_feedetl_sn=line.init_feedetl_sn if line.cnt < 0 else None,
        excluded_category=None,
        declared=DeclaredTerms(
            ChargeLevel(level) if level else None,
            declared.selfpay_prop,
            declared.pric_uplmt_amt,
            declared.hi_nego_drug_flag,
        ),
    )


def treating_region(envelope: Envelope) -> str | None:
    """就医地: the envelope's ``mdtrtarea_admvs`` (docs/national-interface.md §3), which the
    engine compares with the insured region (异地就医). Blank: care in the insured region."""
    area = envelope.mdtrtarea_admvs
    if not area:
        return None
    if not ADMDVS.fullmatch(area):
        raise NationalRefusal(f"mdtrtarea_admvs must be a 6-digit region code (医保区划), not {area[:20]!r}")
    return area


def visit_for(
    state: VisitState,
    lines: tuple[FeeLine, ...],
    *,
    med_type: str,
    enddate: date,
    acct_used: bool,
    person: PersonRecord | None,
    treating: str | None,
) -> Visit:
    """The engine's ``Visit`` of the visit's stream and the lines being settled, ``treating``
    the region where the care took place (``treating_region``)."""
    registered = state.registered
    assert registered is not None
    return Visit(
        psn_no=registered.psn_no,
        insutype=registered.insutype,
        mdtrt_id=state.mdtrt_id,
        fixmedins_code=registered.fixmedins_code,
        med_type=med_type,
        begndate=registered.begntime.date(),
        enddate=enddate,
        diagnoses=tuple(Diagnosis(d.diag_code, d.maindiag_flag, d.diag_type) for d in state.diagnoses),
        procedures=(),
        dise_codg=state.dise_codg,
        extn_rx_flag=False,
        drg_code=None,
        dip_code=None,
        resp_physician=None,
        acct_used_flag=acct_used,
        acct_payer_psn_no=None,
        acct_payer_relation=None,
        items=tuple(visit_item(line) for line in lines),
        gend=person.gend if person else None,
        brdy=person.brdy if person else None,
        mdtrtarea_admvs=treating,
    )


def med_type_of(state: VisitState, data: Obj) -> str:
    stated = identifier(data, "med_type", required=False)
    if stated:
        return stated
    if state.med_type:
        return state.med_type
    assert state.registered is not None
    if state.registered.setting == "outpatient":
        return DEFAULT_OUTPATIENT_MED_TYPE
    raise NationalRefusal("med_type is required")


def _settled_lines(state: VisitState, data: Obj) -> tuple[FeeLine, ...]:
    assert state.registered is not None
    batch = text(data, "chrg_bchno", required=False) if state.registered.setting == "outpatient" else ""
    lines = state.open_lines(batch or None)
    if not lines:
        where = f"batch {batch} of visit {state.mdtrt_id}" if batch else f"visit {state.mdtrt_id}"
        raise NationalRefusal(f"{where} has no uploaded lines to settle (2204 / 2301 first)")
    total = sum(line.det_item_fee_sumamt for line in lines)
    stated = required_fen(data, "medfee_sumamt")
    if stated != total:
        raise NationalRefusal(
            f"medfee_sumamt {format_yuan(stated)} is not the sum of the uploaded lines settled ({format_yuan(total)})"
        )
    return lines


def _enddate(state: VisitState, data: Obj) -> date:
    assert state.registered is not None
    if state.registered.setting == "inpatient":
        if flag(data, "mid_setl_flag"):
            raise NationalRefusal("mid-stay settlement (mid_setl_flag 1) is not served: discharge (2402) first")
        if state.discharged is None:
            raise NationalRefusal(f"stay {state.mdtrt_id} has no discharge: send 2402 before settling")
        return state.discharged.endtime.date()
    return state.registered.begntime.date()


async def _settle(context: Context, *, record: bool) -> Done:
    data = context.envelope.data()
    state = await open_visit(context, identifier(data, "mdtrt_id"), identifier(data, "psn_no"))
    if state.open_setl_id is not None:
        raise NationalRefusal(f"visit {state.mdtrt_id} is already settled ({state.open_setl_id}): reverse it first")
    assert state.registered is not None
    lines, med_type = _settled_lines(state, data), med_type_of(state, data)
    person = context.deps.directory.by_psn_no(state.registered.psn_no)
    visit = visit_for(
        state,
        lines,
        med_type=med_type,
        enddate=_enddate(state, data),
        acct_used=flag(data, "acct_used_flag"),
        person=person,
        treating=treating_region(context.envelope),
    )
    e = context.envelope
    setl_id = context.deps.issuer.settlement_id(state.mdtrt_id, state.ids_issued, e.idempotency_key)
    priced = await context.deps.service.price_visit(
        visit, key=e.idempotency_key, request_id=e.msgid, setl_id=setl_id, at=context.at, record=record
    )
    facts = priced.settled.facts
    echo = Echo(
        state.mdtrt_id,
        visit.psn_no,
        visit.insutype,
        med_type,
        text(data, "mdtrt_cert_type", required=False),
        state.registered.setting,
        priced.region,
        person,
    )
    info = setlinfo(echo, facts.amounts, setl_id=setl_id, msgid=e.msgid, at=context.at)
    if not record:
        del info["setl_id"]  # a pre-settlement has none (the 2206 answers the codebases read carry none)
        return Done({"setlinfo": info, "setldetail": setldetail(facts.funds)})
    settled = VisitSettled(
        setl_id,
        visit.psn_no,
        facts.year,
        med_type,
        tuple(line.feedetl_sn for line in lines),
        sum(line.det_item_fee_sumamt for line in lines),
        source_of(context),
    )
    appends = [*priced.appends, visit_append(context, state, [settled], first_index=len(priced.settled.events))]
    return Done({"setlinfo": info, "setldetail": setldetail(facts.funds)}, tuple(appends))


async def pre_settle(context: Context) -> Done:
    return await _settle(context, record=False)


async def settle(context: Context) -> Done:
    return await _settle(context, record=True)
