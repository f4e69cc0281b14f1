"""The committed ledger written by version-1 code (tests/fixtures/ledger-v1/), for the tests that
replay it through today's code: in memory (unit) and in the real PostgreSQL store (integration)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ledger.projections import ClearingFold
from ledger.store import LedgerStore, NewEvent, RecordedEvent, StreamAppend

from engine.person import PersonYear, apply
from engine.policy_book import PolicyBook
from engine.records import from_record
from engine.snapshot import to_json
from engine.views import annual_totals

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ledger-v1"
ROOT_POLICIES = Path(__file__).resolve().parents[1] / "policies"


def fixture_events() -> list[dict[str, Any]]:
    lines = (FIXTURE / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def fixture_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURE / name).read_text(encoding="utf-8"))
    return loaded


def as_recorded(record: Mapping[str, Any]) -> RecordedEvent:
    at = datetime.fromisoformat(record["occurred_at"])
    return RecordedEvent(
        record["stream_id"],
        record["version"],
        record["position"],
        uuid.UUID(record["event_id"]),
        record["event_type"],
        record["data"],
        at,
        at,
        record["prev_hash"],
        record["hash"],
    )


async def load_into(store: LedgerStore, *, with_projections: bool) -> None:
    """Append the fixture's events, in log order, exactly as they were stored (same ids, data and
    times, so the store computes the same hashes). With projections, each append also writes
    the inline projection today's fold makes of the stream so far (as the service would)."""
    states: dict[str, PersonYear] = {}
    for record in fixture_events():
        stream = record["stream_id"]
        projection = None
        if with_projections:
            psn_no, _, year = stream.rpartition("/")
            state = states.get(stream) or PersonYear(psn_no=psn_no, year=int(year))
            states[stream] = apply(state, from_record(record["event_type"], record["data"]))
            projection = to_json(states[stream])
        event = NewEvent(
            uuid.UUID(record["event_id"]),
            record["event_type"],
            record["data"],
            datetime.fromisoformat(record["occurred_at"]),
        )
        await store.commit([StreamAppend(stream, record["version"] - 1, [event], projection)])


def totals_figures(state: PersonYear, book: PolicyBook) -> dict[str, Any]:
    """A person-year as totals.json records it: every Totals figure and the annual-totals view."""
    policy = None
    if state.enrolment is not None:
        e = state.enrolment
        policy = book.in_force(e.insuplc_admdvs, e.insutype, date(state.year, 12, 31)).policy
    return {"totals": state.totals.figures(), "annual_totals": annual_totals(state, policy).model_dump(mode="json")}


def clearing_figures(fold: ClearingFold) -> dict[str, Any]:
    """A clearing fold as clearing.json records it."""
    return {
        "institution": {f"{code} {period}": dict(row) for (code, period), row in fold.institution.items()},
        "fund": {" ".join(key): fen for key, fen in fold.fund.items()},
    }
