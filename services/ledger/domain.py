"""Where the ledger meets the insurance domain: a person-year stream folded by the engine.

The store stays domain-free; audits hand it these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.clearing.events import fold_institution, fold_region, parse_clearing_stream
from engine.clearing.records import from_record as clearing_record
from engine.contributions import ContributionRecorded
from engine.events import Event
from engine.person import PersonYear, replay
from engine.records import fold_view, from_record, visit_event_from_record
from engine.snapshot import from_json, to_json, upcast
from engine.visit_events import VISIT_STREAM_PREFIX
from engine.visit_stream import replay_visit
from ledger.store import LedgerStore, RecordedEvent

CONTRIBUTION_PREFIX = "contrib/"


def parse_stream_id(stream_id: str) -> tuple[str, int]:
    psn_no, _, year = stream_id.rpartition("/")
    if not psn_no or not (year.isascii() and year.isdigit()):
        raise ValueError(f"{stream_id!r} is not a person-year stream id (<psn_no>/<year>)")
    return psn_no, int(year)


Record = tuple[str, Any]  # (event_type, data): all of an event the fold reads


def domain_events(events: Sequence[RecordedEvent]) -> list[Event]:
    """The stream's events as the engine's facts, each upcast to its current schema version;
    raises engine.errors.UnreadableEvent for one this code cannot read."""
    return [from_record(e.event_type, e.data) for e in events]


def fold(stream_id: str, events: Sequence[RecordedEvent]) -> PersonYear:
    psn_no, year = parse_stream_id(stream_id)
    return replay(psn_no, year, domain_events(events))


def is_visit_stream(stream_id: str) -> bool:
    """A visit's stream (``visit/<mdtrt_id>``, the national gateway's steps), not a person-year."""
    return stream_id.startswith(VISIT_STREAM_PREFIX)


def rebuild(stream_id: str, events: Sequence[RecordedEvent]) -> Mapping[str, Any] | None:
    """The inline projection a stream's events must have produced (for verify_projections)."""
    return rebuild_records(stream_id, [(e.event_type, e.data) for e in events])


def rebuild_records(stream_id: str, records: Sequence[Record]) -> Mapping[str, Any] | None:
    """``rebuild`` from the events' types and data alone (what ledger verify decodes, nothing
    more: ids and times are the hash chain's business, not the fold's).
    A visit stream keeps none: its events are still folded, so one that breaks the visit's
    rules (or cannot be read) is found. An institution or region stream of the clearing has
    none either: its events are folded (so an unreadable one is found). A contribution stream
    (contrib/<psn_no>/<year>) has none; its events are still read, so one this code cannot read
    is reported."""
    if parse_clearing_stream(stream_id) is not None:
        _fold_clearing(stream_id, records)
        return None
    if stream_id.startswith(CONTRIBUTION_PREFIX):
        facts = [from_record(kind, data) for kind, data in records]
        if not all(isinstance(e, ContributionRecorded) for e in facts):
            raise ValueError(f"{stream_id}: a contribution stream holds only ContributionRecorded events")
        return None
    if is_visit_stream(stream_id):
        replay_visit(
            stream_id.removeprefix(VISIT_STREAM_PREFIX), [visit_event_from_record(kind, data) for kind, data in records]
        )
        return None
    return to_json(fold_records(stream_id, records)) if records else None


def fold_records(stream_id: str, records: Sequence[Record]) -> PersonYear:
    """The person-year fold over what it reads of each event (engine.records.fold_view): the same
    ``replay`` as ``fold``, without building the priced detail of each settlement that the totals
    never read. An event the fold cannot read raises UnreadableEvent, as with ``fold``."""
    psn_no, year = parse_stream_id(stream_id)
    return replay(psn_no, year, [fold_view(kind, data) for kind, data in records])


def _fold_clearing(stream_id: str, records: Sequence[Record]) -> object:
    parsed = parse_clearing_stream(stream_id)
    assert parsed is not None
    facts = [clearing_record(kind, data) for kind, data in records]
    return fold_institution(facts) if parsed[0] == "inst" else fold_region(facts)


def is_person_stream(stream_id: str) -> bool:
    return parse_clearing_stream(stream_id) is None


def current_projection(stored: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A stored inline projection in today's shape: one written by older code (an earlier
    snapshot schema_version) is upcast, so comparing it with ``rebuild`` compares facts."""
    return None if stored is None else upcast(stored)


async def replay_person_year(
    store: LedgerStore, psn_no: str, year: int, *, as_of: datetime | None = None
) -> tuple[PersonYear, PersonYear | None]:
    """(the year rebuilt from its events [as of a time], the stored projection's state)."""
    stream_id = f"{psn_no}/{year}"
    rebuilt = fold(stream_id, await store.read_stream(stream_id, as_of=as_of))
    _, stored = await store.read_projection(stream_id)
    return rebuilt, (from_json(dict(stored)) if stored is not None else None)
