"""2201 门诊挂号 / 2202 挂号撤销, 2401 入院办理 / 2402 出院办理, 2203 门诊就诊信息上传.

The platform issues the visit id (``mdtrt_id``) at registration; every later step names it.
Registration checks that the person is enrolled, for the year of the visit, under the
insurance type the hospital names (the enrolment system's facts, never the hospital's word).
"""

from __future__ import annotations

from datetime import datetime

from ledger.store import StreamAppend

from engine.visit_events import VisitCancelled, VisitDiagnosis, VisitDischarged, VisitInfoRecorded, VisitRegistered
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, Obj, block, identifier, moment, rows, text
from settlement.gateway.visits import diagnoses, load_visit, open_visit, source_of, visit_append
from settlement.service_layer.people import load

MAX_DIAGNOSES = 50
MAX_ID_ATTEMPTS = 8  # a taken visit id moves to the next candidate; eight in a row is a bug


async def check_enrolled(context: Context, psn_no: str, insutype: str, on: datetime) -> None:
    state = (await load(context.deps.store, psn_no, on.year)).state
    if state.enrolment is None:
        raise NationalRefusal(f"person {psn_no} has no enrolment for {on.year}: the enrolment system must send it")
    if state.enrolment.insutype.value != insutype:
        raise NationalRefusal(
            f"person {psn_no} is insured under {state.enrolment.insutype.value} in {on.year}, not {insutype}"
        )


async def new_visit_id(context: Context, begntime: datetime) -> str:
    e = context.envelope
    for attempt in range(MAX_ID_ATTEMPTS):
        candidate = context.deps.issuer.visit_id(e.mdtrtarea_admvs, begntime.date(), e.idempotency_key, attempt)
        if (await load_visit(context.deps.store, candidate)).version == 0:
            return candidate
    raise RuntimeError(f"{MAX_ID_ATTEMPTS} visit ids in a row were taken")  # a bug, not an answer


async def _register(
    context: Context, fields: Obj, setting: str, med_type: str | None, found: tuple[VisitDiagnosis, ...]
) -> tuple[VisitRegistered, StreamAppend]:
    psn_no, insutype = identifier(fields, "psn_no"), identifier(fields, "insutype")
    begntime = moment(fields, "begntime")
    assert begntime is not None
    await check_enrolled(context, psn_no, insutype, begntime)
    mdtrt_id = await new_visit_id(context, begntime)
    ipt_otp_no = text(fields, "ipt_otp_no", required=False) or text(fields, "ipt_no", required=False)
    event = VisitRegistered(
        mdtrt_id=mdtrt_id,
        psn_no=psn_no,
        insutype=insutype,
        fixmedins_code=context.envelope.fixmedins_code,
        setting=setting,
        med_type=med_type,
        begntime=begntime,
        ipt_otp_no=ipt_otp_no,
        diagnoses=found,
        source=source_of(context),
    )
    state = await load_visit(context.deps.store, mdtrt_id)
    return event, visit_append(context, state, [event])


async def register_outpatient(context: Context) -> Done:
    """2201: ``{data: {psn_no, insutype, begntime, ipt_otp_no, …}}`` → ``output.data.mdtrt_id``."""
    data = context.envelope.data()
    med_type = identifier(data, "med_type", required=False) or None
    event, append = await _register(context, data, "outpatient", med_type, ())
    output = {"data": {"mdtrt_id": event.mdtrt_id, "psn_no": event.psn_no, "ipt_otp_no": event.ipt_otp_no}}
    return Done(output, (append,))


async def admit(context: Context) -> Done:
    """2401: ``{mdtrtinfo: {...}, diseinfo: [...]}`` → ``output.result.mdtrt_id`` (not ``data``)."""
    info = block(context.envelope.input, "mdtrtinfo")
    found = diagnoses(rows(context.envelope.input, "diseinfo", limit=MAX_DIAGNOSES, required=False))
    event, append = await _register(context, info, "inpatient", identifier(info, "med_type"), found)
    output = {"result": {"mdtrt_id": event.mdtrt_id, "psn_no": event.psn_no, "ipt_otp_no": event.ipt_otp_no}}
    return Done(output, (append,))


async def cancel_registration(context: Context) -> Done:
    """2202: ``{data: {psn_no, mdtrt_id, ipt_otp_no}}``; refused while a settlement is in force."""
    data = context.envelope.data()
    state = await open_visit(context, identifier(data, "mdtrt_id"), identifier(data, "psn_no"))
    if state.open_setl_id is not None:
        raise NationalRefusal(f"visit {state.mdtrt_id} is settled ({state.open_setl_id}): reverse it first")
    return Done({}, (visit_append(context, state, [VisitCancelled(source_of(context))]),))


async def record_visit_info(context: Context) -> Done:
    """2203: ``{mdtrtinfo: {mdtrt_id, psn_no, med_type, begntime, dise_codg…}, diseinfo: [...]}``."""
    info = block(context.envelope.input, "mdtrtinfo")
    state = await open_visit(context, identifier(info, "mdtrt_id"), identifier(info, "psn_no"))
    if state.open_setl_id is not None:
        raise NationalRefusal(f"visit {state.mdtrt_id} is already settled ({state.open_setl_id})")
    found = diagnoses(rows(context.envelope.input, "diseinfo", limit=MAX_DIAGNOSES, required=False))
    disease = identifier(info, "dise_codg", required=False) or None
    event = VisitInfoRecorded(identifier(info, "med_type"), found, disease, source_of(context))
    return Done({}, (visit_append(context, state, [event]),))


async def discharge(context: Context) -> Done:
    """2402: the discharge block under ``mdtrtinfo`` (hsa-his's code) or ``dscginfo`` (its
    comment's name), and ``diseinfo``."""
    given = context.envelope.input
    info = block(given, "dscginfo") if isinstance(given.get("dscginfo"), dict) else block(given, "mdtrtinfo")
    state = await open_visit(context, identifier(info, "mdtrt_id"), identifier(info, "psn_no"))
    if state.registered is None or state.registered.setting != "inpatient":
        raise NationalRefusal(f"visit {state.mdtrt_id} is not an inpatient stay (2401)")
    endtime = moment(info, "endtime")
    assert endtime is not None
    if endtime < state.registered.begntime:
        raise NationalRefusal("endtime is before the admission's begntime")
    found = diagnoses(rows(given, "diseinfo", limit=MAX_DIAGNOSES, required=False))
    event = VisitDischarged(endtime, text(info, "dscg_way", required=False), found, source_of(context))
    return Done({}, (visit_append(context, state, [event]),))
