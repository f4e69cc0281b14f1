"""The gateway's first steps over the in-memory ledger: sign-in, person, registration, visit
information, admission, discharge — with the fixtures' own request bytes."""

from __future__ import annotations

import json

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.verify import verify_ledger
from national import FixtureIds, parsed, read_problems, requests, sample_gateway, steps
from settlement.gateway.context import Access

from engine.records import visit_event_from_record
from engine.visit_events import VisitDischarged, VisitInfoRecorded, VisitRegistered, visit_stream_id

ANYONE = Access.anyone()
BINZHE, HSA, STAY = "outpatient_binzhe_shenzhen", "outpatient_hsa_his", "inpatient_hsa_his"


async def _visit_events(store: MemoryLedger, mdtrt_id: str) -> list[object]:
    return [visit_event_from_record(e.event_type, e.data) for e in await store.read_stream(visit_stream_id(mdtrt_id))]


async def test_binzhe_registration_gets_the_platform_visit_id_and_is_a_fact_in_the_visit_stream() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(BINZHE))
    reply = await gateway.handle(requests(BINZHE)["a3"], access=ANYONE)
    body = parsed(reply)
    assert body["infcode"] == "0", body["err_msg"]
    assert body["output"]["data"] == {
        "mdtrt_id": "44030025031400012345",
        "psn_no": "44000000000000009900000001",
        "ipt_otp_no": "H4403050012320250314093005771",
    }
    (registered,) = await _visit_events(store, "44030025031400012345")
    assert isinstance(registered, VisitRegistered)
    assert (registered.setting, registered.fixmedins_code, registered.source.infno) == (
        "outpatient",
        "H44030500123",
        "2201",
    )
    stored = await store.find_request("fsi:H44030500123:H4403050012320250314093012401")
    assert stored is not None and stored.result["national_answer"].startswith('{"infcode":"0"')


async def test_hsa_his_thin_envelope_with_input_as_a_json_string_registers_under_medins_code() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(HSA))
    body = parsed(await gateway.handle(requests(HSA)["b3"], access=ANYONE))
    assert body["infcode"] == "0", body["err_msg"]
    assert body["output"]["data"]["mdtrt_id"] == "430100250318000321"
    assert read_problems(steps(HSA)[2], body) == []


async def test_the_production_issuer_gives_a_twenty_character_region_day_id() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    body = parsed(await gateway.handle(requests(BINZHE)["a3"], access=ANYONE))
    mdtrt_id = body["output"]["data"]["mdtrt_id"]
    assert len(mdtrt_id) == 20 and mdtrt_id.startswith("440300250314") and mdtrt_id.isdigit()


async def test_a_retried_msgid_gets_the_stored_answer_byte_for_byte_and_nothing_new_is_recorded() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    first = await gateway.handle(requests(BINZHE)["a3"], access=ANYONE)
    positions = len(await store.read_all(0, 1000))
    again = await gateway.handle(requests(BINZHE)["a3"], access=ANYONE)
    assert again.body() == first.body()
    assert len(await store.read_all(0, 1000)) == positions


async def test_the_same_msgid_with_another_message_is_refused_and_not_recorded() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    await gateway.handle(requests(BINZHE)["a3"], access=ANYONE)
    other = json.loads(requests(BINZHE)["a3"])
    other["input"]["data"]["ipt_otp_no"] = "ANOTHER"
    reply = await gateway.handle(json.dumps(other).encode(), access=ANYONE)
    assert (reply.answer["infcode"], reply.recorded) == ("-1", False)
    assert "already used for another message" in reply.answer["err_msg"]


async def test_a_hospital_may_act_only_for_its_own_institution_codes() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    reply = await gateway.handle(requests(BINZHE)["a3"], access=Access.only(frozenset({"H43010200456"})))
    assert reply.answer["infcode"] == "-1"
    assert reply.answer["err_msg"] == (
        "not_authorised: this token may act only for the institution codes it names, not for H44030500123"
    )


async def test_an_unknown_transaction_is_refused_naming_those_served() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    reply = await gateway.handle(requests(BINZHE)["a3"], access=ANYONE, infno=None)
    assert reply.answer["infcode"] == "0"
    wrong = await gateway.handle(requests(BINZHE)["a1"], access=ANYONE, infno="1301")
    assert wrong.answer["err_msg"] == "the URL names transaction 1301 but the body's infno is 9001"
    body = json.loads(requests(BINZHE)["a1"])
    body["infno"] = "5205"
    unknown = await gateway.handle(json.dumps(body).encode(), access=ANYONE)
    assert unknown.answer["err_msg"].startswith("transaction 5205 is not served here; supported: 1101,")


async def test_registration_of_a_person_with_no_enrolment_this_year_is_refused() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    body = json.loads(requests(BINZHE)["a3"])
    body["input"]["data"]["begntime"] = "2026-01-05 09:30:05"  # the sample enrolments are for 2025
    reply = await gateway.handle(json.dumps(body, ensure_ascii=False).encode(), access=ANYONE)
    assert reply.answer["err_msg"] == (
        "person 44000000000000009900000001 has no enrolment for 2026: the enrolment system must send it"
    )
    assert reply.recorded  # a refusal is an answer on record, like a claims.v1 rejection


async def test_1101_answers_from_the_register_with_this_years_cover_and_account_from_the_ledger() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    reply = await gateway.handle(requests(BINZHE)["a2"], access=ANYONE)
    body = parsed(reply)
    assert not reply.recorded
    assert body["output"]["baseinfo"]["psn_no"] == "44000000000000009900000001"
    assert body["output"]["baseinfo"]["age"] == "75.2"  # 1949-12-31 to 2025-03-14: 75.2 years, cut
    (cover,) = body["output"]["insuinfo"]
    # balc: the enrolment's opening balance 1000.00, nothing spent yet; 正常参保 because 2025 is enrolled;
    # psn_insu_date echoed from the register (first insured 1992), never an enrolment date.
    assert (cover["balc"], cover["psn_insu_stas"], cover["psn_insu_date"]) == ("1000.00", "1", "1992-07-01")
    assert read_problems(steps(BINZHE)[1], body) == []


@pytest.mark.parametrize(("name", "step"), [(BINZHE, "a1"), (BINZHE, "a2"), (HSA, "b1"), (HSA, "b2"), (STAY, "c1")])
async def test_sign_in_and_person_answers_have_what_each_codebase_reads(name: str, step: str) -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    body = parsed(await gateway.handle(requests(name)[step], access=ANYONE))
    assert body["infcode"] == "0", body["err_msg"]
    assert read_problems(next(s for s in steps(name) if s["id"] == step), body) == []


async def test_an_unknown_certificate_and_a_wrong_name_are_refused_without_echoing_the_name() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    body = json.loads(requests(BINZHE)["a2"])
    body["input"]["data"]["psn_name"] = "李四"
    reply = await gateway.handle(json.dumps(body, ensure_ascii=False).encode(), access=ANYONE)
    assert reply.answer["err_msg"] == "the name given does not match the register for this certificate"
    body["input"]["data"]["mdtrt_cert_no"] = "110105194912310000"
    reply = await gateway.handle(json.dumps(body, ensure_ascii=False).encode(), access=ANYONE)
    assert reply.answer["err_msg"] == "no insured person holds this certificate"


async def test_visit_information_admission_and_discharge_are_facts_of_the_visit() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(HSA, STAY))
    for name, step in ((HSA, "b3"), (HSA, "b4"), (STAY, "c2"), (STAY, "c5")):
        body = parsed(await gateway.handle(requests(name)[step], access=ANYONE))
        assert body["infcode"] == "0", (step, body["err_msg"])
        assert read_problems(next(s for s in steps(name) if s["id"] == step), body) == []
    outpatient = await _visit_events(store, "430100250318000321")
    assert isinstance(outpatient[1], VisitInfoRecorded)
    assert (outpatient[1].med_type, outpatient[1].diagnoses[0].diag_code) == ("11", "J06.900")
    stay = await _visit_events(store, "430100250310000987")
    assert isinstance(stay[0], VisitRegistered) and stay[0].setting == "inpatient"
    assert isinstance(stay[1], VisitDischarged) and stay[1].endtime.isoformat() == "2025-03-15T09:00:00"


async def test_a_cancelled_registration_takes_no_further_step() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(BINZHE))
    await gateway.handle(requests(BINZHE)["a3"], access=ANYONE)
    cancel = {
        **json.loads(requests(BINZHE)["a3"]),
        "infno": "2202",
        "msgid": "H44030500123202503140931000001",
        "input": {"data": {"psn_no": "44000000000000009900000001", "mdtrt_id": "44030025031400012345"}},
    }
    assert (await gateway.handle(json.dumps(cancel).encode(), access=ANYONE)).answer["infcode"] == "0"
    info = await gateway.handle(requests(BINZHE)["a4"], access=ANYONE)
    assert info.answer["err_msg"] == "visit 44030025031400012345 was cancelled: its registration was withdrawn"


async def test_ledger_verify_folds_visit_streams_and_finds_the_ledger_intact() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(HSA, STAY))
    for name, step in ((HSA, "b3"), (HSA, "b4"), (STAY, "c2"), (STAY, "c5")):
        await gateway.handle(requests(name)[step], access=ANYONE)
    report = await verify_ledger(store)
    assert report.ok, report.problems()
    assert report.streams == 3 + 2  # three people's 2025 years, two visits
