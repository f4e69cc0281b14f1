"""`verify_ledger` over the in-memory store: the same findings as on PostgreSQL, never a crash.

The ledger holds the first lines of the example year settled by the real use case; forged
rows are then put in through MemoryLedger's raw inserts (what the application role's INSERT
privilege allows in PostgreSQL).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from ledger.adapters.memory import MemoryLedger
from ledger.store import OutboxMessage, StoredRequest
from ledger.verify import verify_ledger
from settlement.service_layer.handlers import SettlementService

from engine.ids import event_id
from engine.policy_files import load_policy_book

ROOT = Path(__file__).resolve().parents[2]


async def settled(lines: int = 40) -> MemoryLedger:
    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    for n, line in enumerate((ROOT / "examples" / "year-2025.jsonl").read_bytes().splitlines()[:lines], start=1):
        await service.handle(line, source=f"example:{n}")
    return store


async def a_settlement(store: MemoryLedger) -> StoredRequest:
    after = None
    while page := await store.read_requests(after, 100):
        for row in page:
            if row.result.get("msg_type") == "settlement":
                return row
        after = page[-1].key
    raise AssertionError("the example's first lines hold a settlement")


async def test_a_ledger_written_by_the_use_case_is_intact_rows_included() -> None:
    report = await verify_ledger(await settled())
    assert report.ok, report.problems()
    assert "idempotency and outbox rows" in report.checked


async def test_a_request_pointing_at_another_requests_event_is_reported() -> None:
    store = await settled()
    real = await a_settlement(store)
    await store.insert_raw_request(StoredRequest("H1:stolen", "x", dict(real.result), real.first_position))
    problems = (await verify_ledger(store)).problems()
    assert any('"H1:stolen": its first event' in p and "belongs to another request" in p for p in problems)


async def test_a_request_naming_a_position_with_no_event_is_reported() -> None:
    store = await settled()
    answer = {"msg_type": "enrolment_accepted", "event_id": str(event_id("H1:ghost", 0))}
    await store.insert_raw_request(StoredRequest("H1:ghost", "x", answer, 10**9))
    (finding,) = (await verify_ledger(store)).findings
    assert finding.sentence == 'idempotency row "H1:ghost": it names position 1000000000, where no event is recorded'


async def test_a_queued_message_whose_bytes_differ_from_its_stored_answer_is_reported() -> None:
    store = await settled()
    real = await a_settlement(store)
    altered = {**real.result, "event_id": real.result["event_id"]}
    altered["setlinfo"] = {**altered["setlinfo"], "fund_pay_sumamt": "999999.99"}
    store._outbox = [m for m in store._outbox if str(m.message_id) != real.result["event_id"]]  # as after a prune
    store._message_ids.discard(uuid.UUID(real.result["event_id"]))
    message_id = uuid.UUID(real.result["event_id"])
    await store.insert_raw_outbox(OutboxMessage(message_id, "settlements.v1", "P1", json.dumps(altered).encode()))
    (finding,) = (await verify_ledger(store)).findings
    assert finding.kind == "outbox_unbacked" and "its bytes differ from the stored answer" in finding.sentence


async def test_a_follower_check_that_fails_is_a_finding_and_the_others_still_run() -> None:
    store = await settled()
    await store.insert_raw_request(StoredRequest("H1:junk", "x", {"nothing": True}, None))

    async def broken_followers() -> list[str]:
        raise LookupError("reversal of S2025-0, which clearing never saw settled")

    report = await verify_ledger(store, followers=broken_followers)
    assert [f.kind for f in report.findings] == ["request_unbacked", "follower"]
    assert "could not be recomputed from the log (LookupError" in report.findings[1].sentence
