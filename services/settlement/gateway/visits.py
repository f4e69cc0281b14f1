"""Reading a visit's stream and appending to it, with the checks every step shares: the visit
exists, belongs to the institution asking, is the person's, and is not cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.store import LedgerStore, NewEvent, StreamAppend

from engine.ids import event_id
from engine.records import to_record, visit_event_from_record
from engine.visit_events import Source, VisitDiagnosis, VisitEvent, visit_stream_id
from engine.visit_stream import VisitState, apply_visit, replay_visit
from settlement.gateway.answers import CHINA
from settlement.gateway.context import Context
from settlement.gateway.fields import NationalRefusal, Obj, flag, identifier, text


async def load_visit(store: LedgerStore, mdtrt_id: str) -> VisitState:
    events = await store.read_stream(visit_stream_id(mdtrt_id))
    return replay_visit(mdtrt_id, [visit_event_from_record(e.event_type, e.data) for e in events])


async def open_visit(context: Context, mdtrt_id: str, psn_no: str | None = None) -> VisitState:
    """The visit ``mdtrt_id`` of the sending institution (and of ``psn_no`` when the message
    names one), registered and not cancelled; refused otherwise."""
    state = await load_visit(context.deps.store, mdtrt_id)
    registered = state.registered
    if registered is None or registered.fixmedins_code != context.envelope.fixmedins_code:
        raise NationalRefusal(f"no visit {mdtrt_id} is registered by institution {context.envelope.fixmedins_code}")
    if psn_no and registered.psn_no != psn_no:
        raise NationalRefusal(f"visit {mdtrt_id} is not the visit of person {psn_no}")
    if state.cancelled:
        raise NationalRefusal(f"visit {mdtrt_id} was cancelled: its registration was withdrawn")
    return state


def source_of(context: Context) -> Source:
    return Source(context.envelope.infno, context.envelope.msgid)


def visit_append(
    context: Context, state: VisitState, events: Sequence[VisitEvent], first_index: int = 0
) -> StreamAppend:
    """The events as an append expecting the version read; folded first, so a step that would
    break the visit's rules is a bug caught before anything is written."""
    folded = state
    records = []
    for index, event in enumerate(events):
        folded = apply_visit(folded, event)
        event_type, data = to_record(event)
        key = context.envelope.idempotency_key
        records.append(NewEvent(event_id(key, first_index + index), event_type, data, context.at))
    return StreamAppend(visit_stream_id(state.mdtrt_id), state.version, records)


def diagnoses(rows: Sequence[Obj]) -> tuple[VisitDiagnosis, ...]:
    """diseinfo rows; the main one is flagged (maindiag_flag "1"), or else the first sent
    (binzhe's 2203 flags none)."""
    codes = [identifier(row, "diag_code") for row in rows]
    flagged = [flag(row, "maindiag_flag") for row in rows]
    if not any(flagged) and codes:
        flagged[0] = True
    return tuple(
        VisitDiagnosis(text(row, "diag_type", required=False, default="1"), code, main)
        for row, code, main in zip(rows, codes, flagged, strict=True)
    )


def china_naive(at: datetime) -> datetime:
    """A received time as the national wire writes times: China time, no zone."""
    return at.astimezone(CHINA).replace(tzinfo=None)
