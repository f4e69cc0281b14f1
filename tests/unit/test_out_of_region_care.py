"""Issue 12, item 12, wired: 异地就医 priced from the claim's place of care and the enrolment's
filings (docs/domain.md#out-of-region).

The claim says where the care took place (claims.v2 ``mdtrtarea_admvs``, the national envelope's
就医地, docs/national-interface.md §3); the insured region's policy prices it (参保地政策: the
policy in force for the enrolment's insuplc_admdvs); the treating region's payer data says what
the institution is and how each line is classed (就医地目录、就医地管理); the person's filing (备案)
is the insured region's agency's record, sent with the enrolment (enrolments.v2
``out_of_region_filings``): the national interface carries none on a claim.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_builders import BEGIN, CODES, enrolment, facts_of, fen, resident_policy, resident_policy_dict
from ledger.adapters.memory import MemoryLedger
from pydantic import ValidationError
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.visits import visit_of

from contracts.claims import Claim
from contracts.codes import ChargeLevel, RejectionCode
from contracts.enrolments import OutOfRegionFiling
from contracts.results import EnrolmentAccepted, Rejection, SettlementResult
from engine.dated import DatedIndex
from engine.enrol import record_enrolment
from engine.events import ClaimSettled
from engine.out_of_region import treating_policy
from engine.payer_catalogue import Catalogue, HilistEntry
from engine.payer_data import PayerData
from engine.payer_files import OPEN_END
from engine.payer_registry import Institution, InstitutionType, PaymentMethod, Registry
from engine.person import PersonYear, apply, replay
from engine.policy import Policy
from engine.policy_book import PolicyBook
from engine.policy_files import load_policy_book
from engine.records import from_record
from engine.settle import settle_claim
from engine.snapshot import from_json, to_json

ROOT = Path(__file__).resolve().parents[2]
BOOK = load_policy_book(ROOT / "policies")
V3 = ROOT / "tests" / "fixtures" / "ledger-v3"


def _send(service: SettlementService, message: dict[str, Any]) -> Any:
    return asyncio.run(service.handle(json.dumps(message, ensure_ascii=False).encode()))


def _enrol(psn: str, filings: list[dict[str, str]]) -> dict[str, Any]:
    """A Ningxia resident (insured in 兴庆区, 640104) and the filings the agency recorded."""
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}",
        "sent_at": "2024-11-01 09:00:00",
        "psn_no": psn,
        "insutype": "390",
        "psn_type": "1501",
        "insuplc_admdvs": "640104",
        "year": 2025,
        "enrol_date": "2024-11-01",
        "out_of_region_filings": filings,
    }


def _stay_in_urumqi(psn: str, **sent: str) -> dict[str, Any]:
    """A 10,000.00 stay at 乌鲁木齐's SAMPLE level-2 hospital (policies/payer/650000), one CT line
    (class A in the SAMPLE catalogue), sent with the treating region 650104."""
    line = {"feedetl_sn": "1", "med_list_codg": "002202000010000", "pric": "10000", "cnt": "1"}
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": f"V-{psn}",
        "sent_at": "2025-03-10 09:00:00",
        "psn_no": psn,
        "insutype": "390",
        "mdtrt_id": f"MD-{psn}",
        "fixmedins_code": "H65010100002",
        "med_type": "21",
        "begntime": "2025-03-01",
        "endtime": "2025-03-10",
        "mdtrtarea_admvs": "650104",
        "feedetail": [line | {"det_item_fee_sumamt": "10000.00"}],
        **sent,
    }


def _priced_stay(filings: list[dict[str, str]], **sent: str) -> tuple[Any, MemoryLedger]:
    store = MemoryLedger()
    service = SettlementService(store, BOOK, clock=lambda: datetime(2025, 3, 10, tzinfo=UTC))
    assert isinstance(_send(service, _enrol("R1", filings)), EnrolmentAccepted)
    return _send(service, _stay_in_urumqi("R1", **sent)), store


TEMPORARY = {"filing_type": "temporary", "mdtrtarea_admvs": "650000", "begndate": "2025-01-01"}


@pytest.mark.parametrize(
    ("filings", "hifp"),
    [
        # 临时外出就医 filed for 新疆: the file's 75% − 10 points ([out_of_region] ratio_reduction_temporary)
        # (10,000 − 600 level-2 first-stay deductible) × 0.65 = 9,400 × 0.65 = 6,110.00
        ([TEMPORARY], "6110.00"),
        # 未备案: 75% − 20 points (ratio_reduction_unfiled): 9,400 × 0.55 = 5,170.00
        ([], "5170.00"),
        # 异地长期居住 filed for the city (650100 holds 650104): the local 75%: 9,400 × 0.75 = 7,050.00
        ([{"filing_type": "resident", "mdtrtarea_admvs": "650100", "begndate": "2024-06-01"}], "7050.00"),
        # a temporary filing that ended before the stay is no filing: 5,170.00
        ([TEMPORARY | {"enddate": "2025-02-28"}], "5170.00"),
    ],
)
def test_a_ningxia_stay_in_urumqi_is_priced_by_ningxias_file_and_the_persons_filing(
    filings: list[dict[str, str]], hifp: str
) -> None:
    """Ningxia residents' file (640000-390-2025): level-2 stays 600 first deductible, 75%; care
    outside the pool loses 10 points with a temporary filing, 20 without one (its ASSUMPTIONs)."""
    answer, _ = _priced_stay(filings)
    assert isinstance(answer, SettlementResult), answer
    assert answer.setlinfo.hifp_pay == fen(hifp)
    assert answer.policy.policy_id == "ningxia-resident-2025"  # 参保地政策


def test_the_treating_regions_registry_and_catalogue_price_the_stay_and_are_recorded() -> None:
    """H65010100002 is in Xinjiang's registry only: the stay is priced with Xinjiang's payer data,
    the settlement records which policy's data that was and says so in its trail."""
    answer, store = _priced_stay([TEMPORARY])
    assert isinstance(answer, SettlementResult)
    recorded = [e for e in asyncio.run(store.read_all(0, 100)) if e.event_type == "ClaimSettled"]
    facts = from_record(recorded[0].event_type, recorded[0].data)
    assert isinstance(facts, ClaimSettled)
    assert facts.visit.mdtrtarea_admvs == "650104"
    assert facts.payer_policy is not None and facts.payer_policy.policy_id == "xinjiang-resident-2025"
    assert any(t.rule == "out_of_region" and "payer/650000" in t.text for t in answer.trail)
    assert any("temporary stay away" in t.text and "ratios − 0.10" in t.text for t in answer.trail)


def test_the_same_stay_sent_without_a_treating_region_is_local_and_meets_ningxias_registry() -> None:
    """Without mdtrtarea_admvs the visit is local: Ningxia's registry does not hold the Urumqi
    hospital, so the claim is refused by name rather than priced with the wrong region's data."""
    answer, _ = _priced_stay([TEMPORARY], mdtrtarea_admvs="")
    assert isinstance(answer, Rejection) and answer.code is RejectionCode.INSTITUTION_NOT_DESIGNATED


def test_care_in_another_county_of_the_insured_pool_is_local_with_the_pools_own_data() -> None:
    """Ningxia's pool is the autonomous region (640000): a stay sent from 640121 is local, priced
    with Ningxia's own payer data, no points off: (10,000 − 600) × 0.75 = 7,050.00."""
    store = MemoryLedger()
    service = SettlementService(store, BOOK, clock=lambda: datetime(2025, 3, 10, tzinfo=UTC))
    _send(service, _enrol("R2", []))
    here = _stay_in_urumqi("R2", fixmedins_code="H64010100002", mdtrtarea_admvs="640121")
    answer = _send(service, here)
    assert isinstance(answer, SettlementResult) and answer.setlinfo.hifp_pay == fen("7050.00")
    assert not any(t.rule == "out_of_region" for t in answer.trail)


# --------------------------------------------------------------------------- the treating catalogue


def _payer(level: ChargeLevel, place: str, admdvs: str) -> PayerData:
    """A one-item catalogue (X-1 of the given class) and a one-hospital registry (level 2)."""
    entry = HilistEntry("X-1", "X-1", "201", "05", level, False, False, BEGIN, OPEN_END)
    hospital = Institution(
        place, place, InstitutionType.MEDICAL, 2, False, admdvs, False, False, PaymentMethod.ITEM, BEGIN, OPEN_END
    )
    catalogue = Catalogue(
        items=DatedIndex.of([entry], lambda r: r.hilist_code, "item"),
        selfpay=DatedIndex.of([], lambda r: r.hilist_code, "selfpay"),
        caps=DatedIndex.of([], lambda r: r.hilist_code, "cap"),
    )
    registry = Registry(
        institutions=DatedIndex.of([hospital], lambda r: r.fixmedins_code, "institution"),
        physicians=DatedIndex.of([], lambda r: r.dr_code, "physician"),
    )
    return PayerData(catalogue, registry, digest=f"test-{place}", folder=f"payer/{admdvs[:2]}0000")


def _treating_region_policy() -> Policy:
    data = resident_policy_dict()
    data["policy"].update(id="treating-resident-2025", region="650000")
    data["payer_data"] = {"dir": "payer/650000"}
    return Policy.model_validate(data)


def test_the_treating_regions_catalogue_decides_an_items_class_the_insured_regions_ratios_the_rest() -> None:
    """X-1 is 丙类 (class C) in the insured region's catalogue and 甲类 (class A) in the treating
    region's: a stay in the treating region is paid as class A, at the insured region's level-2
    75% less 20 points (no filing): (10,000 − 600) × 0.55 = 5,170.00; the same stay at home is
    all self-pay (class C)."""
    insured = resident_policy(payer_data={"dir": "payer/640000"})
    book = PolicyBook.of(
        [insured, _treating_region_policy()],
        payer=[_payer(ChargeLevel.CLASS_C, "H-NX", "640104"), _payer(ChargeLevel.CLASS_A, "H-XJ", "650104")],
        codes=CODES,
    )
    home, away = book.policies
    e = enrolment("P1", insuplc_admdvs="640104")
    person = PersonYear(psn_no="P1", year=2025)
    person = apply(person, record_enrolment(facts_of(e, insured), insured, person))

    def stay(where: str, place: str) -> Claim:
        line = {"feedetl_sn": "1", "med_list_codg": "X-1", "pric": "10000", "cnt": "1", "det_item_fee_sumamt": "10000"}
        return Claim.model_validate(
            {
                "schema_version": "claims.v2",
                "request_id": f"R-{where}",
                "sent_at": "2025-03-10 09:00:00",
                "psn_no": "P1",
                "insutype": "390",
                "mdtrt_id": f"M-{where}",
                "fixmedins_code": place,
                "med_type": "21",
                "begntime": "2025-03-01",
                "endtime": "2025-03-10",
                "mdtrtarea_admvs": where,
                "feedetail": [line],
            }
        )

    def hifp(c: Claim) -> int:
        visit = visit_of(c)
        treating = treating_policy(book, home, visit)
        done = settle_claim(
            visit, person, home, payer=None, setl_id="S", request_key="K", request_id="R", treating=treating
        )
        return done.facts.amounts.hifp_pay

    assert treating_policy(book, home, visit_of(stay("650104", "H-XJ"))) == away
    assert hifp(stay("650104", "H-XJ")) == fen("5170.00")
    assert hifp(stay("640104", "H-NX")) == 0  # class C at home: 全自费


# --------------------------------------------------------------------------- the contract


def test_a_treating_region_is_six_digits_and_a_filing_ends_after_it_begins() -> None:
    with pytest.raises(ValidationError, match="mdtrtarea_admvs"):
        Claim.model_validate({**_stay_in_urumqi("R1"), "mdtrtarea_admvs": "6501"})
    with pytest.raises(ValidationError, match="enddate is before begndate"):
        OutOfRegionFiling.model_validate(TEMPORARY | {"enddate": "2024-12-31"})


# --------------------------------------------------------------------------- what version-3 code wrote


def _v3_events() -> list[dict[str, Any]]:
    """The person-year events of the fixture (its visit streams fold elsewhere: test_ledger_v3_fixture)."""
    lines = (V3 / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [record for record in map(json.loads, lines) if not record["stream_id"].startswith("visit/")]


def test_a_ledger_written_before_the_place_of_care_folds_to_the_totals_that_code_computed() -> None:
    """tests/fixtures/ledger-v3 (main at 0f49086): ClaimSettled v3 (through v4) and PersonEnrolled v2 upcast to
    local care, no payer policy, no filings; every stream folds to the figures that code kept."""
    by_stream: dict[str, list[Any]] = {}
    for record in _v3_events():
        event = from_record(record["event_type"], record["data"])
        if isinstance(event, ClaimSettled):
            assert (event.visit.mdtrtarea_admvs, event.payer_policy) == (None, None)
        by_stream.setdefault(record["stream_id"], []).append(event)
    expected = json.loads((V3 / "totals.json").read_text(encoding="utf-8"))
    assert sorted(by_stream) == sorted(expected)
    for stream, events in by_stream.items():
        psn_no, year = stream.rsplit("/", 1)
        state = replay(psn_no, int(year), events)
        assert state.totals.figures() == expected[stream]["totals"], stream
        assert state.enrolment is None or state.enrolment.out_of_region_filings == ()


def test_a_projection_stored_by_version_3_code_upcasts_to_the_json_a_rebuild_writes() -> None:
    stored = json.loads((V3 / "projections.json").read_text(encoding="utf-8"))
    by_stream: dict[str, list[Any]] = {}
    for record in _v3_events():
        by_stream.setdefault(record["stream_id"], []).append(from_record(record["event_type"], record["data"]))
    for stream, projection in stored.items():
        assert projection["schema_version"] == 2
        psn_no, year = stream.rsplit("/", 1)
        rebuilt = to_json(replay(psn_no, int(year), by_stream[stream]))
        assert to_json(from_json(projection)) == rebuilt, stream
        assert rebuilt["schema_version"] == 4
