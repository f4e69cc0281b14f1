"""claims.v2 / enrolments.v2 through the service (in-memory ledger, shipped Ningxia policies and
their SAMPLE payer data, policies/payer/640000): the payer's catalogue and registry decide the
money, national codes keep their national meaning, v1 is refused with the migration named.

Worked examples: the Ningxia residents' 2025 file gives inpatient deductibles of 900 (level 3),
600 (level 2), 300 (level 1) for a first stay and ratios 0.65 / 0.75 / 0.85; the SAMPLE catalogue
lists beds 甲类, ceftriaxone 乙类 10% capped at 45.00, infusion sets 乙类 30% for residents,
single rooms 丙类, trastuzumab 乙类 5% negotiated and restricted to C50 at level 2 or above.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ledger.adapters.memory import MemoryLedger
from settlement.service_layer.handlers import SettlementService

from contracts.results import EnrolmentAccepted, Rejection, SettlementResult
from engine.events import ClaimSettled
from engine.items import Disagreement, ItemReason
from engine.policy_files import load_policy_book
from engine.records import from_record

ROOT = Path(__file__).resolve().parents[2]
BOOK = load_policy_book(ROOT / "policies")
H3, H2, H1 = "H64010100001", "H64010100002", "H64010100005"  # levels 3 (DRG), 2 (DIP), 1 (item)
BED, CEFTRIAXONE, INFUSION_SET, SINGLE_ROOM = "001102000010000", "XJ01DCA015A001010", "C0311000000001", "C00000000001"
TRASTUZUMAB = "XL01FDT001B002010"


def service() -> tuple[SettlementService, MemoryLedger]:
    store = MemoryLedger()
    return SettlementService(store, BOOK, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC)), store


def raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def enrolment(psn: str = "P1", **facts: Any) -> dict[str, Any]:
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}",
        "sent_at": "2024-10-01 09:00:00",
        "psn_no": psn,
        "insutype": "390",
        "psn_type": "1501",
        "insuplc_admdvs": "640104",
        "year": 2025,
        "enrol_date": "2024-10-01",
        **facts,
    }


def line(sn: str, code: str, pric: str, cnt: str, **sent: Any) -> dict[str, Any]:
    from decimal import ROUND_HALF_UP, Decimal

    amount = (Decimal(pric) * Decimal(cnt)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "pric": pric,
        "cnt": cnt,
        "det_item_fee_sumamt": str(amount),
        **sent,
    }


def claim(
    lines: list[dict[str, Any]], where: str = H3, med_type: str = "21", rid: str = "C1", **kw: Any
) -> dict[str, Any]:
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": rid,
        "sent_at": "2025-03-05 10:30:00",
        "psn_no": "P1",
        "insutype": "390",
        "mdtrt_id": f"MD-{rid}",
        "fixmedins_code": where,
        "med_type": med_type,
        "begntime": "2025-03-01 08:00:00",
        "endtime": "2025-03-05 10:00:00",
        "feedetail": lines,
        **kw,
    }


async def settle(message: dict[str, Any], **enrolled: Any) -> tuple[SettlementResult | Rejection, MemoryLedger]:
    svc, store = service()
    assert isinstance(await svc.handle(raw(enrolment(**enrolled))), EnrolmentAccepted)
    reply = await svc.handle(raw(message))
    assert isinstance(reply, SettlementResult | Rejection)
    return reply, store


async def recorded_claim(store: MemoryLedger) -> ClaimSettled:
    events = [e for e in await store.read_stream("P1/2025") if e.event_type == "ClaimSettled"]
    facts = from_record(events[-1].event_type, events[-1].data)
    assert isinstance(facts, ClaimSettled)
    return facts


# ------------------------------------------------------------------ the payer's catalogue decides


async def test_a_class_a_claim_for_a_class_c_item_is_priced_as_class_c_and_the_disagreement_recorded() -> None:
    """Level 3, first stay: beds 120.00 × 10 = 1200.00 (甲类); single room 150.00 × 10 = 1500.00,
    sent as chrgitm_lv 01 but 丙类 (03) in the catalogue → 全自费 1500.00.
    Policy range 1200.00 − deductible 900.00 = 300.00 × 0.65 = 195.00 from the basic fund;
    the person pays 2700.00 − 195.00 = 2505.00."""
    reply, store = await settle(
        claim([line("1", BED, "120.00", "10"), line("2", SINGLE_ROOM, "150.00", "10", chrgitm_lv="01")])
    )
    assert isinstance(reply, SettlementResult), reply
    s = reply.setlinfo
    assert (s.medfee_sumamt, s.fulamt_ownpay_amt, s.inscp_scp_amt) == (270_000, 150_000, 120_000)
    assert (s.act_pay_dedc, s.hifp_pay, s.psn_cash_pay) == (90_000, 19_500, 250_500)
    room = reply.items[1]
    assert (room.chrgitm_lv, room.reason, room.fulamt_ownpay_amt) == ("03", "class_c", 150_000)
    assert [(d.field, d.sent, d.catalogue) for d in room.disagreements] == [("chrgitm_lv", "01", "03")]
    facts = await recorded_claim(store)
    assert facts.items[1].disagreements == (Disagreement("chrgitm_lv", "01", "03"),)
    assert any(t.rule == "items.disagreement" for t in facts.trail)


async def test_a_national_22_trauma_stay_at_a_level_1_item_hospital_is_inpatient_without_drg() -> None:
    """med_type 22 外伤住院 at the level-1 hospital (paid item by item in the registry):
    beds 120.00 × 5 = 600.00 (甲类); ceftriaxone 48.50 × 10 = 485.00, cap 45.00 → 超限价
    3.50 × 10 = 35.00, 先行自付 10% of 450.00 = 45.00, policy range 405.00; infusion sets
    6.80 × 10 = 68.00, residents' 先行自付 30% = 20.40, policy range 47.60.
    Policy range 600.00 + 405.00 + 47.60 = 1052.60 − level-1 deductible 300.00 = 752.60 × 0.85 = 639.71."""
    lines = [
        line("1", BED, "120.00", "5"),
        line("2", CEFTRIAXONE, "48.50", "10"),
        line("3", INFUSION_SET, "6.80", "10"),
    ]
    reply, _ = await settle(claim(lines, where=H1, med_type="22", drg_code="ES23"))
    assert isinstance(reply, SettlementResult), reply
    s = reply.setlinfo
    assert (s.medfee_sumamt, s.overlmt_selfpay, s.preselfpay_amt, s.inscp_scp_amt) == (115_300, 3_500, 6_540, 105_260)
    assert (s.act_pay_dedc, s.hifp_pay) == (30_000, 63_971)
    assert reply.med_type == "22" and reply.case_payment is None  # the registry says: item by item
    assert reply.trail[0].text.startswith("med_type 22 (inpatient)")


async def test_refund_lines_net_against_their_original_line_before_the_split() -> None:
    """Level 2: infusion sets 6.80 × 30 = 204.00, refunded −10 → net 20 sets = 136.00:
    先行自付 30% = 40.80, policy range 95.20; beds 120.00 × 5 = 600.00.
    Policy range 695.20 − level-2 deductible 600.00 = 95.20 × 0.75 = 71.40."""
    lines = [
        line("1", INFUSION_SET, "6.80", "30"),
        line("2", INFUSION_SET, "6.80", "-10", init_feedetl_sn="1"),
        line("3", BED, "120.00", "5"),
    ]
    reply, _ = await settle(claim(lines, where=H2))
    assert isinstance(reply, SettlementResult), reply
    assert [(i.feedetl_sn, i.det_item_fee_sumamt, i.refund_sns) for i in reply.items] == [
        ("1", 13_600, ("2",)),
        ("3", 60_000, ()),
    ]
    s = reply.setlinfo
    assert (s.medfee_sumamt, s.preselfpay_amt, s.inscp_scp_amt, s.hifp_pay) == (73_600, 4_080, 69_520, 7_140)


async def test_a_refund_line_without_its_original_is_refused() -> None:
    lines = [line("1", BED, "120.00", "5"), line("2", INFUSION_SET, "6.80", "-10", init_feedetl_sn="9")]
    reply, _ = await settle(claim(lines))
    assert isinstance(reply, Rejection) and reply.code.value == "refund_line_unmatched"
    assert "no original line 9" in reply.message


@pytest.mark.parametrize(
    ("where", "diagnosis", "reason"),
    [
        (H1, "C50.900", ItemReason.RESTRICTED_LEVEL),  # level 1 < 2
        (H2, "K35.800", ItemReason.RESTRICTED_INDICATION),  # no C50 diagnosis
    ],
)
async def test_a_restriction_not_met_makes_the_line_all_self_pay_with_the_reason(
    where: str, diagnosis: str, reason: ItemReason
) -> None:
    diseinfo = [{"diag_code": diagnosis, "maindiag_flag": "1"}]
    reply, _ = await settle(claim([line("1", TRASTUZUMAB, "1385.00", "1")], where=where, diseinfo=diseinfo))
    assert isinstance(reply, SettlementResult), reply
    (drug,) = reply.items
    assert (drug.reason, drug.fulamt_ownpay_amt, drug.inscp_scp_amt) == (reason.value, 138_500, 0)


async def test_the_restricted_drug_is_paid_where_its_conditions_hold() -> None:
    """C50 at level 2: 1385.00, 先行自付 5% = 69.25, policy range 1315.75 (a negotiated drug in a
    stay follows the inpatient rules)."""
    diseinfo = [{"diag_code": "C50.900", "maindiag_flag": "1"}]
    reply, _ = await settle(claim([line("1", TRASTUZUMAB, "1385.00", "1")], where=H2, diseinfo=diseinfo))
    assert isinstance(reply, SettlementResult), reply
    (drug,) = reply.items
    assert (drug.reason, drug.preselfpay_amt, drug.inscp_scp_amt) == (None, 6_925, 131_575)


async def test_a_code_in_no_catalogue_is_all_self_pay_not_in_catalogue() -> None:
    reply, _ = await settle(claim([line("1", BED, "120.00", "1"), line("2", "Z00000000002", "198.00", "1")]))
    assert isinstance(reply, SettlementResult), reply
    assert (reply.items[1].reason, reply.items[1].fulamt_ownpay_amt) == ("not_in_catalogue", 19_800)


# ------------------------------------------------------------------ the registry and the code sets


async def test_an_institution_not_in_the_registry_is_refused() -> None:
    reply, _ = await settle(claim([line("1", BED, "120.00", "1")], where="H64019999999"))
    assert isinstance(reply, Rejection)
    assert (reply.code.value, reply.field) == ("institution_not_designated", "fixmedins_code")


async def test_maternity_is_refused_as_not_settled_here() -> None:
    reply, _ = await settle(claim([line("1", BED, "120.00", "1")], med_type="52"))
    assert isinstance(reply, Rejection) and reply.code.value == "not_settled_here"
    assert "52 (生育住院)" in reply.message


async def test_a_regional_code_the_region_does_not_map_is_refused_naming_it() -> None:
    reply, _ = await settle(claim([line("1", BED, "120.00", "1")], med_type="9901"))
    assert isinstance(reply, Rejection) and reply.code.value == "unmapped_code"
    assert "9901 (not a national med_type code)" in reply.message


async def test_an_enrolment_with_a_psn_type_the_region_does_not_map_is_refused() -> None:
    svc, _ = service()
    reply = await svc.handle(raw(enrolment(insutype="310", psn_type="1300")))
    assert isinstance(reply, Rejection) and reply.code.value == "unmapped_code"
    assert "1300 (离休)" in reply.message


async def test_psn_insu_date_is_accepted_and_never_read_as_the_enrolment_date() -> None:
    """First insured in 2012 (psn_insu_date), paid in the 2024 collection period (enrol_date):
    covered from 1 January, no waiting period (docs/national-interface.md §9)."""
    svc, _ = service()
    reply = await svc.handle(raw(enrolment(psn_insu_date="2012-01-01 00:00:00")))
    assert isinstance(reply, EnrolmentAccepted) and reply.coverage_from == "2025-01-01"


# ------------------------------------------------------------------ the wire: national types, tolerance, v1


async def test_national_types_are_read_as_hospital_systems_send_them() -> None:
    """An integer feedetl_sn, a 6-decimal price as text, a 4-decimal count, flags "0"/"1", empty
    strings for the terms hsa-his leaves empty, national times: 0.426700 × 30.0000 = 12.80."""
    metformin = {
        "feedetl_sn": 7,
        "med_list_codg": "XA10BAA002A001010",
        "pric": "0.426700",
        "cnt": 30.0,
        "det_item_fee_sumamt": "12.80",
        "chrgitm_lv": "",
        "hi_nego_drug_flag": "0",
    }
    message = claim([metformin], where="H64010100003", med_type="11", acct_used_flag="0")
    reply, _ = await settle(message)
    assert isinstance(reply, SettlementResult), reply
    assert (reply.items[0].feedetl_sn, reply.setlinfo.medfee_sumamt) == ("7", 1_280)


async def test_unknown_national_fields_are_kept_with_the_visit_facts() -> None:
    lines = [line("1", BED, "120.00", "1", **{"rxno ": "RX1", "bilg_dr_codg": "D9"})]
    reply, store = await settle(claim(lines, ipt_otp_no="ZY001", insuplc_admdvs="640104", mdtrtarea_admvs="640104"))
    assert isinstance(reply, SettlementResult), reply
    visit = (await recorded_claim(store)).visit
    assert visit.extra == {"ipt_otp_no": "ZY001", "insuplc_admdvs": "640104"}
    assert visit.mdtrtarea_admvs == "640104"  # 就医地 is used (异地就医), so recorded as a fact of its own
    assert visit.items[0].extra == {"rxno ": "RX1", "bilg_dr_codg": "D9"}


async def test_unknown_fields_beyond_the_bound_are_refused_with_a_sentence() -> None:
    reply, _ = await settle(claim([line("1", BED, "120.00", "1")], huge="x" * 20_000))
    assert isinstance(reply, Rejection) and reply.code.value == "invalid_message"
    assert "fields this service does not use hold" in reply.message


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ({"msg_type": "claim", "schema_version": "claims.v1", "request_id": "OLD-1"}, "is claims.v1"),
        ({"msg_type": "claim", "request_id": "OLD-2"}, "has no schema_version"),
        ({"msg_type": "enrolment", "schema_version": "enrolments.v1", "request_id": "OLD-3"}, "is enrolments.v1"),
    ],
)
async def test_a_v1_message_is_refused_naming_the_migration(message: dict[str, Any], said: str) -> None:
    svc, _ = service()
    reply = await svc.handle(raw(message))
    assert isinstance(reply, Rejection) and reply.code.value == "unsupported_schema_version"
    assert said in reply.message and "docs/integrating.md#migrating-from-v1" in reply.message
