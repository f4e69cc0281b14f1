"""A visit's stream: every event type written and read back (ADR 0004), and the fold's rules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from engine.errors import InvariantBroken, UnreadableEvent
from engine.records import from_record, to_record, visit_event_from_record
from engine.visit_events import (
    DeclaredTerms,
    FeeLine,
    FeesUploaded,
    FeesWithdrawn,
    LinePricing,
    Source,
    VisitCancelled,
    VisitDiagnosis,
    VisitDischarged,
    VisitEvent,
    VisitInfoRecorded,
    VisitRegistered,
    VisitSettled,
    VisitSettlementReversed,
)
from engine.visit_stream import replay_visit

S = Source("2204", "M1")
AT = datetime(2025, 3, 14, 9, 30, 5)


def line(sn: str, fen: int, batch: str = "B1") -> FeeLine:
    pricing = LinePricing("01", "09", Decimal("0"), None, False, False, 0, 0, 0, fen, "", ())
    declared = DeclaredTerms(None, None, None, None)
    return FeeLine(sn, None, batch, "X1", "Y1", AT, Decimal("0.85"), Decimal("24.0000"), fen, "1", declared, pricing)


REGISTERED = VisitRegistered("V1", "P1", "310", "H1", "outpatient", None, AT, "MZ1", (), Source("2201", "M0"))
EVERY: list[VisitEvent] = [
    REGISTERED,
    VisitInfoRecorded("11", (VisitDiagnosis("1", "J06.900", True),), None, Source("2203", "M2")),
    FeesUploaded((line("L1", 2040), line("L2", 2000)), S),
    FeesWithdrawn(("L2",), Source("2205", "M3")),
    VisitDischarged(AT, "1", (), Source("2402", "M4")),
    VisitSettled("V100", "P1", 2025, "11", ("L1",), 2040, Source("2207", "M5")),
    VisitSettlementReversed("V101", "V100", Source("2208", "M6")),
    VisitCancelled(Source("2202", "M7")),
]


@pytest.mark.parametrize("event", EVERY, ids=lambda e: type(e).__name__)
def test_every_visit_event_reads_back_as_written_at_version_1(event: VisitEvent) -> None:
    event_type, data = to_record(event)
    assert data["schema_version"] == 1
    assert visit_event_from_record(event_type, data) == event


def test_a_visit_event_is_unreadable_as_a_person_year_event_and_the_other_way_round() -> None:
    event_type, data = to_record(REGISTERED)
    with pytest.raises(UnreadableEvent, match="a visit-stream event"):
        from_record(event_type, data)
    with pytest.raises(UnreadableEvent, match=r"unknown|missing"):
        visit_event_from_record(event_type, {**data, "psn_name": "x"})


def test_the_fold_keeps_open_lines_and_one_settlement_in_force() -> None:
    state = replay_visit("V1", EVERY[:6])
    assert [line.feedetl_sn for line in state.lines.values()] == ["L1"]
    assert (state.open_setl_id, state.settled_lines, state.open_lines()) == ("V100", {"L1": "V100"}, ())
    reversed_ = replay_visit("V1", EVERY[:7])
    assert reversed_.open_setl_id is None and [x.feedetl_sn for x in reversed_.open_lines()] == ["L1"]
    assert reversed_.ids_issued == 2  # V100 and its reversal V101


@pytest.mark.parametrize(
    "broken",
    [
        [REGISTERED, REGISTERED],
        [FeesUploaded((line("L1", 1),), S)],  # before registration
        [REGISTERED, FeesUploaded((line("L1", 1), line("L1", 1)), S)],
        [REGISTERED, FeesUploaded((line("L1", 5),), S), VisitSettled("S1", "P1", 2025, "11", ("L1",), 6, S)],
        [REGISTERED, FeesUploaded((line("L1", 5),), S), *[VisitSettled("S1", "P1", 2025, "11", ("L1",), 5, S)] * 2],
        [REGISTERED, VisitSettlementReversed("S2", "S1", S)],
        [REGISTERED, VisitCancelled(S), FeesUploaded((line("L1", 1),), S)],
    ],
    ids=["twice", "unregistered", "line-twice", "sum", "settled-twice", "reverse-nothing", "after-cancel"],
)
def test_a_stream_that_breaks_the_visits_rules_does_not_fold(broken: list[VisitEvent]) -> None:
    with pytest.raises(InvariantBroken):
        replay_visit("V1", broken)
