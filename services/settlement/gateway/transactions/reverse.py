"""2208 门诊结算撤销 / 2305 住院结算撤销 / 2103 药店结算撤销: a settlement is never edited;
its reversal is appended — in the person-year stream (the engine's ``SettlementReversed``,
through the same reversal as claims.v1) and in the visit's stream, in one commit. The
reversal gets its own ``setl_id``; its answer carries ``setlinfo`` (negated amounts, the
account balance after) and ``setldetail``, each fund's payment negated. The lines it settled
are open again: a hospital may withdraw them (2205) or settle again (hsa-his's partial refund).
"""

from __future__ import annotations

from dataclasses import replace

from engine.person import OpenSettlement
from engine.reverse import ReversalRequest, reverse_settlement
from engine.visit_events import VisitSettlementReversed
from engine.visit_stream import SettlementRef, VisitState
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, identifier
from settlement.gateway.setlinfo import Echo, setldetail, setlinfo
from settlement.gateway.visits import open_visit, source_of, visit_append
from settlement.service_layer.people import Loaded, appends_for, load, settled_record, with_facts


def _in_force(state: VisitState, setl_id: str) -> SettlementRef:
    ref = state.settlements.get(setl_id)
    if ref is None:
        raise NationalRefusal(f"visit {state.mdtrt_id} has no settlement {setl_id}")
    if ref.reversed_by is not None:
        raise NationalRefusal(f"settlement {setl_id} was already reversed by {ref.reversed_by}")
    return ref


async def reverse_visit(context: Context, state: VisitState, setl_id: str) -> Done:
    """The settlement ``setl_id`` of the visit reversed (also what 2601 does to a 2207)."""
    ref = _in_force(state, setl_id)
    store, e = context.deps.store, context.envelope
    found = await settled_record(store, ref.psn_no, ref.year, setl_id)  # once: its amounts and the echo's facts
    if found is None:  # a bug: the visit stream names a settlement the person-year does not hold
        raise LookupError(f"the visit stream names {setl_id}, which {ref.psn_no}/{ref.year} does not hold")
    facts = found[1]
    person = with_facts(await load(store, ref.psn_no, ref.year), facts)
    loaded: dict[str, Loaded] = {person.state.stream_id: person}
    original = person.state.settlements.get(setl_id)
    payer = None
    if isinstance(original, OpenSettlement) and original.payer_psn_no is not None:
        relative = await load(store, original.payer_psn_no, ref.year)
        loaded[relative.state.stream_id] = relative
        payer = relative.state
    own_id = context.deps.issuer.settlement_id(state.mdtrt_id, state.ids_issued, e.idempotency_key)
    request = ReversalRequest(e.idempotency_key, e.msgid, ref.psn_no, e.fixmedins_code, setl_id)
    done = reverse_settlement(request, person.state, payer, setl_id=own_id)
    appends = appends_for(e.idempotency_key, done.events, loaded, context.at)
    visit_event = VisitSettlementReversed(own_id, setl_id, source_of(context))
    appends.append(visit_append(context, state, [visit_event], first_index=len(done.events)))
    enrolment = person.state.enrolment
    assert state.registered is not None and enrolment is not None  # a settled visit had both
    echo = Echo(
        state.mdtrt_id,
        ref.psn_no,
        str(facts.visit.insutype),
        state.med_type or "",
        "",
        state.registered.setting,
        enrolment.insuplc_admdvs,
        context.deps.directory.by_psn_no(ref.psn_no),
    )
    negated = tuple(replace(row, inscp_scp_amt=-row.inscp_scp_amt, fund_payamt=-row.fund_payamt) for row in facts.funds)
    info = setlinfo(echo, done.facts.amounts, setl_id=own_id, msgid=e.msgid, at=context.at)
    return Done({"setlinfo": info, "setldetail": setldetail(negated)}, tuple(appends))


async def reverse_settlement_message(context: Context) -> Done:
    """2208 ``{data: {setl_id, mdtrt_id, psn_no}}``; hsa-his's 2305 sends the three flat; a
    2103 may name only the settlement, whose id begins with its visit's (settlement.gateway.ids)."""
    data = context.envelope.data()
    setl_id = identifier(data, "setl_id")
    mdtrt_id = identifier(data, "mdtrt_id", required=context.envelope.infno != "2103") or setl_id[:-2]
    state = await open_visit(context, mdtrt_id, identifier(data, "psn_no"))
    return await reverse_visit(context, state, setl_id)
