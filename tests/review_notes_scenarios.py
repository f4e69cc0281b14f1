"""The scenario of the review of projection schema 4 (tests/unit/test_review_notes.py and
tests/integration/test_review_notes_postgres.py): a year priced under two versions of a policy,
and the projection schema-3 code stored of it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from group_commit_scenarios import ROOT, claim, enrolment
from ledger.adapters.memory import MemoryLedger
from ledger.hashing import canonical_json
from settlement.service_layer.handlers import SettlementService

from engine.codec_settlement import amounts_to_json, returned_to_json, stamp_to_json
from engine.events import ClaimSettled, Event
from engine.person import OpenSettlement, PersonYear
from engine.policy_book import PolicyBook
from engine.policy_files import load_policy_book
from engine.records import from_record
from engine.snapshot import to_json


def amended_policies(folder: Path) -> PolicyBook:
    """The project's policies and an amendment of Ningxia's residents' policy: version 2, in force
    from 1 April 2025 with an annual cap of 140,000 (PolicyBook.in_force prices with the highest
    version in force, so a year's settlements carry two stamps, as after any mid-year amendment)."""
    shutil.copytree(ROOT / "policies", folder)
    text = (ROOT / "policies" / "640000-390-2025.toml").read_text(encoding="utf-8")
    for old, new in (("version = 1\n", "version = 2\n"), ("effective_from = 2025-01-01", "effective_from = 2025-04-01"),
                     ('annual_cap = "130000"', 'annual_cap = "140000"')):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    (folder / "640000-390-2025-v2.toml").write_text(text, encoding="utf-8")
    return load_policy_book(folder)


async def a_year_under_two_policies(folder: Path) -> tuple[MemoryLedger, list[Event]]:
    """P1's 2025 settled by the service: C-1 in March under version 1, C-4 in April under version
    2. C-4's setl_id sorts before C-1's (S2025-775e… < S2025-81f9…), so a projection's
    settlements read back with their keys sorted list C-4 first."""
    store = MemoryLedger()
    settle = SettlementService(store, amended_policies(folder), clock=lambda: datetime(2025, 5, 1, tzinfo=UTC))
    for n, message in enumerate((enrolment("P1"), claim("C-1", "P1", "1000.00", 3), claim("C-4", "P1", "500.00", 4))):
        await settle.handle(json.dumps(message).encode(), source=f"t:{n}")
    events = [from_record(e.event_type, e.data) for e in await store.read_stream("P1/2025")]
    settled = [e for e in events if isinstance(e, ClaimSettled)]
    assert [s.policy.version for s in settled] == [1, 2] and settled[1].setl_id < settled[0].setl_id
    return store, events


def as_schema_3_stored_it(state: PersonYear) -> dict[str, Any]:
    """The projection schema-3 code (main at 0f23271, engine/snapshot.py) wrote for ``state``, read
    back as the store returns it: jsonb printed its keys sorted by length then bytes, and since
    migration 0012 the store writes canonical_json (keys sorted); either way settlement ids of one
    length come back in byte order, not in the order they were settled."""
    entries = {}
    for key, s in state.settlements.items():
        assert isinstance(s, OpenSettlement)
        entries[key] = {
            "mdtrt_id": s.mdtrt_id, "fixmedins_code": s.fixmedins_code, "delta": s.delta.to_json(),
            "payer_psn_no": s.payer_psn_no, "policy": stamp_to_json(s.policy), "amounts": amounts_to_json(s.amounts),
            "funds": returned_to_json(s.funds), "reversed_by": s.reversed_by,
        }  # fmt: skip
    v4 = to_json(state)
    del v4["policies"]
    written: dict[str, Any] = json.loads(canonical_json({**v4, "schema_version": 3, "settlements": entries}))
    return written
