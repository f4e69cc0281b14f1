"""Each uploaded fee line priced by the payer's catalogue in force on the day — by the engine,
through the same service layer as a settlement (``SettlementService.price_visit``), so a line
is priced the same way when it is uploaded (the 2204/2301 answer) and when it is settled.

The visit's open lines and the new ones are priced together, exactly as a settlement would
price them now, and each new line's split is read back. A refund line has no split of its own
(the engine nets it into the line it refunds): its row is what the refund changed in that
line's split — the line priced with the refund minus the line priced without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from contracts.codes import ChargeLevel
from engine.items import SplitItem
from engine.visit_events import FeeLine, LinePricing
from engine.visit_stream import VisitState
from settlement.gateway.context import Context
from settlement.gateway.lines import SentLine
from settlement.gateway.transactions.settle import med_type_of, treating_region, visit_for
from settlement.service_layer.handlers import PricedVisit

UNPRICED = LinePricing("03", "", Decimal(0), None, False, False, 0, 0, 0, 0, "", ())  # before the catalogue


def _as_fee_line(line: SentLine) -> FeeLine:
    return line.priced(UNPRICED)


def _day(state: VisitState, lines: Sequence[FeeLine]) -> date:
    """The day the catalogue is read on: the discharge, else the latest line's day."""
    if state.discharged is not None:
        return state.discharged.endtime.date()
    assert state.registered is not None
    days = [line.fee_ocur_time.date() for line in lines] + [state.registered.begntime.date()]
    return max(days)


async def _priced(
    context: Context, state: VisitState, lines: Sequence[FeeLine]
) -> tuple[dict[str, SplitItem], PricedVisit]:
    person = context.deps.directory.by_psn_no(state.registered.psn_no) if state.registered else None
    visit = visit_for(
        state,
        tuple(lines),
        med_type=med_type_of(state, {}),
        enddate=_day(state, lines),
        acct_used=False,
        person=person,
        treating=treating_region(context.envelope),
    )
    e = context.envelope
    priced = await context.deps.service.price_visit(
        visit, key=e.idempotency_key, request_id=e.msgid, setl_id="", at=context.at, record=False
    )
    return {split.feedetl_sn: split for split in priced.settled.facts.items}, priced


def line_pricing(split: SplitItem, priced: PricedVisit, code: str, day: date) -> LinePricing:
    entry = priced.policy.payer.catalogue.entry(code, day)
    reason = split.reason.value if split.reason is not None else ""
    said = tuple(f"{d.field}: sent {d.sent or '-'}, catalogue {d.catalogue or '-'}" for d in split.disagreements)
    return LinePricing(
        chrgitm_lv=(split.chrgitm_lv or ChargeLevel.CLASS_C).value,
        med_chrgitm_type=entry.med_chrgitm_type if entry else "",
        selfpay_prop=split.selfpay_prop or Decimal(0),
        pric_uplmt_amt=split.pric_uplmt_amt,
        hi_nego_drug_flag=bool(split.hi_nego_drug_flag),
        lmt_used_flag=bool(entry and entry.lmt_used_flag),
        fulamt_ownpay_amt=split.fulamt_ownpay_amt,
        overlmt_amt=split.overlmt_selfpay,
        preselfpay_amt=split.preselfpay_amt,
        inscp_scp_amt=split.inscp_scp_amt,
        memo=reason,
        disagreements=said,
    )


def _delta(after: LinePricing, before: LinePricing, original: str) -> LinePricing:
    return replace(
        after,
        fulamt_ownpay_amt=after.fulamt_ownpay_amt - before.fulamt_ownpay_amt,
        overlmt_amt=after.overlmt_amt - before.overlmt_amt,
        preselfpay_amt=after.preselfpay_amt - before.preselfpay_amt,
        inscp_scp_amt=after.inscp_scp_amt - before.inscp_scp_amt,
        memo=f"refund of line {original}",
    )


async def price_lines(context: Context, state: VisitState, lines: Sequence[SentLine]) -> list[LinePricing]:
    known = list(state.open_lines())
    originals = [_as_fee_line(line) for line in lines if line.cnt > 0]
    splits, priced = await _priced(context, state, known + originals)
    day = _day(state, known + originals)
    result: dict[str, LinePricing] = {
        line.feedetl_sn: line_pricing(splits[line.feedetl_sn], priced, line.med_list_codg, day) for line in originals
    }
    so_far = known + originals
    for refund in (line for line in lines if line.cnt < 0):
        original = refund.init_feedetl_sn or ""
        before = line_pricing(splits[original], priced, refund.med_list_codg, day)
        so_far.append(_as_fee_line(refund))
        splits, priced = await _priced(context, state, so_far)
        after = line_pricing(splits[original], priced, refund.med_list_codg, day)
        result[refund.feedetl_sn] = _delta(after, before, original)
    return [result[line.feedetl_sn] for line in lines]
