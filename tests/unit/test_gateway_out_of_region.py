"""异地就医 over the national interface: the envelope's ``mdtrtarea_admvs`` (就医地,
docs/national-interface.md §3) is where the care took place, and the engine prices care outside
the insured pool as claims.v2 does (engine/out_of_region.py): the insured region's policy, the
ratio reduced for care without a filing (备案)."""

from __future__ import annotations

import json
from typing import Any

from ledger.adapters.memory import MemoryLedger
from national import parsed, sample_gateway
from settlement.gateway.context import Access

from engine.events import ClaimSettled
from engine.person import stream_id
from engine.records import from_record

PERSON = "43000000000000009900000002"  # the sample's staff member insured in 长沙 (430100), no filing
ANYONE = Access.anyone()


def _purchase(area: str) -> bytes:
    data = {
        "psn_no": PERSON,
        "insutype": "310",
        "mdtrt_cert_type": "02",
        "begntime": "2025-03-18 15:00:00",
        "medfee_sumamt": "20.40",
        "psn_setlway": "01",
        "acct_used_flag": "0",
    }
    line = {
        "feedetl_sn": "P1",
        "med_list_codg": "XJ01CAA040E001010100709",
        "pric": "0.85",
        "cnt": "24",
        "det_item_fee_sumamt": "20.40",
        "fee_ocur_time": "2025-03-18 15:00:00",
    }
    envelope = {"infno": "2102", "msgid": f"M-2102-{area or 'blank'}", "fixmedins_code": "H43010200456",
                "mdtrtarea_admvs": area, "input": {"data": data, "feedetail": [line]}}  # fmt: skip
    return json.dumps(envelope, ensure_ascii=False).encode()


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
