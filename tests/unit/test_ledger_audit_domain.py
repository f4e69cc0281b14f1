"""Audit over the in-memory ledger: replay equals the projection, verify finds tampering,
reprice reports differences under other policies and writes nothing."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from ledger.adapters.memory import MemoryLedger
from ledger.audit import verify_chains, verify_projections
from ledger.domain import rebuild, replay_person_year
from ledger.reprice import reprice_year
from settlement.service_layer.handlers import SettlementService

from contracts.codes import Insutype
from engine.policy import Policy
from engine.policy_book import PolicyBook
from engine.policy_files import load_policy_book

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "year-2025.jsonl"


async def settled_example_year() -> MemoryLedger:
    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    for number, line in enumerate(EXAMPLE.read_bytes().splitlines(), start=1):
        await service.handle(line, source=f"example:{number}")
    return store


async def test_every_stored_projection_equals_a_replay_of_its_events() -> None:
    store = await settled_example_year()
    assert await verify_chains(store) == []
    assert await verify_projections(store, rebuild) == []


async def test_replaying_a_person_year_gives_the_totals_the_service_kept() -> None:
    store = await settled_example_year()
    rebuilt, stored = await replay_person_year(store, "P004", 2025)
    assert stored is not None
    assert rebuilt.totals == stored.totals
    # CLM-0026, CLM-0027 (sent twice: the retry did not settle twice), CLM-0036, CLM-0046, and
    # CLM-0049, the E11 visit now under the “两病” cover by diagnosis (issue 12 item 2)
    assert rebuilt.totals.settlements == 5


async def test_reprice_under_the_same_policies_finds_no_difference_and_writes_nothing() -> None:
    store = await settled_example_year()
    before = await store.read_all(0, 10_000)
    report = await reprice_year(store, load_policy_book(ROOT / "policies"), 2025)
    assert report.settlements > 15
    assert report.not_repriced == []
    assert report.difference() == {"hifp_pay": 0, "hifmi_pay": 0, "hifob_pay": 0, "maf_pay": 0}
    assert report.per_person == {}
    assert await store.read_all(0, 10_000) == before


async def test_reprice_under_a_higher_inpatient_ratio_reports_more_basic_fund_per_person() -> None:
    store = await settled_example_year()
    book = load_policy_book(ROOT / "policies")
    text = (ROOT / "policies" / "640000-390-2025.toml").read_text("utf-8")
    data = tomllib.loads(text, parse_float=Decimal)
    data["benefits"]["inpatient"]["ratio"]["default"]["2"] = "0.85"  # level-2 stays: 75% → 85%
    data["policy"]["version"] = 2
    resident = book.in_force("640000", Insutype.RESIDENT, date(2025, 6, 1))
    richer = PolicyBook.of(
        [p.policy for p in book.policies] + [Policy.model_validate(data)],
        payer=[p.payer for p in book.policies] + [resident.payer],  # the same SAMPLE catalogue and registry
        codes=book.codes,
    )
    report = await reprice_year(store, richer, 2025)
    assert report.difference()["hifp_pay"] > 0
    # P006, the newborn: one level-2 stay (examples/generator.py, stay(10, 6)): beds 1,200.00 +
    # ceftriaxone 291.00 − 超限价 21.00 − 先行自付 27.00 = 243.00 + infusion sets 68.00 − 30% = 47.60:
    # policy range 1,490.60 − 600 deductible = 890.60; 10% more = 89.06
    assert report.per_person["P006"] == 8_906
