"""The payer's catalogue prices every line, whatever the hospital says of it; pharmacy purchases
follow the national layout (no codebase builds them: tests/fixtures/national/pharmacy_2101_2103.json)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.adapters.memory import MemoryLedger
from national import FixtureIds, envelope, parsed, pharmacy_purchase, requests, sample_gateway
from settlement.gateway.context import Access

from engine.events import ClaimSettled
from engine.person import stream_id
from engine.records import from_record, visit_event_from_record
from engine.visit_events import FeesUploaded, visit_stream_id

HSA, VISIT, PERSON = "outpatient_hsa_his", "430100250318000321", "43000000000000009900000002"
ANYONE = Access.anyone()


def _line(sn: str, code: str, pric: str, cnt: str, amount: str, **declared: str) -> dict[str, Any]:
    return {"feedetl_sn": sn, "mdtrt_id": VISIT, "psn_no": PERSON, "chrg_bchno": "B9", "med_list_codg": code,
            "fee_ocur_time": "2025-03-18 09:10:02", "pric": pric, "cnt": cnt, "det_item_fee_sumamt": amount,
            **declared}  # fmt: skip


async def test_a_class_a_claim_for_a_class_c_item_and_a_hospitals_own_cap_are_priced_by_the_catalogue() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(HSA))
    await gateway.handle(requests(HSA)["b3"], access=ANYONE)
    lines = [
        # The sample catalogue has XS09ZZZ000A001010 as 丙类 (03): all 全自费, whatever "01" says.
        _line("X1", "XS09ZZZ000A001010", "30.00", "1", "30.00", chrgitm_lv="01"),
        # Amoxicillin's cap is 0.85 a unit (catalogue/lmtpric.csv), not the 100.00 sent:
        # 10 × 0.90 = 9.00, of which 10 × (0.90 − 0.85) = 0.50 is 超限价 and 8.50 policy-range.
        _line("X2", "XJ01CAA040E001010100709", "0.90", "10", "9.00", pric_uplmt_amt="100.00"),
    ]
    body = parsed(await gateway.handle(envelope("2204", "M-2204-X", {"feedetail": lines}), access=ANYONE))
    assert body["infcode"] == "0", body["err_msg"]
    x1, x2 = body["output"]["result"]
    assert (x1["chrgitm_lv"], x1["fulamt_ownpay_amt"], x1["inscp_scp_amt"]) == ("03", Decimal("30.00"), Decimal("0.00"))
    assert "chrgitm_lv: sent 01, catalogue 03" in x1["memo"]
    assert (x2["overlmt_amt"], x2["inscp_scp_amt"], x2["pric_uplmt_amt"]) == (
        Decimal("0.50"),
        Decimal("8.50"),
        Decimal("0.8500"),
    )
    assert "pric_uplmt_amt: sent 100.00, catalogue 0.85" in x2["memo"]
    recorded = [visit_event_from_record(e.event_type, e.data) for e in await store.read_stream(visit_stream_id(VISIT))]
    uploaded = next(e for e in recorded if isinstance(e, FeesUploaded))
    assert uploaded.lines[0].declared.chrgitm_lv == "01" and uploaded.lines[0].priced.chrgitm_lv == "03"
    assert uploaded.lines[1].priced.disagreements == ("pric_uplmt_amt: sent 100.00, catalogue 0.85",)
    settle = {
        "data": {"psn_no": PERSON, "mdtrt_id": VISIT, "chrg_bchno": "B9", "medfee_sumamt": "39.00", "insutype": "310"}
    }
    assert parsed(await gateway.handle(envelope("2207", "M-2207-X", settle), access=ANYONE))["infcode"] == "0"
    events = [from_record(e.event_type, e.data) for e in await store.read_stream(stream_id(PERSON, 2025))]
    settled = next(e for e in events if isinstance(e, ClaimSettled))
    assert [(d.field, d.sent, d.catalogue) for s in settled.items for d in s.disagreements] == [
        ("chrgitm_lv", "01", "03"),
        ("pric_uplmt_amt", "100.00", "0.85"),
    ]
    assert any(line.rule == "items.disagreement" for line in settled.trail)


async def test_a_pharmacy_purchase_pre_settles_settles_and_reverses_in_the_national_layout() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    purchase = pharmacy_purchase("2025-03-18", psn_no=PERSON)
    before = len(await store.read_all(0, 10_000))
    pre = parsed(await gateway.handle(envelope("2101", "M-2101", purchase), access=ANYONE))
    assert pre["infcode"] == "0", pre["err_msg"]
    assert "setl_id" not in pre["output"]["setlinfo"] and len(await store.read_all(0, 10_000)) == before
    done = parsed(await gateway.handle(envelope("2102", "M-2102", purchase), access=ANYONE))
    info = done["output"]["setlinfo"]
    assert done["infcode"] == "0" and info["clr_type"] == "41" and info["setl_id"] == info["mdtrt_id"] + "00"
    assert info["medfee_sumamt"] == pre["output"]["setlinfo"]["medfee_sumamt"] == Decimal("20.40")
    back = parsed(
        await gateway.handle(
            envelope("2103", "M-2103", {"data": {"setl_id": info["setl_id"], "psn_no": PERSON}}), access=ANYONE
        )
    )
    assert back["infcode"] == "0", back["err_msg"]
    assert back["output"]["setlinfo"]["medfee_sumamt"] == Decimal("-20.40")
    assert back["output"]["setlinfo"]["setl_id"] == info["mdtrt_id"] + "01"
