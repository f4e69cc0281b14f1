"""A person-year's projection keeps a note of each settlement, not its amounts (projection schema
4): the row a claim rewrites grows by about a hundred bytes a settlement, and a reversal reads the
amounts it undoes from the settlement's own event."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from group_commit_scenarios import H2, SENT, claim, enrolment, service
from ledger.adapters.memory import MemoryLedger
from ledger.hashing import canonical_json
from settlement.service_layer.people import load, with_amounts

from contracts.results import Rejection
from engine.errors import InvariantBroken
from engine.events import ClaimSettled
from engine.ids import settlement_id
from engine.person import OpenSettlement, SettlementNote, opened
from engine.records import from_record
from engine.snapshot import upcast


def reversal(request_id: str, of: str) -> dict[str, Any]:
    return {
        "msg_type": "reversal", "schema_version": "claims.v2", "request_id": request_id, "sent_at": SENT,
        "psn_no": "P1", "fixmedins_code": H2, "setl_id": settlement_id(f"{H2}:{of}", 2025),
    }  # fmt: skip


async def handled(store: MemoryLedger, *messages: dict[str, Any]) -> list[Any]:
    settle = service(store)
    return [await settle.handle(json.dumps(m).encode(), source=f"t:{n}") for n, m in enumerate(messages)]


async def stored_projection(store: MemoryLedger) -> dict[str, Any]:
    _, projection = await store.read_projection("P1/2025")
    assert projection is not None
    return dict(projection)


async def test_the_projection_keeps_who_settled_each_settlement_and_its_event_keeps_the_amounts() -> None:
    store = MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-1", "P1", "1000.00", 3), claim("C-2", "P1", "2000.00", 4))
    projection = await stored_projection(store)
    first = settlement_id(f"{H2}:C-1", 2025)
    assert projection["schema_version"] == 4
    assert projection["settlements"][first] == {"fixmedins_code": H2, "reversed_by": None}
    assert [p["policy_id"] for p in projection["policies"]] == ["ningxia-resident-2025"]  # once, not per settlement
    (event,) = [e for e in await store.read_stream("P1/2025") if e.data.get("setl_id") == first]
    facts = from_record(event.event_type, event.data)
    assert isinstance(facts, ClaimSettled) and facts.amounts.medfee_sumamt == 100000  # 1,000.00 yuan


async def test_a_projection_grows_by_under_150_bytes_a_settlement() -> None:
    store = MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-0", "P1", "100.00", 1))
    one = len(canonical_json(await stored_projection(store)).encode())
    await handled(store, *(claim(f"C-{n}", "P1", "100.00", 1 + n % 12) for n in range(1, 21)))
    projection = await stored_projection(store)
    assert len(projection["settlements"]) == 21
    # each settlement adds its note (~75 bytes) and its visit (mdtrt_id → setl_id, ~35); schema 3
    # added each settlement's amounts, funds, delta and policy too: ~1,050 bytes
    assert (len(canonical_json(projection).encode()) - one) / 20 < 150


async def test_a_reversal_undoes_the_amounts_read_from_the_settlements_event() -> None:
    store, alone = MemoryLedger(), MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-1", "P1", "1000.00", 3), claim("C-2", "P1", "2000.00", 4))
    answers = await handled(store, reversal("R-2", of="C-2"))  # the last one: its undoing is exact
    assert answers[0].msg_type == "reversal_result"
    await handled(alone, enrolment("P1"), claim("C-1", "P1", "1000.00", 3))
    reversed_year = (await load(store, "P1", 2025)).state
    only_c1 = (await load(alone, "P1", 2025)).state
    assert reversed_year.totals.figures() == only_c1.totals.figures()  # C-2 settled then reversed left nothing
    note = reversed_year.settlements[settlement_id(f"{H2}:C-2", 2025)]
    assert isinstance(note, SettlementNote) and note.reversed_by is not None
    again = await handled(store, reversal("R-3", of="C-2"))  # a second reversal: refused, from the note alone
    assert isinstance(again[0], Rejection) and again[0].code.value == "already_reversed"


async def test_with_amounts_refuses_a_projection_naming_a_settlement_its_stream_does_not_hold() -> None:
    store = MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-1", "P1", "1000.00", 3))
    loaded = await load(store, "P1", 2025)
    ghost = SettlementNote("S2025-0000000000000000", H2)
    settlements = {**loaded.state.settlements, ghost.setl_id: ghost}
    broken = replace(loaded, state=replace(loaded.state, settlements=settlements))
    with pytest.raises(InvariantBroken, match="names a settlement it does not hold"):
        await with_amounts(store, broken, ghost.setl_id)


async def test_opened_refuses_the_amounts_of_another_institutions_settlement() -> None:
    store = MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-1", "P1", "1000.00", 3))
    loaded = await load(store, "P1", 2025)
    setl_id = settlement_id(f"{H2}:C-1", 2025)
    held = (await with_amounts(store, loaded, setl_id)).state.settlements[setl_id]
    assert isinstance(held, OpenSettlement) and held.amounts.medfee_sumamt == 100000
    with pytest.raises(InvariantBroken, match="does not match its event"):
        opened(loaded.state, replace(held, fixmedins_code="H64010100009"))


async def test_a_schema_4_projection_with_its_policies_out_of_order_reads_them_in_order() -> None:
    """Written by schema-4 code before its policies were kept sorted (first used first): read in
    engine.person's order, so verify compares it equal to a replay."""
    store = MemoryLedger()
    await handled(store, enrolment("P1"), claim("C-1", "P1", "1000.00", 3))
    stored = await stored_projection(store)
    (stamp,) = stored["policies"]
    later = {**stamp, "version": stamp["version"] + 1}
    shuffled = {**stored, "policies": [later, stamp]}
    assert [p["version"] for p in upcast(shuffled)["policies"]] == [stamp["version"], stamp["version"] + 1]
