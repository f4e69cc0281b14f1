"""A ledger written by the last code of ClaimSettled version 3 (tests/fixtures/ledger-v3/, made by
main at 0f49086) replays through today's code to the very totals and clearing figures that code
computed, its visit streams fold to what that code folded, every stored hash stays valid, and an
old ClaimSettled reads as version 4 with no case facts: events are upcast when read, never
rewritten. Today's gateway then reverses a stay that code settled."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ledger.adapters.memory import MemoryLedger
from ledger.audit import chain_breaks
from ledger.clearing.log import EntryFold
from ledger.domain import fold
from ledger.period_totals import ClearingFold
from ledger.verify import verify_ledger
from ledger_v1 import clearing_figures, totals_figures
from ledger_v3 import (
    POLICIES_THEN,
    ROOT_POLICIES,
    as_recorded,
    by_stream,
    fixture_events,
    fixture_json,
    fixture_lines,
    national_step,
    restore_into_memory,
    visit_summary,
)
from national import parsed
from settlement.gateway.context import Access, Deps
from settlement.gateway.people import PersonDirectory
from settlement.gateway.service import NationalGateway
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.render import reversal_answer, settlement_answer

from contracts.wire import encode_json
from engine.events import ClaimSettled, SettlementReversed
from engine.policy_files import load_policy_book
from engine.records import CURRENT_VERSIONS, from_record, visit_event_from_record
from engine.visit_stream import replay_visit

BOOK = load_policy_book(ROOT_POLICIES)
BOOK_THEN = load_policy_book(POLICIES_THEN)
# Every event type main at 0f49086 knew, at the version it wrote (engine/records.py there).
WRITTEN = {
    ("PersonEnrolled", 2), ("AccountCredited", 2), ("ClaimSettled", 3), ("FamilyAccountDebited", 2),
    ("SettlementReversed", 2), ("FamilyAccountRefunded", 2), ("VisitRegistered", 1), ("VisitInfoRecorded", 1),
    ("FeesUploaded", 1), ("FeesWithdrawn", 1), ("VisitDischarged", 1), ("VisitSettled", 1),
    ("VisitSettlementReversed", 1), ("VisitCancelled", 1),
}  # fmt: skip


def test_the_fixture_holds_every_event_type_that_code_knew_at_the_version_it_wrote() -> None:
    events = fixture_events()
    assert {(e["event_type"], e["data"]["schema_version"]) for e in events} == WRITTEN
    assert {e["hash_alg"] for e in events} == {2}
    assert CURRENT_VERSIONS["ClaimSettled"] > 3  # the changes this fixture guards (v4 case facts, v5 place of care)


async def test_the_v3_rows_as_an_upgrade_finds_them_keep_their_hashes_and_verify_intact() -> None:
    store = MemoryLedger()
    await restore_into_memory(store)
    recorded = await store.read_all(0, 10_000)
    assert [(e.prev_hash, e.hash, e.hash_alg) for e in recorded] == [
        (e["prev_hash"], e["hash"], e["hash_alg"]) for e in fixture_events()
    ]
    for stream in await store.list_streams():
        assert chain_breaks(stream, await store.read_stream(stream)) == [], stream
    report = await verify_ledger(store)
    assert report.ok, report.problems()


async def test_every_person_year_replays_to_the_totals_v3_code_computed() -> None:
    store = MemoryLedger()
    await restore_into_memory(store)
    expected = fixture_json("totals.json")
    person_years = [s for s in await store.list_streams() if not s.startswith("visit/")]
    assert sorted(person_years) == sorted(expected)
    for stream in person_years:
        assert totals_figures(fold(stream, await store.read_stream(stream)), BOOK_THEN) == expected[stream], stream


def test_every_visit_stream_folds_to_what_v3_code_folded() -> None:
    visits = {s: rows for s, rows in by_stream(fixture_events()).items() if s.startswith("visit/")}
    expected = fixture_json("visits.json")
    assert sorted(visits) == sorted(expected) and len(visits) == 3  # a settled visit, a cancelled one, a stay
    for stream, rows in visits.items():
        state = replay_visit(
            stream.removeprefix("visit/"), [visit_event_from_record(e.event_type, e.data) for e in rows]
        )
        assert visit_summary(state) == expected[stream], stream


def test_the_clearing_fold_of_the_v3_log_gives_the_figures_v3_code_computed() -> None:
    clearing = ClearingFold()
    for record in fixture_events():
        clearing.apply(as_recorded(record), {})
    recorded = fixture_json("clearing.json")
    assert clearing_figures(clearing) == {"institution": recorded["institution"], "fund": recorded["fund"]}


def test_todays_clearing_entries_of_the_v3_log_add_up_to_the_figures_v3_code_computed() -> None:
    """The casemix follower's fold (ledger.clearing.log) over the same rows: per institution and
    China month, its settlements, reversals and amounts are the old ClearingFold's."""
    entries = EntryFold()
    for record in fixture_events():
        entries.apply(as_recorded(record))
    months: dict[str, Counter[str]] = {}
    for e in entries.entries:
        row = months.setdefault(f"{e.fixmedins_code} {e.day:%Y-%m}", Counter())
        row["reversals" if e.reversal else "settlements"] += 1
        row.update({"medfee_sumamt": e.medfee, "fund_pay_sumamt": e.fund_pay_sumamt, "acct_pay": e.acct_pay})
    old = fixture_json("clearing.json")["institution"]
    names = ("settlements", "reversals", "medfee_sumamt", "fund_pay_sumamt", "acct_pay")
    assert {k: {n: row[n] for n in names} for k, row in months.items()} == {
        k: {n: row.get(n, 0) for n in names} for k, row in old.items()
    }


def test_a_v3_claim_settled_reads_as_version_4_with_no_case_facts_and_its_data_unchanged() -> None:
    """v3 valued a DRG/DIP case with the hospital's own group code (only the weight or score was
    the catalogue's); v4's case is the fund's own grouping, so an old settlement has none
    (engine.upcasters, ADR 0004). The stored case_payment stays for whoever reads the raw event."""
    valued = fixture_json("clearing.json")["case_payment"]
    methods = Counter(v["method"] for v in valued.values() if v)
    assert methods == {"drg": 2, "dip": 1}  # the old valuation is really there to be dropped
    for record in fixture_events():
        if record["event_type"] != "ClaimSettled":
            continue
        before = json.dumps(record["data"], sort_keys=True)
        facts = from_record("ClaimSettled", record["data"])
        assert isinstance(facts, ClaimSettled) and facts.case is None, facts.setl_id
        assert record["data"]["schema_version"] == 3 and json.dumps(record["data"], sort_keys=True) == before
        assert record["data"]["case_payment"] == valued[facts.setl_id]


def _instant(answer: dict[str, Any]) -> dict[str, Any]:
    """occurred_at as an instant (the store keeps the time, not the sender's offset), and without
    case_payment: v3 rendered the hospital-grouped case, v4 events have none to render."""
    at = datetime.fromisoformat(answer["occurred_at"]).astimezone(UTC).isoformat()
    return {k: v for k, v in {**answer, "occurred_at": at}.items() if k != "case_payment"}


def test_answers_rendered_from_upcast_v3_events_are_the_answers_v3_code_sent() -> None:
    sent = fixture_lines("answers.jsonl")
    by_setl_id = {a["setl_id"]: a for a in sent if a["msg_type"] in ("settlement", "reversal_result")}
    rendered: Counter[str] = Counter()
    for record in map(as_recorded, fixture_events()):
        if record.stream_id.startswith("visit/"):
            continue
        facts = from_record(record.event_type, record.data)
        setl_id = getattr(facts, "setl_id", None)
        if setl_id not in by_setl_id:  # the gateway's settlements answered in the national layout
            continue
        if isinstance(facts, ClaimSettled):
            answer = settlement_answer(
                facts, event_id=record.event_id, occurred_at=record.occurred_at, setl_mode="settle"
            )
        elif isinstance(facts, SettlementReversed):
            answer = reversal_answer(facts, event_id=record.event_id, occurred_at=record.occurred_at)
        else:
            continue
        assert _instant(json.loads(encode_json(answer))) == _instant(by_setl_id[facts.setl_id]), facts.setl_id
        rendered[record.event_type] += 1
    # 27 ClaimSettled, of which 3 the gateway's (answered in the national layout, not here);
    # CLM-0027 was sent twice and answered once as settled: 24 answers to render.
    assert rendered == {"ClaimSettled": 24, "SettlementReversed": 2}


async def test_todays_gateway_reverses_a_stay_v3_code_settled_and_the_year_nets_back() -> None:
    store = MemoryLedger()
    await restore_into_memory(store)
    clock = lambda: datetime(2026, 1, 2, tzinfo=UTC)  # noqa: E731 - the day of the reversal
    gateway = NationalGateway(Deps(SettlementService(store, BOOK, clock=clock), PersonDirectory()))
    envelope, settled = national_step("i5")
    info = settled["output"]["setlinfo"]
    which = {"setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"], "psn_no": "G002"}
    reverse = {**envelope, "infno": "2305", "msgid": "TODAY-2305", "input": {"data": which}}
    body = parsed(await gateway.handle(json.dumps(reverse).encode(), access=Access.anyone()))
    assert body["infcode"] == "0", body["err_msg"]
    assert str(body["output"]["setlinfo"]["medfee_sumamt"]) == "-495.00"  # 360.00 + 180.00 − 45.00 = 495.00
    stream = await store.read_stream("G002/2025")
    assert [e.event_type for e in stream] == ["PersonEnrolled", "ClaimSettled", "SettlementReversed"]
    assert fixture_json("totals.json")["G002/2025"]["totals"]["settlements"] == 1
    # Reversed by today's code, the year is what its enrolment alone made it.
    assert fold("G002/2025", stream).totals == fold("G002/2025", stream[:1]).totals
    report = await verify_ledger(store)
    assert report.ok, report.problems()
