"""A ledger written by version-1 code (tests/fixtures/ledger-v1/, made by main at a56b08c) replays
through today's code to the very totals and clearing figures that code computed, with every
stored hash still valid: events are upcast when read, never rewritten."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.audit import chain_breaks
from ledger.domain import current_projection, fold, rebuild
from ledger.hashing import json_value
from ledger.period_totals import ClearingFold
from ledger_v1 import (
    FIXTURE,
    FIXTURE_POLICIES,
    as_recorded,
    clearing_figures,
    fixture_events,
    fixture_json,
    restore_into_memory,
    totals_figures,
)
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.render import reversal_answer, settlement_answer

from contracts.wire import encode_json
from engine.events import ClaimSettled, SettlementReversed
from engine.policy_files import load_policy_book
from engine.records import from_record
from engine.snapshot import from_json, to_json

BOOK = load_policy_book(FIXTURE_POLICIES)
EVERY_TYPE = {
    "PersonEnrolled",
    "AccountCredited",
    "ClaimSettled",
    "FamilyAccountDebited",
    "SettlementReversed",
    "FamilyAccountRefunded",
}


def test_the_fixture_holds_every_event_type_at_version_1() -> None:
    events = fixture_events()
    assert {e["event_type"] for e in events} == EVERY_TYPE
    assert not any("schema_version" in e["data"] for e in events)


async def test_the_v1_events_as_an_upgrade_finds_them_keep_their_hashes_and_verify() -> None:
    store = MemoryLedger()
    await restore_into_memory(store)
    recorded = await store.read_all(0, 10_000)
    assert [(e.prev_hash, e.hash) for e in recorded] == [(e["prev_hash"], e["hash"]) for e in fixture_events()]
    for stream in await store.list_streams():
        assert chain_breaks(stream, await store.read_stream(stream)) == []


async def test_every_person_year_replays_to_the_totals_version_1_code_computed() -> None:
    store = MemoryLedger()
    await restore_into_memory(store)
    expected = fixture_json("totals.json")
    streams = await store.list_streams()
    assert sorted(streams) == sorted(expected)
    for stream in streams:
        state = fold(stream, await store.read_stream(stream))
        assert totals_figures(state, BOOK) == expected[stream], stream


def test_the_clearing_fold_of_the_v1_log_gives_the_figures_version_1_code_computed() -> None:
    clearing = ClearingFold()
    for record in fixture_events():
        clearing.apply(as_recorded(record), {})
    assert clearing_figures(clearing) == fixture_json("clearing.json")


def test_a_projection_stored_by_version_1_code_reads_as_todays_fold_of_its_events() -> None:
    by_stream: dict[str, list[dict]] = {}
    for record in fixture_events():
        by_stream.setdefault(record["stream_id"], []).append(record)
    for stream, stored in fixture_json("projections.json").items():
        rebuilt = fold(stream, [as_recorded(r) for r in by_stream[stream]])
        assert to_json(from_json(stored)) == to_json(rebuilt), stream  # every settlement a note of it


def _same_instant(answer: dict) -> dict:
    """occurred_at as an instant: the store keeps the time, not the sender's offset."""
    return {**answer, "occurred_at": datetime.fromisoformat(answer["occurred_at"]).astimezone(UTC).isoformat()}


def _without_case_payment(answer: dict) -> dict:
    """v1 valued an inpatient case with the hospital's own weight or score; since ClaimSettled v4
    (issue 13, docs/clearing.md) only the fund's grouping values a case, and an old event has no
    case facts (engine.upcasters.claim_settled_v3_to_v4). Everything else is unchanged."""
    return {k: v for k, v in answer.items() if k != "case_payment"}


def test_answers_rendered_from_upcast_v1_events_are_the_answers_v1_code_sent() -> None:
    sent = [json.loads(line) for line in (FIXTURE / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    by_setl_id = {a["setl_id"]: a for a in sent if a["msg_type"] in ("settlement", "reversal_result")}
    rendered = Counter()
    for record in map(as_recorded, fixture_events()):
        facts = from_record(record.event_type, record.data)
        at, event_id = record.occurred_at, record.event_id
        if isinstance(facts, ClaimSettled):
            answer = settlement_answer(facts, event_id=event_id, occurred_at=at, setl_mode="settle")
        elif isinstance(facts, SettlementReversed):
            answer = reversal_answer(facts, event_id=event_id, occurred_at=at)
        else:
            continue
        again = json.loads(encode_json(answer))
        assert again.get("case_payment") is None, facts.setl_id
        expected = _without_case_payment(by_setl_id[facts.setl_id])
        assert _without_case_payment(_same_instant(again)) == _same_instant(expected), facts.setl_id
        rendered[record.event_type] += 1
    assert rendered == {"ClaimSettled": 24, "SettlementReversed": 2}


def test_todays_service_refuses_the_v1_input_naming_the_migration_and_its_ledger_still_replays() -> None:
    """claims.v1 / enrolments.v1 are no longer accepted (docs/integrating.md#migrating-from-v1):
    every message of the v1 input gets one unsupported_schema_version rejection; what the v1
    code recorded still replays (the tests above)."""

    async def answers() -> list[dict]:
        clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731 - the generator's fixed clock
        service = SettlementService(MemoryLedger(clock=clock), BOOK, clock=clock)
        lines = (FIXTURE / "input.jsonl").read_bytes().splitlines()
        return [
            json.loads(encode_json(await service.handle(raw, source=f"input.jsonl:{n}")))
            for n, raw in enumerate(lines, start=1)
            if raw.strip()
        ]

    sent = (FIXTURE / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    now = asyncio.run(answers())
    assert len(now) == len(sent)
    codes = Counter(a.get("code") for a in now)
    messages = [a for a in now if a.get("code") == "unsupported_schema_version"]
    assert set(codes) <= {"unsupported_schema_version", "malformed_json", "unknown_message_type", "invalid_message"}
    assert len(messages) >= len(now) - 3
    assert all("docs/integrating.md#migrating-from-v1" in a["message"] for a in messages)


def test_a_projection_stored_by_version_1_code_upcasts_to_the_json_a_rebuild_writes() -> None:
    """What verify compares: the stored projection in today's shape against the rebuild."""
    by_stream: dict[str, list[dict]] = {}
    for record in fixture_events():
        by_stream.setdefault(record["stream_id"], []).append(record)
    for stream, stored in fixture_json("projections.json").items():
        assert "schema_version" not in stored
        rebuilt = rebuild(stream, [as_recorded(r) for r in by_stream[stream]])
        assert json_value(current_projection(stored)) == json_value(rebuilt), stream


def test_a_projection_of_a_schema_version_this_code_does_not_know_is_refused() -> None:
    stored = next(iter(fixture_json("projections.json").values()))
    with pytest.raises(ValueError, match="schema_version 5"):
        from_json({**stored, "schema_version": 5})
