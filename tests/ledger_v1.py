"""The committed ledger written by version-1 code (tests/fixtures/ledger-v1/), for the tests that
replay it through today's code: in memory (unit) and in the real PostgreSQL store (integration)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from ledger.adapters.memory import MemoryLedger
from ledger.period_totals import ClearingFold
from ledger.store import RecordedEvent

from engine.person import PersonYear
from engine.policy_book import PolicyBook
from engine.views import annual_totals

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ledger-v1"
# The policy files the fixture was written with (policies/ at a56b08c): today's shipped files
# change their numbers (issue 12), which must not change what the old ledger replays to.
FIXTURE_POLICIES = FIXTURE / "policies"


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


def _last_versions() -> dict[str, int]:
    last: dict[str, int] = {}
    for record in fixture_events():
        last[record["stream_id"]] = record["version"]
    return last


async def restore_into_memory(store: MemoryLedger) -> None:
    """The fixture's rows as a ledger written before migration 0006 holds them (hash algorithm
    1, same ids, data, times and hashes), each stream with the inline projection version-1
    code stored for it: the state an upgrade finds."""
    last, projections = _last_versions(), fixture_json("projections.json")
    for record in fixture_events():
        stream = record["stream_id"]
        projection = projections.get(stream) if record["version"] == last[stream] else None
        await store.restore_v1_event(replace(as_recorded(record), hash_alg=1), projection)


RESTORE_EVENT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
VALUES ((pg_current_xact_id()::text::bigint << 16) + $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, 1)
"""
RESTORE_PROJECTION = "INSERT INTO person_year_totals (stream_id, version, totals) VALUES ($1, $2, $3::jsonb)"


async def restore_into_postgres(pool: asyncpg.Pool, *, open_years: bool = True) -> None:
    """The same, in PostgreSQL: rows inserted as a superuser with triggers off
    (session_replication_role = replica), with hash_alg 1 — exactly what migration 0006 leaves
    in a database written by version-1 code (its ADD COLUMN gives old rows algorithm 1).
    ``open_years``: make the years' partitions first (a schema at migration 0011 or later)."""
    last, projections = _last_versions(), fixture_json("projections.json")
    years = sorted({int(stream.rpartition("/")[2]) for stream in last})
    async with pool.acquire() as connection, connection.transaction():
        if open_years:
            await connection.execute("SELECT ledger_add_year(y::smallint) FROM unnest($1::int[]) AS y", years)
        await connection.execute("SET LOCAL session_replication_role = replica")
        for index, record in enumerate(fixture_events()):
            await connection.execute(
                RESTORE_EVENT, index, record["stream_id"], record["version"], uuid.UUID(record["event_id"]),
                record["event_type"], json.dumps(record["data"], ensure_ascii=False),
                datetime.fromisoformat(record["occurred_at"]), record["prev_hash"], record["hash"],
            )  # fmt: skip
        for stream, projection in projections.items():
            await connection.execute(
                RESTORE_PROJECTION, stream, last[stream], json.dumps(projection, ensure_ascii=False)
            )


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
