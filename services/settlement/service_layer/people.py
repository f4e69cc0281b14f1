"""Reading people's years from the ledger and turning engine events into ledger appends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ledger.store import LedgerStore, NewEvent, RecordedEvent, StreamAppend

from contracts.results import SettlementResult
from engine.errors import InvariantBroken, UnknownPolicy
from engine.events import ClaimSettled, Event
from engine.ids import event_id
from engine.incentives import LOOK_BACK_YEARS, PriorYear, cap_without_rewards, prior_year
from engine.person import OpenSettlement, PersonYear, SettlementNote, apply, opened, stream_id
from engine.policy_book import PolicyBook
from engine.records import from_record, to_record
from engine.snapshot import from_json, to_json
from settlement.service_layer.render import settlement_answer


@dataclass(frozen=True)
class Loaded:
    state: PersonYear
    version: int


async def load(store: LedgerStore, psn_no: str, year: int) -> Loaded:
    version, snapshot = await store.read_projection(stream_id(psn_no, year))
    if snapshot is None:
        return Loaded(PersonYear(psn_no=psn_no, year=year), version)
    return Loaded(from_json(dict(snapshot)), version)


def appends_for(
    request_key: str, events: Sequence[tuple[str, Event]], loaded: dict[str, Loaded], at: datetime
) -> list[StreamAppend]:
    """Group the engine's events by stream, each expecting the version it was read at, with the
    folded new state as that stream's projection (written in the same transaction)."""
    by_stream: dict[str, list[Event]] = {}
    for stream, event in events:
        by_stream.setdefault(stream, []).append(event)
    appends, index = [], 0
    for stream, stream_events in by_stream.items():
        base = loaded[stream]
        state = base.state
        records = []
        for event in stream_events:
            state = apply(state, event)
            event_type, data = to_record(event)
            records.append(NewEvent(event_id(request_key, index), event_type, data, at))
            index += 1
        appends.append(StreamAppend(stream, base.version, records, projection=to_json(state)))
    return appends


async def settled_record(
    store: LedgerStore, psn_no: str, year: int, setl_id: str
) -> tuple[RecordedEvent, ClaimSettled] | None:
    """A settlement of this person-year as recorded: its event, and the facts it holds."""
    for recorded in await store.read_stream(stream_id(psn_no, year)):
        if recorded.event_type == "ClaimSettled" and recorded.data.get("setl_id") == setl_id:
            facts = from_record(recorded.event_type, recorded.data)
            if isinstance(facts, ClaimSettled):
                return recorded, facts
    return None


def with_facts(loaded: Loaded, facts: ClaimSettled) -> Loaded:
    """``loaded`` holding the amounts of the settlement ``facts`` records (read from its event)
    where its projection keeps only a note of it (engine.person.SettlementNote): what a reversal
    needs. A settlement it does not hold, or one already reversed, is left as it is (the engine
    refuses reversing either with the message's own rejection)."""
    note = loaded.state.settlements.get(facts.setl_id)
    if not isinstance(note, SettlementNote) or note.reversed_by is not None:
        return loaded
    return Loaded(opened(loaded.state, OpenSettlement.of(facts)), loaded.version)


async def with_amounts(store: LedgerStore, loaded: Loaded, setl_id: str) -> Loaded:
    """``with_facts`` of settlement ``setl_id``, its event read only when the projection holds a
    note of it in force."""
    note = loaded.state.settlements.get(setl_id)
    if not isinstance(note, SettlementNote) or note.reversed_by is not None:
        return loaded
    found = await settled_record(store, loaded.state.psn_no, loaded.state.year, setl_id)
    if found is None:  # the projection names a settlement its stream does not hold: a broken ledger
        raise InvariantBroken(f"{loaded.state.stream_id}: its projection names a settlement it does not hold")
    return with_facts(loaded, found[1])


async def recorded_settlement(store: LedgerStore, psn_no: str, year: int, setl_id: str) -> SettlementResult | None:
    """The settlements.v1 answer of a recorded settlement, rendered again from its event."""
    found = await settled_record(store, psn_no, year, setl_id)
    if found is None:
        return None
    recorded, facts = found
    return settlement_answer(facts, event_id=recorded.event_id, occurred_at=recorded.occurred_at, setl_mode="settle")


def _cap_without_rewards(policies: PolicyBook, state: PersonYear) -> int | None:
    """That year's major-illness cap before rewards, from the policy that priced its settlements —
    of several (a mid-year amendment), the last by id and version, i.e. the amendment — or the one
    in force at its end; None when no loaded policy says it."""
    enrolment = state.enrolment
    if enrolment is None or state.totals.mi_paid == 0:
        return None
    for stamp in reversed(state.policies):
        priced = policies.by_id(stamp.policy_id, stamp.version)
        if priced is not None:
            return cap_without_rewards(priced.policy.major_illness, enrolment)
    try:
        priced = policies.in_force(enrolment.insuplc_admdvs, enrolment.insutype, date(state.year, 12, 31))
    except UnknownPolicy:
        return None
    return cap_without_rewards(priced.policy.major_illness, enrolment)


async def prior_years(store: LedgerStore, policies: PolicyBook, psn_no: str, year: int) -> list[PriorYear]:
    """The person's earlier years the ledger holds, within the look-back the incentives need."""
    earliest = year - LOOK_BACK_YEARS
    prior = []
    for stream in await store.list_streams(f"{psn_no}/"):
        owner, _, held = stream.rpartition("/")
        if owner != psn_no or not held.isdigit() or not earliest <= int(held) < year:
            continue
        state = (await load(store, psn_no, int(held))).state
        prior.append(prior_year(state, _cap_without_rewards(policies, state)))
    return prior
