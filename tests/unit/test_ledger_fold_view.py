"""What `ledger verify` and `ledger replay` fold: each event as the fold reads it (a ClaimSettled
as the OpenSettlement it opens), through the same engine.person.replay as every other caller;
and the cheap comparison of a stored projection that verify tries before the full one.

The ledger is the example year settled by the real use case (examples/year-2025.jsonl)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.domain import fold, fold_records, is_person_stream, is_visit_stream
from ledger.hashing import jsonb_text
from ledger.scan import StreamScan
from ledger.verify import VerifyReport, _check_stream, _plainly_equal
from settlement.service_layer.handlers import SettlementService

from engine.errors import InvariantBroken, UnreadableEvent
from engine.events import ClaimSettled
from engine.person import OpenSettlement, PersonYear, apply
from engine.policy_files import load_policy_book
from engine.records import fold_view, from_record
from engine.snapshot import to_json

ROOT = Path(__file__).resolve().parents[2]


async def example_year() -> MemoryLedger:
    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    for number, line in enumerate((ROOT / "examples" / "year-2025.jsonl").read_bytes().splitlines(), start=1):
        await service.handle(line, source=f"example:{number}")
    return store


async def person_streams(store: MemoryLedger) -> list[str]:
    return [
        s
        for s in await store.list_streams()
        if is_person_stream(s) and not is_visit_stream(s) and not s.startswith("contrib/")
    ]


async def a_settlement_record(store: MemoryLedger) -> dict[str, Any]:
    for stream_id in await person_streams(store):
        for event in await store.read_stream(stream_id):
            if event.event_type == "ClaimSettled":
                return copy.deepcopy(dict(event.data))
    raise AssertionError("the example year holds a settlement")


async def test_a_settlement_read_for_the_fold_is_what_the_full_event_opens() -> None:
    store = await example_year()
    settled = 0
    for stream_id in await person_streams(store):
        for event in await store.read_stream(stream_id):
            if event.event_type == "ClaimSettled":
                full = from_record(event.event_type, event.data)
                assert isinstance(full, ClaimSettled)
                assert fold_view(event.event_type, event.data) == OpenSettlement.of(full)
                settled += 1
    assert settled > 15


async def test_every_person_year_folds_to_the_same_state_from_the_view_as_from_the_full_events() -> None:
    store = await example_year()
    streams = await person_streams(store)
    assert len(streams) > 5
    for stream_id in streams:
        events = await store.read_stream(stream_id)
        assert fold_records(stream_id, [(e.event_type, e.data) for e in events]) == fold(stream_id, events)


async def test_a_settlement_field_the_fold_reads_is_still_checked() -> None:
    data = await a_settlement_record(await example_year())
    bad_delta = {**data, "delta": {**data["delta"], "no_such_total": 1}}
    with pytest.raises(UnreadableEvent, match="unknown totals field"):
        fold_view("ClaimSettled", bad_delta)
    no_visit_id = {**data, "visit": {k: v for k, v in data["visit"].items() if k != "mdtrt_id"}}
    with pytest.raises(UnreadableEvent):
        fold_view("ClaimSettled", no_visit_id)
    setl_id_as_number = {**data, "setl_id": 12}
    with pytest.raises(UnreadableEvent, match="expected text"):
        fold_view("ClaimSettled", setl_id_as_number)


async def test_a_settlement_missing_a_top_level_field_is_unreadable_even_one_the_fold_ignores() -> None:
    data = await a_settlement_record(await example_year())
    without_trail = {k: v for k, v in data.items() if k != "trail"}
    with pytest.raises(UnreadableEvent, match="fields missing"):
        fold_view("ClaimSettled", without_trail)


async def test_a_bad_trail_line_is_not_read_by_the_fold_view_while_from_record_still_refuses_it() -> None:
    # The trail explains the pricing; the totals never read it. verify reads what the fold reads.
    data = await a_settlement_record(await example_year())
    bad_trail = {**data, "trail": [{"rule": 1}]}
    with pytest.raises(UnreadableEvent):
        from_record("ClaimSettled", bad_trail)
    assert isinstance(fold_view("ClaimSettled", bad_trail), OpenSettlement)


async def test_the_fold_refuses_a_settlement_opened_as_already_reversed() -> None:
    data = await a_settlement_record(await example_year())
    opened = fold_view("ClaimSettled", data)
    assert isinstance(opened, OpenSettlement)
    with pytest.raises(InvariantBroken, match="already reversed"):
        apply(PersonYear("P001", 2025), replace(opened, reversed_by="S-X"))


async def scans(store: MemoryLedger) -> list[StreamScan]:
    streams = set(await person_streams(store))
    return [scan async for scan in store.scan_streams() if scan.stream_id in streams]


def as_postgres_hands_it(projection: dict[str, Any]) -> dict[str, Any]:
    """The projection as PostgresLedger's scan decodes it: json.loads of jsonb's text."""
    loaded: dict[str, Any] = json.loads(jsonb_text(projection))
    return loaded


async def test_a_stored_projection_in_jsonbs_text_equal_to_the_replay_is_plainly_equal() -> None:
    store = await example_year()
    for scan in await scans(store):
        replayed = to_json(fold(scan.stream_id, await store.read_stream(scan.stream_id)))
        assert _plainly_equal(as_postgres_hands_it(replayed), replayed)


async def test_a_float_or_an_older_schema_version_is_left_to_the_full_comparison() -> None:
    store = await example_year()
    scan = (await scans(store))[0]
    replayed = to_json(fold(scan.stream_id, await store.read_stream(scan.stream_id)))
    stored = as_postgres_hands_it(replayed)
    as_float = {**stored, "version": float(stored["version"])}  # 5.0 == 5 in Python, not in the ledger
    assert as_float == replayed and not _plainly_equal(as_float, replayed)
    assert not _plainly_equal({**stored, "schema_version": 2}, replayed)


async def test_verify_finds_a_stored_projection_that_differs_only_by_a_float() -> None:
    store = await example_year()
    scan = (await scans(store))[0]
    replayed = to_json(fold(scan.stream_id, await store.read_stream(scan.stream_id)))
    forged = {**as_postgres_hands_it(replayed), "version": float(replayed["version"])}
    report = VerifyReport(streams=1)
    _check_stream(replace(scan, state=replace(scan.state, projection=forged)), report)
    assert [f.kind for f in report.findings] == ["projection_differs"]


async def test_verify_passes_a_projection_as_postgres_hands_it_and_finds_one_changed_figure() -> None:
    store = await example_year()
    for scan in await scans(store):
        replayed = to_json(fold(scan.stream_id, await store.read_stream(scan.stream_id)))
        state = scan.state
        stored = as_postgres_hands_it(replayed)
        report = VerifyReport(streams=1)
        _check_stream(replace(scan, state=replace(state, projection=stored)), report)
        assert report.ok, report.problems()
        stored["totals"] = {**stored["totals"], "settlements": stored["totals"].get("settlements", 0) + 1}
        _check_stream(replace(scan, state=replace(state, projection=stored)), report)
        assert [f.kind for f in report.findings] == ["projection_differs"]
