"""The clearing's commands: each reads the streams and the entries, lets engine.clearing decide,
and appends in ONE commit — with the streams' expected versions, an idempotency key derived
from what it asks (running it again changes nothing and answers as the first time), the events'
hash chains, and one outbox message on the clearing topic carrying the answer.

    close-month  region/<R>/<Y> RegionMonthClosed + inst/<code>/<Y> MonthClosed for each institution
    close-year   region/<R>/<Y> RegionYearClosed  + inst/<code>/<Y> YearClosed
    set-budget   region/<admdvs>/<Y> BudgetSet
    decide-review  inst/<code>/<Y> SpecialReviewDecided
    release-deposit  inst/<code>/<Y> DepositReleased
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from contracts.codes import FundPayType, Insutype
from contracts.topics import CLEARING
from engine.clearing.closing import CloseRefused, plan_month_close, plan_year_close
from engine.clearing.entries import Entry
from engine.clearing.events import (
    BudgetSet,
    ClearingEvent,
    DepositReleased,
    InstitutionYear,
    RegionYear,
    SpecialReviewDecided,
    YearClosed,
    budget_after,
    fold_institution,
    fold_region,
    institution_stream,
    region_stream,
)
from engine.clearing.records import from_record, to_record
from engine.clearing.rules import ClearingRules
from engine.clearing.year_end import Budget, ReviewDecision
from engine.errors import UnknownPolicy
from engine.ids import event_id
from engine.money import times
from engine.policy import Policy
from engine.policy_book import PolicyBook, PricedPolicy
from ledger.clearing.source import ClearingSource
from ledger.clearing.statement import Inputs
from ledger.errors import DuplicateRequest, WrongExpectedVersion
from ledger.store import IdempotentRequest, LedgerStore, NewEvent, OutboxMessage, StreamAppend

SCHEME_OF_BOOK = {FundPayType.STAFF_POOLED: Insutype.STAFF, FundPayType.RESIDENT_POOLED: Insutype.RESIDENT}
MAX_RACES = 5


class CommandRefused(ValueError):
    """The command cannot be done as asked; one sentence."""


@dataclass(frozen=True)
class Outcome:
    answer: Mapping[str, Any]
    already: bool  # the same command was done before: this is its answer, nothing was written


@dataclass
class ClearingCommands:
    store: LedgerStore
    source: ClearingSource
    policies: PolicyBook
    clock: Callable[[], datetime]
    topic_prefix: str = ""

    # -- reading ------------------------------------------------------------------------------

    async def _stream(self, stream_id: str, as_of: datetime | None = None) -> tuple[int, list[ClearingEvent]]:
        recorded = await self.store.read_stream(stream_id, as_of=as_of)
        return len(recorded), [from_record(e.event_type, e.data) for e in recorded]

    async def region(self, region: str, year: int, as_of: datetime | None = None) -> tuple[int, RegionYear]:
        version, events = await self._stream(region_stream(region, year), as_of)
        return version, fold_region(events)

    async def institution(
        self, code: str, year: int, region: str, as_of: datetime | None = None
    ) -> tuple[int, InstitutionYear]:
        """The institution-year as ``region`` clears it (its stream's version counts every region's events)."""
        version, events = await self._stream(institution_stream(code, year), as_of)
        return version, fold_institution(events, region)

    async def inputs(
        self, region: str, year: int, institution: str | None = None, as_of: datetime | None = None
    ) -> Inputs:
        """Everything a statement of the region-year is made of, as the ledger knew it at ``as_of``."""
        _, state = await self.region(region, year, as_of)
        cases = await self.source.region_cases(region, year)
        codes = sorted({e.fixmedins_code for e in cases} | {c for m in state.months.values() for c in m.institutions})
        if institution is not None:
            codes = [institution]
        entries = {code: await self.source.institution_entries(code, year, as_of) for code in codes}
        institutions = {code: (await self.institution(code, year, region, as_of))[1] for code in codes}
        books = {e.case.fund_pay_type for found in entries.values() for e in found if e.case is not None}
        rules = {}
        for book in books:
            with contextlib.suppress(CommandRefused):
                rules[book] = self.policy(region, book, year).clearing
        counties = {e.case.admdvs for found in entries.values() for e in found if e.case is not None}
        budgets = {}
        for county in sorted(counties):
            _, county_state = await self.region(county, year, as_of)
            budgets.update({(county, b): v.total for b, v in county_state.budgets.items() if v.total is not None})
        return Inputs(region, year, state, institutions, entries, rules, budgets, as_of)

    def policy(self, region: str, book: FundPayType, year: int) -> Policy:
        return self.priced(region, book, year).policy

    def priced(self, region: str, book: FundPayType, year: int) -> PricedPolicy:
        """The policy of the region's fund book in force at the year's end, with its payer data."""
        scheme = SCHEME_OF_BOOK.get(book)
        if scheme is None:
            raise CommandRefused(f"fund book {book.value} is not a basic fund: only 310100 and 390100 clear cases")
        try:
            return self.policies.in_force(region, scheme, date(year, 12, 31))
        except UnknownPolicy as gap:
            raise CommandRefused(str(gap)) from None

    def rules(self, region: str, year: int) -> Callable[[FundPayType], ClearingRules]:
        return lambda book: self.policy(region, book, year).clearing

    # -- writing ------------------------------------------------------------------------------

    async def _commit(
        self, key: str, answer: dict[str, Any], appends: Sequence[tuple[str, int, Sequence[ClearingEvent]]]
    ) -> Outcome:
        answer = {**answer, "event_id": str(event_id(key, 0))}
        at, index, stream_appends = self.clock(), 0, []
        for stream_id, version, events in appends:
            new = []
            for event in events:
                name, data = to_record(event)
                new.append(NewEvent(event_id(key, index), name, data, at))
                index += 1
            stream_appends.append(StreamAppend(stream_id, version, new))
        body = json.dumps(answer, sort_keys=True, ensure_ascii=False).encode()
        request = IdempotentRequest(key, _digest(key), answer)
        message = OutboxMessage(
            event_id(key, 0), self.topic_prefix + CLEARING, answer.get("region") or answer.get("fixmedins_code") or "",
            body, {"msg_type": str(answer["msg_type"])},
        )  # fmt: skip
        await self.store.commit(stream_appends, request=request, outbox=[message])
        return Outcome(answer, False)

    async def _once(self, key: str | None, decide: Callable[[], Any]) -> Outcome:
        """Run ``decide`` (which reads and commits) unless the key is recorded; retry a lost race.
        ``key`` None: a decision that may be changed and changed back (a budget, a special
        review), whose ``decide`` answers "in force" itself and commits under a key naming the
        stream version it was decided against — going back to an earlier figure is a new
        decision, not an old one's retry."""
        for _ in range(MAX_RACES):
            stored = None if key is None else await self.store.find_request(key)
            if stored is not None:
                return Outcome(stored.result, True)
            try:
                outcome: Outcome = await decide()
                return outcome
            except DuplicateRequest as dup:
                return Outcome(dup.stored.result, True)
            except WrongExpectedVersion:
                continue
        raise CommandRefused(f"{key or 'a decision'}: other writers kept changing the same streams; try again")

    # -- the commands -------------------------------------------------------------------------

    async def close_month(self, region: str, year: int, month: int) -> Outcome:
        key = f"clearing:close-month:{region}:{year}:{month}"

        async def decide() -> Outcome:
            region_version, state = await self.region(region, year)
            up_to = await self.source.reach()
            cases = await self.source.region_cases(region, year, up_to)
            try:
                plan = plan_month_close(region, year, month, up_to, cases, state, self.rules(region, year))
            except CloseRefused as refused:
                raise CommandRefused(str(refused)) from None
            appends: list[tuple[str, int, Sequence[ClearingEvent]]] = [
                (region_stream(region, year), region_version, [plan.region])
            ]
            for code, event in plan.institutions.items():
                version, _ = await self.institution(code, year, region)
                appends.append((institution_stream(code, year), version, [event]))
            answer = {
                "msg_type": "month_closed", "region": region, "year": year, "month": month, "up_to_position": up_to,
                "institutions": [
                    {"fixmedins_code": c, "books": [{"fund_pay_type": b.fund_pay_type.value, "cases": b.figures.cases,
                     "reversals": b.figures.reversals, "item_fund": b.figures.item_fund, "prepay": b.prepay}
                     for b in e.books]}
                    for c, e in plan.institutions.items()
                ],
            }  # fmt: skip
            return await self._commit(key, answer, appends)

        return await self._once(key, decide)

    async def close_year(self, region: str, year: int) -> Outcome:
        key = f"clearing:close-year:{region}:{year}"

        async def decide() -> Outcome:
            region_version, state = await self.region(region, year)
            up_to = await self.source.reach()
            cases = await self.source.region_cases(region, year, up_to)
            codes = sorted(
                {e.fixmedins_code for e in cases} | {c for m in state.months.values() for c in m.institutions}
            )
            versions, institutions = {}, {}
            for code in codes:
                versions[code], institutions[code] = await self.institution(code, year, region)
            provisional = self.provisional(region, year, cases)
            try:
                plan = plan_year_close(
                    region, year, up_to, cases, state, institutions, self.rules(region, year), provisional
                )
            except (CloseRefused, ValueError) as refused:
                raise CommandRefused(str(refused)) from None
            appends: list[tuple[str, int, Sequence[ClearingEvent]]] = [
                (region_stream(region, year), region_version, [plan.region])
            ]
            appends += [(institution_stream(c, year), versions.get(c, 0), [e]) for c, e in plan.institutions.items()]
            return await self._commit(key, year_answer(region, year, up_to, plan.region, plan.institutions), appends)

        return await self._once(key, decide)

    def provisional(self, region: str, year: int, cases: Sequence[Entry]) -> dict[FundPayType, Decimal]:
        out = {}
        for book in {e.case.fund_pay_type for e in cases if e.case is not None}:
            value = self.policy(region, book, year).case_payment.dip_point_value
            if value is not None:
                out[book] = value * 100
        return out

    async def set_budget(self, admdvs: str, year: int, book: FundPayType, budget: Budget) -> Outcome:
        refuse_negative_budget(budget)
        amounts = f"{budget.dip}:{budget.drg}:{budget.total}"
        key = f"clearing:budget:{admdvs}:{year}:{book.value}:{amounts}"
        answer = {
            "msg_type": "budget_set", "region": admdvs, "year": year, "fund_pay_type": book.value,
            "dip": budget.dip, "drg": budget.drg, "total": budget.total,
        }  # fmt: skip

        async def decide() -> Outcome:
            version, state = await self.region(admdvs, year)
            if state.closed is not None:
                raise CommandRefused(f"{admdvs} {year} is closed for the year: its budget can no longer change")
            in_force = state.budgets.get(book)
            if budget_after(in_force, budget) == in_force:
                return Outcome({**answer, "in_force": True}, True)
            event = BudgetSet(admdvs, year, book, budget)
            return await self._commit(f"{key}@{version}", answer, [(region_stream(admdvs, year), version, [event])])

        return await self._once(None, decide)

    async def decide_review(self, setl_id: str, decision: ReviewDecision) -> Outcome:
        refuse_unpayable(decision)
        what = f"{decision.outcome}:{decision.amount}:{decision.points}"
        key = f"clearing:review:{setl_id}:{what}:{hashlib.sha256(decision.reason.encode()).hexdigest()[:12]}"

        async def decide() -> Outcome:
            case = await self._case(setl_id)
            assert case.case is not None
            if decision.outcome == "points" and not case.case.in_point_pool:
                raise CommandRefused(f"{setl_id} is not a DIP case in the point pool: decide an amount instead")
            version, state = await self.institution(case.fixmedins_code, case.year, case.case.region)
            if state.closed is not None:
                raise CommandRefused(
                    f"{case.fixmedins_code} {case.year} is closed for the year by {case.case.region}: decide before it"
                )
            answer = {
                "msg_type": "special_review_decided", "fixmedins_code": case.fixmedins_code, "year": case.year,
                "setl_id": setl_id, "outcome": decision.outcome, "amount": decision.amount,
                "points": None if decision.points is None else str(decision.points), "reason": decision.reason,
            }  # fmt: skip
            if state.decisions.get(setl_id) == decision:
                return Outcome({**answer, "in_force": True}, True)
            event = SpecialReviewDecided(decision, case.year)
            stream = institution_stream(case.fixmedins_code, case.year)
            return await self._commit(f"{key}@{version}", answer, [(stream, version, [event])])

        return await self._once(None, decide)

    async def _case(self, setl_id: str) -> Entry:
        case = await self.source.settlement(setl_id)
        if case is None or case.case is None or case.case.paymtd == "item":
            raise CommandRefused(f"{setl_id} is no DRG/DIP case the clearing has seen (is the follower behind?)")
        return case

    async def release_deposit(
        self, code: str, year: int, book: FundPayType, coefficient: Decimal, region: str | None = None
    ) -> Outcome:
        """Pay out the assessed share of what ``region``'s year end withheld (None: the one region
        that closed the institution's year; a hospital cleared by several must name one)."""
        refuse_coefficient(coefficient)
        region = region or await self._closing_region(code, year)
        key = f"clearing:deposit:{code}:{year}:{region}:{book.value}"

        async def decide() -> Outcome:
            version, state = await self.institution(code, year, region)
            if state.closed is None:
                raise CommandRefused(f"{code} {year} is not closed for the year by {region}: no deposit to release yet")
            if book in state.releases:
                raise CommandRefused(f"{code} {year}: the deposit of fund book {book.value} was released already")
            book_year = next((b for b in state.closed.books if b.fund_pay_type is book), None)
            if book_year is None or book_year.deposit == 0:
                raise CommandRefused(f"{code} {year} withheld no deposit from fund book {book.value}")
            released = times(book_year.deposit, coefficient)
            event = DepositReleased(year, book, coefficient, released, book_year.deposit - released, region)
            answer = {
                "msg_type": "deposit_released", "fixmedins_code": code, "year": year, "region": region,
                "fund_pay_type": book.value, "coefficient": str(coefficient), "released": released,
                "forfeited": book_year.deposit - released,
            }  # fmt: skip
            return await self._commit(key, answer, [(institution_stream(code, year), version, [event])])

        return await self._once(key, decide)

    async def _closing_region(self, code: str, year: int) -> str:
        _, events = await self._stream(institution_stream(code, year))
        regions = sorted({e.region for e in events if isinstance(e, YearClosed)})
        if not regions:
            raise CommandRefused(f"{code} {year} is not closed for the year: there is no deposit to release yet")
        if len(regions) > 1:
            raise CommandRefused(f"{code} {year} was closed by {' and '.join(regions)}: name the region (--region)")
        return regions[0]


# The commands' checks of their own arguments: run by each command, and by the CLI before it
# connects (ledger/clearing/cli.py).


def refuse_negative_budget(budget: Budget) -> None:
    if any(fen is not None and fen < 0 for fen in (budget.dip, budget.drg, budget.total)):
        raise CommandRefused("a budget is an amount the fund may spend: it cannot be negative")


def refuse_coefficient(coefficient: Decimal) -> None:
    if not coefficient.is_finite() or not Decimal(0) <= coefficient <= Decimal(1):
        raise CommandRefused("the assessment coefficient is a share of the deposit, between 0 and 1")


def refuse_unpayable(decision: ReviewDecision) -> None:
    """A panel decides what the fund owes for a case: never below nothing, and a number the year
    end can share the budget with (a negative or infinite figure would move every hospital's due)."""
    if decision.amount is not None and decision.amount < 0:
        raise CommandRefused("a decided amount is what the fund owes for the case: it cannot be negative")
    if decision.points is not None and (not decision.points.is_finite() or decision.points < 0):
        raise CommandRefused(f"decided points must be a number of points, 0 or more (got {decision.points})")


def _digest(key: str) -> str:
    """The body of a clearing command is its key: the same command is the same request."""
    return hashlib.sha256(key.encode()).hexdigest()


def year_answer(region: str, year: int, up_to: int, record: Any, closes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "msg_type": "year_closed",
        "region": region,
        "year": year,
        "up_to_position": up_to,
        "point_values": [
            {"fund_pay_type": p.fund_pay_type.value, "value_fen": str(p.value), "published_yuan": str(p.published),
             "points": str(p.points), "budget": p.budget}
            for p in record.point_values
        ],
        "institutions": [
            {"fixmedins_code": c, "books": [{"fund_pay_type": b.fund_pay_type.value, "annual_due": b.annual_due,
             "prepaid": b.prepaid, "deposit": b.deposit, "balance": b.balance} for b in e.books]}
            for c, e in closes.items()
        ],
    }  # fmt: skip
