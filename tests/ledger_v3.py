"""The committed ledger written by the last code of ClaimSettled version 3 (tests/fixtures/ledger-v3/,
main at 0f49086), for the tests that replay it through today's code: in memory (unit) and in the
real PostgreSQL store (integration)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from ledger.adapters.memory import MemoryLedger
from ledger.adapters.postgres_sql import stream_year
from ledger.store import RecordedEvent

from engine.visit_stream import VisitState

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ledger-v3"
ROOT_POLICIES = Path(__file__).resolve().parents[1] / "policies"
# The policy files that priced the input (main at 0f49086, keys renamed since renamed here too,
# numbers untouched): the annual-totals view reads caps and deductibles left from them.
POLICIES_THEN = FIXTURE / "policies"
RESTORED_AT = datetime.fromisoformat("2026-01-01T00:00:00+00:00")  # the generator's fixed clock


def fixture_lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURE / name).read_text(encoding="utf-8").splitlines()]


def fixture_events() -> list[dict[str, Any]]:
    return fixture_lines("events.jsonl")


def fixture_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURE / name).read_text(encoding="utf-8"))
    return loaded


def as_recorded(record: Mapping[str, Any]) -> RecordedEvent:
    """A fixture row as the store reads it back, with the hash algorithm that code wrote."""
    at = datetime.fromisoformat(record["occurred_at"])
    return RecordedEvent(
        record["stream_id"], record["version"], record["position"], uuid.UUID(record["event_id"]),
        record["event_type"], record["data"], at, RESTORED_AT, record["prev_hash"], record["hash"],
        record["hash_alg"],
    )  # fmt: skip


def _last_versions() -> dict[str, int]:
    return {record["stream_id"]: record["version"] for record in fixture_events()}


async def restore_into_memory(store: MemoryLedger) -> None:
    """The rows as that code stored them (same ids, data, times, hashes and algorithm), each
    person-year with the inline projection it stored: the state an upgrade finds."""
    last, projections = _last_versions(), fixture_json("projections.json")
    for record in fixture_events():
        stream = record["stream_id"]
        projection = projections.get(stream) if record["version"] == last[stream] else None
        await store.restore_event(as_recorded(record), projection)


RESTORE_EVENT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
VALUES ((pg_current_xact_id()::text::bigint << 16) + $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
"""
RESTORE_PROJECTION = "INSERT INTO person_year_totals (stream_id, version, totals) VALUES ($1, $2, $3::jsonb)"


async def restore_into_postgres(pool: asyncpg.Pool) -> None:
    """The same in PostgreSQL, inserted as a superuser with triggers off (session_replication_role
    = replica) so the rows keep the hashes that code computed rather than being re-stamped."""
    last, projections = _last_versions(), fixture_json("projections.json")
    years = sorted({stream_year(stream) for stream in last})  # each year's partition (migration 0011)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT ledger_add_year(y::smallint) FROM unnest($1::int[]) AS y", years)
        await connection.execute("SET LOCAL session_replication_role = replica")
        for index, r in enumerate(fixture_events()):
            await connection.execute(
                RESTORE_EVENT, index, r["stream_id"], r["version"], uuid.UUID(r["event_id"]), r["event_type"],
                json.dumps(r["data"], ensure_ascii=False), datetime.fromisoformat(r["occurred_at"]), r["prev_hash"],
                r["hash"], r["hash_alg"],
            )  # fmt: skip
        for stream, projection in projections.items():
            await connection.execute(
                RESTORE_PROJECTION, stream, last[stream], json.dumps(projection, ensure_ascii=False)
            )


def visit_summary(state: VisitState) -> dict[str, Any]:
    """A visit stream's fold as visits.json records it (the generator's own summary)."""
    registered = state.registered
    return {
        "psn_no": registered.psn_no if registered else None,
        "setting": registered.setting if registered else None,
        "med_type": state.med_type,
        "open_lines": sorted(state.lines),
        "settled_lines": dict(sorted(state.settled_lines.items())),
        "settlements": {
            s.setl_id: {
                "medfee_sumamt": s.medfee_sumamt,
                "feedetl_sns": list(s.feedetl_sns),
                "reversed_by": s.reversed_by,
            }
            for s in state.settlements.values()
        },
        "open_setl_id": state.open_setl_id,
        "discharged": state.discharged is not None,
        "cancelled": state.cancelled,
        "version": state.version,
    }


def national_step(step_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A gateway step of the fixture: the envelope as sent and the answer as that code gave it."""
    for line in fixture_lines("national.answers.jsonl"):
        if line["id"] == step_id:
            answer: dict[str, Any] = json.loads(line["answer"], parse_float=Decimal)
            return line["envelope"], answer
    raise KeyError(step_id)


def by_stream(records: Iterable[Mapping[str, Any]]) -> dict[str, list[RecordedEvent]]:
    out: dict[str, list[RecordedEvent]] = {}
    for record in records:
        out.setdefault(record["stream_id"], []).append(as_recorded(record))
    return out
