"""A hospital cleared by two pooling regions: each region's closes, year end and deposit stay its own.

A case is cleared by the insured's region, so a hospital treating patients of 640000 and of
640500 (异地就医 inside Ningxia) is closed by both in its one ``inst/<code>/<year>`` stream. The
events below are written to the in-memory ledger as the commands would have written them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from clearing_year import STAYS, Message, claim
from ledger.adapters.memory import MemoryLedger
from ledger.clearing.audit import verify_closes
from ledger.clearing.commands import ClearingCommands, CommandRefused
from ledger.clearing.source import LogSource
from ledger.store import NewEvent, StreamAppend
from settlement.service_layer.handlers import SettlementService

from contracts.codes import FundPayType
from engine.clearing.events import (
    BookClose,
    BookYear,
    ClearingEvent,
    DepositReleased,
    MonthClosed,
    YearClosed,
    fold_institution,
    institution_stream,
)
from engine.clearing.periods import Figures
from engine.clearing.records import from_record, to_record
from engine.clearing.year_end import Budget
from engine.errors import UnreadableEvent
from engine.ids import event_id
from engine.policy_files import load_policy_book

POLICIES = load_policy_book(Path(__file__).resolve().parents[2] / "policies")
RESIDENTS = FundPayType.RESIDENT_POOLED
HOSPITAL, YEAR = "H64010100002", 2025
YUAN = 100


def month(region: str, number: int, prepay: int) -> MonthClosed:
    return MonthClosed(YEAR, number, number * 10, region, (BookClose(RESIDENTS, Figures(cases=1), prepay),))


def year_closed(region: str, deposit: int) -> YearClosed:
    book = BookYear(
        RESIDENTS, Figures(), cases=1, points=Decimal(0), point_value=None, drg_factor=None, dip_due=0,
        drg_due=0, item_due=0, annual_due=deposit * 20, prepaid=0, deposit=deposit, balance=deposit * 19,
    )  # fmt: skip
    return YearClosed(YEAR, 500, region, (book,))


V1_RELEASE = {  # a DepositReleased as written before it named its region (schema version 1)
    "year": YEAR, "fund_pay_type": "390100", "coefficient": "0.8", "released": 24000, "forfeited": 6000,
    "schema_version": 1,
}  # fmt: skip


async def ledger_with(events: list[ClearingEvent | dict[str, object]]) -> tuple[MemoryLedger, ClearingCommands]:
    """The events in the hospital's stream (a dict: a DepositReleased's data as stored)."""
    store = MemoryLedger(clock=lambda: datetime(2026, 2, 1, tzinfo=UTC))
    at = datetime(2026, 2, 1, tzinfo=UTC)
    for version, event in enumerate(events):
        kind, data = ("DepositReleased", event) if isinstance(event, dict) else to_record(event)
        new = NewEvent(event_id(f"test:{version}", 0), kind, data, at)
        await store.commit([StreamAppend(institution_stream(HOSPITAL, YEAR), version, [new])])
    commands = ClearingCommands(store, LogSource(store), POLICIES, lambda: at)
    return store, commands


TWO_REGIONS: list[ClearingEvent] = [
    month("640000", 1, 9000 * YUAN),
    month("640500", 1, 4500 * YUAN),
    month("640000", 2, 1800 * YUAN),
    year_closed("640500", 300 * YUAN),
    year_closed("640000", 500 * YUAN),
]


async def test_each_region_reads_only_its_own_months_and_its_own_year_close() -> None:
    _, commands = await ledger_with(TWO_REGIONS)
    _, ningxia = await commands.institution(HOSPITAL, YEAR, "640000")
    _, zhongwei = await commands.institution(HOSPITAL, YEAR, "640500")
    # 640000 pre-paid 9,000 in January and 1,800 in February; 640500 4,500 in January
    assert ningxia.prepaid(RESIDENTS) == 10_800 * YUAN
    assert zhongwei.prepaid(RESIDENTS) == 4500 * YUAN
    assert sorted(ningxia.months) == [1, 2] and sorted(zhongwei.months) == [1]
    assert ningxia.closed is not None and ningxia.closed.region == "640000"
    assert zhongwei.closed is not None and zhongwei.closed.region == "640500"


async def test_a_deposit_of_a_hospital_closed_by_two_regions_is_released_only_for_a_named_region() -> None:
    _, commands = await ledger_with(TWO_REGIONS)
    with pytest.raises(CommandRefused, match="closed by 640000 and 640500: name the region"):
        await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.8"))
    released = await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.8"), "640500")
    # 640500 withheld 300 yuan: 0.8 of it is paid out (240), the rest forfeited (60)
    assert (released.answer["region"], released.answer["released"], released.answer["forfeited"]) == (
        "640500",
        240 * YUAN,
        60 * YUAN,
    )
    _, ningxia = await commands.institution(HOSPITAL, YEAR, "640000")
    _, zhongwei = await commands.institution(HOSPITAL, YEAR, "640500")
    assert RESIDENTS not in ningxia.releases  # 640000's 500 yuan are still withheld
    assert zhongwei.releases[RESIDENTS].released == 240 * YUAN
    again = await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.8"), "640500")
    assert again.already  # the same command: its answer, nothing written


async def test_a_books_deposit_is_released_once_a_second_coefficient_gets_the_first_release() -> None:
    _, commands = await ledger_with([month("640000", 1, 900 * YUAN), year_closed("640000", 500 * YUAN)])
    first = await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("1"))  # the one region: found
    assert first.answer["region"] == "640000" and first.answer["released"] == 500 * YUAN
    second = await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.5"))
    assert second.already and second.answer["released"] == 500 * YUAN


async def test_a_deposit_released_before_releases_named_their_region_is_not_released_again() -> None:
    # recorded under the command's earlier key (without the region): the key does not find it,
    # the stream does
    _, commands = await ledger_with([year_closed("640000", 300 * YUAN), V1_RELEASE])
    with pytest.raises(CommandRefused, match="released already"):
        await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.8"))


async def test_a_deposit_release_recorded_before_it_named_its_region_still_reads_and_counts() -> None:
    v1 = V1_RELEASE
    release = from_record("DepositReleased", v1)
    assert isinstance(release, DepositReleased) and release.region is None
    # a hospital of one region: its old release is that region's
    state = fold_institution([year_closed("640000", 300 * YUAN), release], "640000")
    assert state.releases[RESIDENTS].released == 240 * YUAN
    with pytest.raises(UnreadableEvent):  # version 1 never had a region
        from_record("DepositReleased", {**v1, "region": "640000"})
    with pytest.raises(UnreadableEvent):  # version 2 always has one
        from_record("DepositReleased", {**v1, "schema_version": 2})


def test_a_deposit_release_is_written_at_version_2_with_its_region() -> None:
    kind, data = to_record(DepositReleased(YEAR, RESIDENTS, Decimal("0.8"), 240, 60, "640500"))
    assert kind == "DepositReleased" and data["schema_version"] == 2 and data["region"] == "640500"
    assert from_record(kind, data) == DepositReleased(YEAR, RESIDENTS, Decimal("0.8"), 240, 60, "640500")


# ------------------------------------------------ a year of two regions' stays at one hospital


PEOPLE = (1, 2, 4, 5)  # C0001, C0002, C0004, C0005: residents (clearing_year.claim makes person % 3 == 0 staff)


def stays_of_two_regions() -> tuple[list[Message], list[list[Message]]]:
    """Residents of 640100 (pooled in 640000) and of 640500 (Zhongwei, its own pooling region),
    each with a DIP stay at H64010100002 every month."""
    people = []
    for n, (person, admdvs) in enumerate(zip(PEOPLE, ("640100", "640500", "640100", "640500"), strict=True)):
        body = {
            "msg_type": "enrolment", "schema_version": "enrolments.v2", "request_id": f"ENR-{n}",
            "sent_at": "2024-12-20T09:00:00+08:00", "psn_no": f"C{person:04d}", "insutype": "390", "psn_type": "1501",
            "insuplc_admdvs": admdvs, "year": 2025, "enrol_date": "2024-11-01",
        }  # fmt: skip
        people.append(Message(json.dumps(body).encode(), datetime(2024, 12, 20, 1, n, tzinfo=UTC), "enrolment"))
    rng, months, n = random.Random(5), [], 0
    for number in range(1, 13):
        stays = []
        for person in PEOPLE:
            n += 1
            day = date(2025, number, 10 + person)
            body = claim(n, person, HOSPITAL, STAYS[0], day, rng)
            received = datetime(2025, number, 10 + person, 3, tzinfo=UTC)
            stays.append(Message(json.dumps(body).encode(), received, "claim"))
        months.append(stays)
    return people, months


async def test_two_regions_clear_one_hospital_each_on_its_own_cases_and_the_audit_recounts_both() -> None:
    clock = [datetime(2025, 1, 1, tzinfo=UTC)]
    store = MemoryLedger(clock=lambda: clock[0])
    service = SettlementService(store, POLICIES, lambda: clock[0])
    commands = ClearingCommands(store, LogSource(store), POLICIES, lambda: clock[0])
    people, months = stays_of_two_regions()
    for m in people:
        await service.handle(m.raw, received_at=m.received_at)
    for number, stays in enumerate(months, start=1):
        for m in stays:
            clock[0] = m.received_at
            await service.handle(m.raw, received_at=m.received_at)
        clock[0] = datetime(2025, number, 28, tzinfo=UTC)
        for region in ("640000", "640500"):
            await commands.close_month(region, 2025, number)
    cases = {r: await commands.source.region_cases(r, 2025) for r in ("640000", "640500")}
    assert {e.fixmedins_code for found in cases.values() for e in found} == {HOSPITAL}
    assert len(cases["640000"]) == len(cases["640500"]) == 24  # two people's stay a month in each
    clock[0] = datetime(2026, 1, 20, tzinfo=UTC)
    for region in ("640000", "640500"):
        await commands.set_budget(region, 2025, RESIDENTS, Budget(dip=200_000 * YUAN))
        closed = await commands.close_year(region, 2025)
        [institution] = closed.answer["institutions"]
        _, state = await commands.institution(HOSPITAL, 2025, region)
        [book] = [b for b in institution["books"] if b["fund_pay_type"] == RESIDENTS.value]
        # the year end counts the pre-payments of this region's twelve month closes, no other's
        assert (
            book["prepaid"]
            == state.prepaid(RESIDENTS)
            == sum(b.prepay for m in state.months.values() for b in m.books if m.region == region)
        )
        assert len(state.months) == 12 and all(m.region == region for m in state.months.values())
    assert await verify_closes(store, POLICIES) == []  # both regions' closes recount as recorded
