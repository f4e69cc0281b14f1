"""The clearing commands over the in-memory ledger: a generated year settled by the service,
month closes, budgets, the year-end close — each compared with an independent computation from
the settlements.v1 answers (tests/clearing_run.py), and each command idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from casemix_sample import REGION
from clearing_run import Oracle, answers_of
from clearing_year import enrolments, year_of_claims
from ledger.adapters.memory import MemoryLedger
from ledger.clearing.commands import ClearingCommands, CommandRefused
from ledger.clearing.source import LogSource
from settlement.service_layer.handlers import SettlementService

from contracts.codes import FundPayType
from engine.clearing.year_end import Budget, ReviewDecision
from engine.policy_files import load_policy_book

POLICIES = load_policy_book(Path(__file__).resolve().parents[2] / "policies")
RESIDENTS, STAFF = FundPayType.RESIDENT_POOLED, FundPayType.STAFF_POOLED


class World:
    def __init__(self, months: int = 12, per_month: int = 10) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)
        self.store = MemoryLedger(clock=lambda: self.now)
        self.service = SettlementService(self.store, POLICIES, lambda: self.now)
        self.commands = ClearingCommands(self.store, LogSource(self.store), POLICIES, lambda: self.now)
        self.months = year_of_claims(people=30, per_month=per_month, months=months)
        self.oracle = Oracle()

    async def start(self) -> None:
        for m in enrolments(30):
            await self.service.handle(m.raw, received_at=m.received_at)

    async def settle_month(self, month: int) -> None:
        replies = []
        for m in self.months[month - 1]:
            self.now = m.received_at
            replies.append(await self.service.handle(m.raw, received_at=m.received_at))
        self.oracle.take(answers_of(replies))


def prepaid_of(answer: dict) -> dict[tuple[str, str], int]:
    return {(i["fixmedins_code"], b["fund_pay_type"]): b["prepay"] for i in answer["institutions"] for b in i["books"]}


async def test_a_month_close_prepays_ninety_percent_of_the_months_item_level_case_payments() -> None:
    world = World(months=2)
    await world.start()
    await world.settle_month(1)
    closed = await world.commands.close_month(REGION, 2025, 1)
    assert not closed.already
    expected = {k: v for k, v in world.oracle.prepay(1).items() if v}
    assert {k: v for k, v in prepaid_of(dict(closed.answer)).items() if v} == expected
    await world.settle_month(2)  # with reversals of January's cases
    february = await world.commands.close_month(REGION, 2025, 2)
    assert {k: v for k, v in prepaid_of(dict(february.answer)).items() if v} == {
        k: v for k, v in world.oracle.prepay(2).items() if v
    }


async def test_closing_a_month_twice_changes_nothing() -> None:
    world = World(months=1)
    await world.start()
    await world.settle_month(1)
    first = await world.commands.close_month(REGION, 2025, 1)
    streams = {s: len(await world.store.read_stream(s)) for s in await world.store.list_streams("inst/")}
    again = await world.commands.close_month(REGION, 2025, 1)
    assert again.already and again.answer == first.answer
    assert {s: len(await world.store.read_stream(s)) for s in await world.store.list_streams("inst/")} == streams


async def test_months_close_in_order_and_a_closed_year_refuses_more() -> None:
    world = World(months=1)
    await world.start()
    with pytest.raises(CommandRefused, match="close 640000 2025-01 first"):
        await world.commands.close_month(REGION, 2025, 2)
    with pytest.raises(CommandRefused, match="the year closes after December"):
        await world.commands.close_year(REGION, 2025)


async def test_a_year_closes_to_the_dip_budget_and_every_balance_is_due_less_prepaid() -> None:
    world = World(months=12, per_month=6)
    await world.start()
    budgets = {"390100": 30_000_000, "310100": 20_000_000}
    for book, fen in budgets.items():
        await world.commands.set_budget(REGION, 2025, FundPayType(book), Budget(dip=fen))
    prepaid: dict[tuple[str, str], int] = {}
    for month in range(1, 13):
        await world.settle_month(month)
        answer = (await world.commands.close_month(REGION, 2025, month)).answer
        for key, fen in prepaid_of(dict(answer)).items():
            prepaid[key] = prepaid.get(key, 0) + fen
    closed = await world.commands.close_year(REGION, 2025)
    values, dues = world.oracle.dip_dues(budgets)
    assert set(values) == {"310100", "390100"} and dues  # the year has DIP cases in both books
    answer = dict(closed.answer)
    assert {p["fund_pay_type"]: Decimal(p["value_fen"]) for p in answer["point_values"]} == values
    for inst in answer["institutions"]:
        for book in inst["books"]:
            key = (inst["fixmedins_code"], book["fund_pay_type"])
            assert book["prepaid"] == prepaid.get(key, 0)
            assert book["prepaid"] + book["deposit"] + book["balance"] == book["annual_due"]
    _, year_state = await world.commands.institution("H64010100002", 2025, REGION)
    assert year_state.closed is not None
    h002 = {b.fund_pay_type.value: b.dip_due for b in year_state.closed.books}
    assert h002 == {book: due for (code, book), due in dues.items() if code == "H64010100002"}
    for book, fen in budgets.items():  # Σ DIP dues = the budget within a fen per institution
        total = sum(d for (c, b), d in dues.items() if b == book)
        assert abs(total - fen) <= len([1 for (c, b) in dues if b == book])
    assert (await world.commands.close_year(REGION, 2025)).already


async def test_special_review_is_recorded_before_the_year_closes_and_refused_after() -> None:
    world = World(months=1, per_month=20)
    await world.start()
    await world.settle_month(1)
    flagged = [a for a in world.oracle.settled.values() if (a["case_payment"] or {}).get("special_review")]
    assert flagged, "the generated month has a DRG outlier"
    setl_id = flagged[0]["setl_id"]
    decided = await world.commands.decide_review(setl_id, ReviewDecision(setl_id, "amount", 123_45, reason="panel"))
    _, state = await world.commands.institution(flagged[0]["fixmedins_code"], 2025, REGION)
    assert state.decisions[setl_id].amount == 12345 and not decided.already
    assert (
        await world.commands.decide_review(setl_id, ReviewDecision(setl_id, "amount", 123_45, reason="panel"))
    ).already


async def test_reprice_under_the_same_policy_and_budget_gives_the_recorded_dues_and_another_budget_moves_them() -> None:
    from ledger.clearing.reprice import reprice_clearing

    world = World(months=12, per_month=5)
    await world.start()
    for book, fen in {"390100": 30_000_000, "310100": 20_000_000}.items():
        await world.commands.set_budget(REGION, 2025, FundPayType(book), Budget(dip=fen))
    for month in range(1, 13):
        await world.settle_month(month)
        await world.commands.close_month(REGION, 2025, month)
    await world.commands.close_year(REGION, 2025)
    same = await reprice_clearing(world.commands, REGION, 2025, {})
    assert all(row["difference"] == "0.00" for book in same["books"] for row in book["institutions"])
    richer = await reprice_clearing(world.commands, REGION, 2025, {RESIDENTS: 40_000_000})
    residents = next(b for b in richer["books"] if b["fund_pay_type"] == "390100")
    dip = [r for r in residents["institutions"] if r["fixmedins_code"] in ("H64010100002", "H64010100004")]
    # 100,000 yuan more DIP budget is shared by the DIP hospitals (within a fen each)
    assert abs(sum(Decimal(r["difference"]) for r in dip) - Decimal("100000.00")) <= Decimal("0.02")


async def test_an_institution_year_as_of_a_time_shows_what_the_ledger_knew_then() -> None:
    from ledger.clearing.statement import statement

    world = World(months=2)
    await world.start()
    await world.settle_month(1)
    world.now = datetime(2025, 2, 1, tzinfo=UTC)
    await world.commands.close_month(REGION, 2025, 1)
    then = world.now
    await world.settle_month(2)
    world.now = datetime(2025, 3, 1, tzinfo=UTC)
    await world.commands.close_month(REGION, 2025, 2)
    before = statement(await world.commands.inputs(REGION, 2025, "H64010100002", then), institution="H64010100002")
    now = statement(await world.commands.inputs(REGION, 2025, "H64010100002"), institution="H64010100002")
    assert before["closed_months"] == [1] and now["closed_months"] == [1, 2]
    [book_then] = [b for b in before["institutions"][0]["books"] if b["fund_pay_type"] == "390100"]
    [book_now] = [b for b in now["institutions"][0]["books"] if b["fund_pay_type"] == "390100"]
    assert book_then["months"][0] == book_now["months"][0]  # January as closed, then and now
    assert not book_then["months"][1]["closed"] and book_now["months"][1]["closed"]
