"""2101 药店预结算 / 2102 药店结算 (2103 撤销 is settlement.gateway.transactions.reverse).

None of the five codebases builds these (tests/fixtures/national/pharmacy_2101_2103.json), so
they follow the national layout the other settlements use: ``{data: {psn_no, insutype,
mdtrt_cert_type, mdtrt_cert_no, begntime, medfee_sumamt, acct_used_flag, med_type (41)…},
feedetail: [...]}`` — a purchase has no registration and no separate upload, so its lines
come inline and 2102 itself issues the visit id. 2102 records the visit's registration, its
lines (each as the catalogue priced it) and its settlement in the visit's stream, and the
money in the person-year stream, in one commit; 2101 records nothing.
"""

from __future__ import annotations

from engine.visit_events import FeesUploaded, VisitEvent, VisitRegistered, VisitSettled
from engine.visit_stream import VisitState, apply_visit
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, flag, identifier, moment, required_fen, rows, text
from settlement.gateway.lines import MAX_LINES, read_line
from settlement.gateway.pricing import UNPRICED, line_pricing
from settlement.gateway.setlinfo import Echo, setldetail, setlinfo
from settlement.gateway.transactions.register import check_enrolled, new_visit_id
from settlement.gateway.transactions.settle import treating_region, visit_for
from settlement.gateway.visits import china_naive, source_of, visit_append

PHARMACY_MED_TYPE = "41"  # 定点药店购药


async def _purchase(context: Context, *, record: bool) -> Done:
    e, data = context.envelope, context.envelope.data()
    psn_no, insutype = identifier(data, "psn_no"), identifier(data, "insutype")
    begntime = moment(data, "begntime", required=False) or china_naive(context.at)
    await check_enrolled(context, psn_no, insutype, begntime)
    mdtrt_id = await new_visit_id(context, begntime) if record else ""
    med_type = identifier(data, "med_type", required=False) or PHARMACY_MED_TYPE
    registered = VisitRegistered(
        mdtrt_id, psn_no, insutype, e.fixmedins_code, "pharmacy", med_type, begntime, "", (), source_of(context)
    )
    empty = VisitState(mdtrt_id)
    state = apply_visit(empty, registered)
    sent = [read_line(row, mdtrt_id, default_batch=e.msgid) for row in rows(e.input, "feedetail", limit=MAX_LINES)]
    if any(line.cnt < 0 for line in sent):
        raise NationalRefusal("a purchase has no refund lines: reverse it (2103) and buy again")
    total = sum(line.det_item_fee_sumamt for line in sent)
    if required_fen(data, "medfee_sumamt") != total:
        raise NationalRefusal("medfee_sumamt is not the sum of the feedetail lines")
    person = context.deps.directory.by_psn_no(psn_no)
    unpriced = tuple(line.priced(UNPRICED) for line in sent)
    visit = visit_for(
        state,
        unpriced,
        med_type=med_type,
        enddate=begntime.date(),
        acct_used=flag(data, "acct_used_flag"),
        person=person,
        treating=treating_region(context.envelope),
    )
    setl_id = context.deps.issuer.settlement_id(mdtrt_id, 0, e.idempotency_key) if record else ""
    priced = await context.deps.service.price_visit(
        visit, key=e.idempotency_key, request_id=e.msgid, setl_id=setl_id, at=context.at, record=record
    )
    facts = priced.settled.facts
    echo = Echo(
        mdtrt_id,
        psn_no,
        insutype,
        med_type,
        text(data, "mdtrt_cert_type", required=False),
        "pharmacy",
        priced.region,
        person,
    )
    info = setlinfo(echo, facts.amounts, setl_id=setl_id, msgid=e.msgid, at=context.at)
    output = {"setlinfo": info, "setldetail": setldetail(facts.funds)}
    if not record:
        del info["setl_id"]
        return Done(output)
    splits = {split.feedetl_sn: split for split in facts.items}
    lines = tuple(
        line.priced(line_pricing(splits[line.feedetl_sn], priced, line.med_list_codg, begntime.date())) for line in sent
    )
    settled = VisitSettled(
        setl_id, psn_no, facts.year, med_type, tuple(x.feedetl_sn for x in lines), total, source_of(context)
    )
    events: list[VisitEvent] = [registered, FeesUploaded(lines, source_of(context)), settled]
    append = visit_append(context, empty, events, first_index=len(priced.settled.events))
    return Done(output, (*priced.appends, append))


async def pre_settle_purchase(context: Context) -> Done:
    return await _purchase(context, record=False)


async def settle_purchase(context: Context) -> Done:
    return await _purchase(context, record=True)
