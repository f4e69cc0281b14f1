"""ClaimSettled version 4 (issue 13, docs/adr/0004-event-schema.md "Later versions"): ``case``,
the inpatient case as the fund valued it, replaces ``case_payment``. A version-3 event is upcast
on read with no case facts; a version-4 event reads back exactly as written."""

from __future__ import annotations

import copy

from casemix_sample import install, place
from engine_builders import Book, claim, enrolment, item, resident_policy
from ledger_v1 import fixture_events

from engine.events import ClaimSettled
from engine.records import from_record, to_record, upcast
from engine.upcasters import claim_settled_v1_to_v2, claim_settled_v2_to_v3


def a_version_3_settlement() -> dict:
    """The v1 fixture's first inpatient settlement, at version 3 as that code read it (it had a
    case_payment valued by the hospital's DRG weight)."""
    events = [e["data"] for e in fixture_events() if e["event_type"] == "ClaimSettled"]
    v1 = copy.deepcopy(next(d for d in events if d["result"].get("case_payment")))
    return claim_settled_v2_to_v3(claim_settled_v1_to_v2(v1))


def test_a_version_3_settlement_reads_with_no_case_facts() -> None:
    v3 = a_version_3_settlement()
    assert v3["case_payment"] is not None  # what version 3 recorded (the hospital's word)
    data = upcast("ClaimSettled", v3)
    # through v4 (no case facts), then v5 (issue 12: local care, its own catalogue)
    assert data["schema_version"] == 5 and data["case"] is None and "case_payment" not in data
    facts = from_record("ClaimSettled", v3)
    assert isinstance(facts, ClaimSettled) and facts.case is None


def test_a_version_4_settlement_with_case_facts_reads_back_as_written() -> None:
    install()
    book = Book(resident_policy())
    book.enrol(enrolment("R1"))
    c = claim(
        "R1", [item("1", 10000)], mdtrt_id="V1", level="2", fixmedins_code="H64010100002",
        diagnoses=[{"diag_code": "K35.800", "maindiag_flag": True}],
        oprninfo=[{"oprn_oprt_code": "47.0100", "oprn_oprt_type": "1"}],
    )  # fmt: skip
    place("H64010100002", "V1")
    facts = book.settle(c).facts
    assert facts.case is not None and facts.case.group_code == "K35.8-47.01"
    name, data = to_record(facts)
    assert (name, data["schema_version"]) == ("ClaimSettled", 5)  # v4's case facts, written by v5 code
    assert from_record(name, data) == facts
