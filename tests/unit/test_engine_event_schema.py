"""Each event type has an explicit, versioned record form: written at its current version,
read from any older version through the upcasters, and refused — with UnreadableEvent naming
the type, the version and why — when it cannot be read (docs/adr/0004-event-schema.md)."""

from __future__ import annotations

import copy
import json

import pytest
from ledger_v1 import fixture_events

from contracts.codes import FundPayType
from contracts.money import parse_yuan
from engine.errors import UnreadableEvent
from engine.events import ClaimSettled, PersonEnrolled, SettlementReversed
from engine.records import CURRENT_VERSIONS, VERSION_KEY, from_record, to_record, upcast


def first_v1(event_type: str) -> dict:
    return copy.deepcopy(next(e["data"] for e in fixture_events() if e["event_type"] == event_type))


def test_every_type_is_written_at_its_current_version_and_reads_back_equal() -> None:
    for record in fixture_events():
        event = from_record(record["event_type"], record["data"])
        event_type, data = to_record(event)
        assert (event_type, data[VERSION_KEY]) == (record["event_type"], CURRENT_VERSIONS[event_type])
        assert from_record(event_type, json.loads(json.dumps(data, ensure_ascii=False))) == event


def test_a_version_1_settlement_is_upcast_to_facts_in_fen() -> None:
    v1 = first_v1("ClaimSettled")
    assert VERSION_KEY not in v1
    facts = from_record("ClaimSettled", v1)
    assert isinstance(facts, ClaimSettled)
    info, detail = v1["result"]["setlinfo"], v1["result"]["setldetail"]
    # every amount is the v1 answer's yuan text, as fen
    assert facts.amounts.medfee_sumamt == parse_yuan(info["medfee_sumamt"])
    assert facts.amounts.psn_cash_pay == parse_yuan(info["psn_cash_pay"])
    assert [(f.fund_pay_type.value, f.fund_payamt) for f in facts.funds] == [
        (row["fund_pay_type"], parse_yuan(row["fund_payamt"])) for row in detail
    ]
    # the visit is the v1 claim without the message around it (no request id, no names)
    assert facts.visit.mdtrt_id == v1["claim"]["mdtrt_id"] == v1["mdtrt_id"]
    assert facts.visit.items[0].det_item_fee_sumamt == parse_yuan(v1["claim"]["items"][0]["det_item_fee_sumamt"])
    assert facts.request_id == v1["claim"]["request_id"]
    assert (facts.policy.policy_id, facts.policy.content_hash) == (
        v1["result"]["policy"]["policy_id"],
        v1["result"]["policy"]["content_hash"],
    )


def test_a_version_1_enrolment_is_upcast_to_enrolment_facts_without_the_persons_name() -> None:
    v1 = first_v1("PersonEnrolled")
    assert v1["enrolment"]["psn_name"]
    facts = from_record("PersonEnrolled", v1)
    assert isinstance(facts, PersonEnrolled)
    assert facts.enrolment.acct_opening_balance == parse_yuan(v1["enrolment"]["acct_opening_balance"])
    assert "psn_name" not in upcast("PersonEnrolled", v1)["enrolment"]


def test_a_version_1_reversal_is_upcast_with_its_negated_amounts_per_fund() -> None:
    v1 = first_v1("SettlementReversed")
    facts = from_record("SettlementReversed", v1)
    assert isinstance(facts, SettlementReversed)
    assert dict(facts.funds) == {FundPayType(k): v for k, v in v1["funds"].items()}
    assert facts.amounts.fund_pay_sumamt == parse_yuan(v1["result"]["setlinfo"]["fund_pay_sumamt"]) < 0


def test_an_upcast_does_not_change_the_stored_data() -> None:
    v1 = first_v1("ClaimSettled")
    before = json.dumps(v1, sort_keys=True)
    from_record("ClaimSettled", v1)
    assert json.dumps(v1, sort_keys=True) == before


def test_an_unknown_event_type_is_unreadable() -> None:
    with pytest.raises(UnreadableEvent, match="unknown event type") as caught:
        from_record("AccountDrained", {"amount": 1})
    assert (caught.value.event_type, caught.value.version) == ("AccountDrained", 1)


def test_a_version_newer_than_the_code_is_unreadable() -> None:
    _, data = to_record(from_record("AccountCredited", first_v1("AccountCredited")))
    with pytest.raises(UnreadableEvent, match="newer than this code") as caught:
        from_record("AccountCredited", {**data, VERSION_KEY: 99})
    assert caught.value.version == 99


@pytest.mark.parametrize("version", ["2", 0, True, None])
def test_a_schema_version_that_is_not_a_positive_integer_is_unreadable(version: object) -> None:
    _, data = to_record(from_record("AccountCredited", first_v1("AccountCredited")))
    with pytest.raises(UnreadableEvent, match="positive integer"):
        from_record("AccountCredited", {**data, VERSION_KEY: version})


def test_a_current_body_with_a_missing_or_an_unknown_field_is_unreadable() -> None:
    _, data = to_record(from_record("ClaimSettled", first_v1("ClaimSettled")))
    with pytest.raises(UnreadableEvent, match="does not fit its schema"):
        from_record("ClaimSettled", {k: v for k, v in data.items() if k != "amounts"})
    with pytest.raises(UnreadableEvent, match="does not fit its schema"):
        from_record("ClaimSettled", {**data, "bonus": 1})
    with pytest.raises(UnreadableEvent, match="does not fit its schema"):
        from_record("ClaimSettled", {**data, "amounts": {**data["amounts"], "hifp_pay": "12.00"}})


def test_a_version_1_body_that_lacks_what_version_1_always_had_is_unreadable() -> None:
    v1 = first_v1("ClaimSettled")
    del v1["result"]
    with pytest.raises(UnreadableEvent, match="ClaimSettled version 1") as caught:
        from_record("ClaimSettled", v1)
    assert caught.value.reason.startswith("does not fit its schema")
