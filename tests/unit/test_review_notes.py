"""A hostile review of projection schema 4 (ADR 0010) and migration 0012: the defects it found,
each a test that failed before its fix (an upgraded year priced under two policies verified as
different; a >64-bit integer read as a float; verify's byte comparison never holding since 0012)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from group_commit_scenarios import claim, enrolment, service
from ledger.adapters.memory import MemoryLedger
from ledger.adapters.postgres_sql import projection
from ledger.domain import rebuild_records
from ledger.hashing import canonical_json
from ledger.verify import _plainly_equal
from review_notes_scenarios import a_year_under_two_policies, as_schema_3_stored_it

from engine.person import replay
from engine.snapshot import from_json, to_json, upcast

# --------------------------------------------------------------------------- schema 3 → 4: policies


async def test_a_schema_3_projection_of_a_year_under_two_policies_upcasts_to_what_a_rebuild_writes(
    tmp_path: Path,
) -> None:
    _, events = await a_year_under_two_policies(tmp_path / "policies")
    whole = replay("P1", 2025, events)
    assert len(whole.policies) == 2  # March's policy first, April's amended one second
    # ledger verify (_compare_in_full) compares exactly these two: the stored one upcast, the replay
    assert upcast(as_schema_3_stored_it(whole)) == to_json(whole)


async def test_the_projection_written_after_an_upcast_one_is_what_a_replay_writes(tmp_path: Path) -> None:
    _, events = await a_year_under_two_policies(tmp_path / "policies")
    whole = replay("P1", 2025, events)
    continued = from_json(as_schema_3_stored_it(whole))  # what the settlement service loads after the upgrade
    # its next claim appends under a policy the year already holds, so the policies it writes are these
    assert to_json(continued)["policies"] == to_json(whole)["policies"]


# --------------------------------------------------------------------------- migration 0012: decoding


@pytest.mark.parametrize("figure", [2**64, -(2**63) - 1])
def test_a_projection_holding_an_integer_past_64_bits_is_read_as_json_loads_reads_it(figure: int) -> None:
    text = f'{{"schema_version": 4, "totals": {{"mi_paid": {figure}}}}}'
    decoded = projection(text)
    assert decoded == json.loads(text)
    assert type(decoded["totals"]["mi_paid"]) is int  # exact, as the figure was written


async def test_verify_decides_a_projection_written_since_migration_0012_by_its_bytes() -> None:
    store = MemoryLedger()
    settle = service(store)
    for n, message in enumerate((enrolment("P1"), claim("C-1", "P1", "1000.00", 3))):
        await settle.handle(json.dumps(message).encode(), source=f"t:{n}")
    replayed = rebuild_records("P1/2025", [(e.event_type, e.data) for e in await store.read_stream("P1/2025")])
    assert replayed is not None
    stored = projection(canonical_json(replayed))  # the text prepare.py writes, read as postgres.py reads it
    assert _plainly_equal(stored, replayed)  # measured: 75 µs spent to answer False, then ~180 µs in full
