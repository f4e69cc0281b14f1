"""2204 门诊费用明细信息上传 / 2205 撤销, 2301 住院费用明细上传 / 2302 撤销.

Upload: each line is priced by the payer's catalogue in force on the day (class, 先行自付 ratio,
cap, restrictions) and answered per line in ``output.result[]`` — an array, one row per line
sent, echoing ``feedetl_sn`` as the same text (hsa-his joins on it); what the hospital
declared differently is a disagreement, in the answer's ``memo`` and in the recorded line.
Withdrawal: named lines, or all open lines with "0000" (hsa-his) — never a settled line.
"""

from __future__ import annotations

from typing import Any

from engine.visit_events import FeesUploaded, FeesWithdrawn
from engine.visit_stream import VisitState
from settlement.gateway.answers import quantity, ratio, yuan
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, Obj, identifier, rows, text
from settlement.gateway.lines import MAX_LINES, SentLine, check_refunds, read_line
from settlement.gateway.pricing import price_lines
from settlement.gateway.visits import open_visit, source_of, visit_append

ALL = "0000"  # hsa-his's "every line" in 2205/2302


def result_row(line: Any) -> dict[str, Any]:
    """One ``output.result[]`` row: amounts and ratios as JSON numbers, codes as strings."""
    p = line.priced
    return {
        "feedetl_sn": line.feedetl_sn,
        "det_item_fee_sumamt": yuan(line.det_item_fee_sumamt),
        "cnt": quantity(line.cnt, 4),
        "pric": quantity(line.pric, 4),
        "pric_uplmt_amt": quantity(p.pric_uplmt_amt, 4) if p.pric_uplmt_amt is not None else quantity(line.pric, 4),
        "selfpay_prop": ratio(p.selfpay_prop),
        "fulamt_ownpay_amt": yuan(p.fulamt_ownpay_amt),
        "overlmt_amt": yuan(p.overlmt_amt),
        "preselfpay_amt": yuan(p.preselfpay_amt),
        "inscp_scp_amt": yuan(p.inscp_scp_amt),
        "chrgitm_lv": p.chrgitm_lv,
        "med_chrgitm_type": p.med_chrgitm_type,
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "1" if p.hi_nego_drug_flag else "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "0",
        "lmt_used_flag": "1" if p.lmt_used_flag else "0",
        "drt_reim_flag": "0",
        "memo": "; ".join((p.memo, *p.disagreements)).strip("; "),
    }


async def _upload(context: Context, state: VisitState, sent: list[SentLine]) -> Done:
    if state.open_setl_id is not None:
        raise NationalRefusal(
            f"visit {state.mdtrt_id} is settled ({state.open_setl_id}): reverse it before adding lines"
        )
    check_refunds(state, sent)
    priced = await price_lines(context, state, sent)
    lines = tuple(line.priced(p) for line, p in zip(sent, priced, strict=True))
    event = FeesUploaded(lines, source_of(context))
    return Done({"result": [result_row(line) for line in lines]}, (visit_append(context, state, [event]),))


def _mdtrt_id_of(feedetail: list[Obj], header: Obj) -> str:
    named = {text(row, "mdtrt_id", required=False) for row in feedetail} - {""}
    if header:
        named |= {identifier(header, "serial_no", required=False)} - {""}  # hsa-his: serial_no is mdtrt_id
    if len(named) != 1:
        raise NationalRefusal("every line of one upload must name the same mdtrt_id")
    return named.pop()


async def upload_outpatient_fees(context: Context) -> Done:
    """2204: ``{feedetail: [...]}``; each line names its visit and its batch (chrg_bchno)."""
    feedetail = rows(context.envelope.input, "feedetail", limit=MAX_LINES)
    mdtrt_id = _mdtrt_id_of(feedetail, {})
    state = await open_visit(context, mdtrt_id, text(feedetail[0], "psn_no", required=False) or None)
    return await _upload(context, state, [read_line(row, mdtrt_id, default_batch="") for row in feedetail])


async def upload_inpatient_fees(context: Context) -> Done:
    """2301: ``{data: {serial_no (= mdtrt_id), psn_no, …}, feedetail: [...]}``."""
    header = context.envelope.input.get("data")
    header = header if isinstance(header, dict) else {}
    feedetail = rows(context.envelope.input, "feedetail", limit=MAX_LINES)
    mdtrt_id = _mdtrt_id_of(feedetail, header)
    state = await open_visit(context, mdtrt_id, text(header, "psn_no", required=False) or None)
    if state.registered is None or state.registered.setting != "inpatient":
        raise NationalRefusal(f"visit {mdtrt_id} is not an inpatient stay: send its lines with 2204")
    return await _upload(context, state, [read_line(row, mdtrt_id, default_batch="") for row in feedetail])


def _withdrawn(state: VisitState, batch: str, serial: str) -> tuple[str, ...]:
    if serial and serial != ALL:
        if serial in state.settled_lines:
            raise NationalRefusal(f"line {serial} is settled ({state.settled_lines[serial]}): reverse it first")
        if serial not in state.lines:
            raise NationalRefusal(f"visit {state.mdtrt_id} has no open line {serial}")
        return (serial,)
    chosen = [line.feedetl_sn for line in state.open_lines(None if batch in ("", ALL) else batch)]
    if not chosen:
        raise NationalRefusal(f"visit {state.mdtrt_id} has no open lines to withdraw")
    return tuple(chosen)


async def withdraw_fees(context: Context) -> Done:
    """2205 / 2302: ``{data: {mdtrt_id, psn_no, chrg_bchno?, feedetl_sn?}}``; "0000" = all."""
    data = context.envelope.data()
    state = await open_visit(context, identifier(data, "mdtrt_id"), identifier(data, "psn_no", required=False))
    serials = _withdrawn(state, text(data, "chrg_bchno", required=False), text(data, "feedetl_sn", required=False))
    event = FeesWithdrawn(serials, source_of(context))
    return Done({}, (visit_append(context, state, [event]),))
