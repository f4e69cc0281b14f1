"""异地就医 over the national interface: the envelope's ``mdtrtarea_admvs`` (就医地,
docs/national-interface.md §3) is where the care took place, and the engine prices care outside
the insured pool as claims.v2 does (engine/out_of_region.py): the insured region's policy, the
ratio reduced for care without a filing (备案)."""

from __future__ import annotations

from typing import Any

from ledger.adapters.memory import MemoryLedger
from national import SAMPLE_STAFF, envelope, parsed, pharmacy_purchase, sample_gateway
from settlement.gateway.context import Access

from engine.events import ClaimSettled
from engine.person import stream_id
from engine.records import from_record

PERSON = SAMPLE_STAFF  # insured in 长沙 (430100), no filing
ANYONE = Access.anyone()


def _purchase(area: str) -> bytes:
    purchase = pharmacy_purchase("2025-03-18", psn_no=PERSON, acct_used="0")
    return envelope("2102", f"M-2102-{area or 'blank'}", purchase, area=area)


async def _settled(area: str) -> tuple[dict[str, Any], ClaimSettled | None]:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    body = parsed(await gateway.handle(_purchase(area), access=ANYONE))
    events = [from_record(e.event_type, e.data) for e in await store.read_stream(stream_id(PERSON, 2025))]
    return body, next((e for e in events if isinstance(e, ClaimSettled)), None)


async def test_care_outside_the_insured_pool_named_by_the_envelope_is_priced_as_out_of_region() -> None:
    body, settled = await _settled("440100")  # 广州: outside 长沙's pool, and the person has no filing
    assert body["infcode"] == "0", body["err_msg"]
    assert settled is not None and settled.visit.mdtrtarea_admvs == "440100"
    reduced = [line.text for line in settled.trail if line.rule == "out_of_region"]
    assert reduced == ["care in 440100, outside pool 430100: no filing (未备案); ratios − 0.20"]


async def test_care_inside_the_insured_pool_or_unnamed_is_local() -> None:
    for area in ("430100", "430102", ""):  # the city, one of its districts, and no region said
        body, settled = await _settled(area)
        assert body["infcode"] == "0", body["err_msg"]
        assert settled is not None and not [line for line in settled.trail if line.rule == "out_of_region"], area


async def test_a_treating_region_that_is_not_a_region_code_is_refused_with_a_sentence() -> None:
    body, settled = await _settled("43x")
    assert body["infcode"] == "-1" and settled is None
    assert body["err_msg"] == "mdtrtarea_admvs must be a 6-digit region code (医保区划), not '43x'"
