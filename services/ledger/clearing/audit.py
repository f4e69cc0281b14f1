"""`ledger verify` for the institution side, each check with its own error boundary:

- ``casemix``: the casemix follower's tables against the log (ledger.clearing.casemix);
- ``close_differs``: every recorded close against a recount from the log at the position it
  recorded — the month closes' figures and pre-payments, the year-end point values and dues —
  so an edited close, or a fold that changed its mind, is named. Without the policies only the
  figures are recounted (the pre-payment ratio and the year end need them).

The institution and region streams' hash chains and readability are the general stream checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import asyncpg

from engine.clearing.closing import plan_month_close, plan_year_close
from engine.clearing.entries import Entry
from engine.clearing.events import (
    ClearingEvent,
    InstitutionYear,
    MonthClosed,
    RegionMonthClosed,
    RegionYear,
    RegionYearClosed,
    YearClosed,
    fold_institution,
    fold_region,
    institution_stream,
    parse_clearing_stream,
)
from engine.clearing.records import from_record
from engine.clearing.rules import ClearingRules
from engine.policy_book import PolicyBook
from ledger.clearing.casemix import verify_casemix
from ledger.clearing.commands import ClearingCommands
from ledger.clearing.source import LogSource
from ledger.store import AuditableStore
from ledger.verify import Finding

Check = Callable[[], Awaitable[Sequence[Finding]]]


async def _events(store: AuditableStore, stream_id: str) -> list[ClearingEvent]:
    return [from_record(e.event_type, e.data) for e in await store.read_stream(stream_id)]


def _books(event: MonthClosed | YearClosed, prepay: bool) -> object:
    if isinstance(event, MonthClosed):
        return [(b.fund_pay_type, b.figures, b.prepay if prepay else None) for b in event.books]
    return event.books


async def _check_region(
    store: AuditableStore, commands: ClearingCommands | None, region: str, year: int, entries: Sequence[Entry]
) -> list[Finding]:
    events = await _events(store, f"region/{region}/{year}")
    cases = [e for e in entries if e.year == year and e.case is not None and e.case.region == region]
    found: list[Finding] = []
    for index, event in enumerate(events):
        before = fold_region(events[:index])
        if isinstance(event, RegionMonthClosed):
            found += await _check_month(store, commands, region, event, before, cases)
        elif isinstance(event, RegionYearClosed) and commands is not None:
            found += await _check_year(store, commands, region, event, before, cases)
    return found


async def _check_month(
    store: AuditableStore, commands: ClearingCommands | None, region: str, event: RegionMonthClosed,
    before: RegionYear, cases: Sequence[Entry],
) -> list[Finding]:  # fmt: skip
    rules = commands.rules(region, event.year) if commands else (lambda _book: ClearingRules())
    plan = plan_month_close(region, event.year, event.month, event.up_to_position, cases, before, rules)
    found = []
    if tuple(plan.institutions) != event.institutions:
        found.append(_differs(region, event.year, event.month, "its institutions differ from a recount"))
    for code, expected in plan.institutions.items():
        recorded = [e for e in await _events(store, institution_stream(code, event.year))
                    if isinstance(e, MonthClosed) and e.month == event.month and e.region == region]  # fmt: skip
        if len(recorded) != 1 or _books(recorded[0], commands is not None) != _books(expected, commands is not None):
            found.append(_differs(region, event.year, event.month, f"{code}'s figures differ from a recount"))
    return found


async def _check_year(
    store: AuditableStore, commands: ClearingCommands, region: str, event: RegionYearClosed, before: RegionYear,
    cases: Sequence[Entry],
) -> list[Finding]:  # fmt: skip
    states: dict[str, InstitutionYear] = {}
    recorded: dict[str, ClearingEvent | None] = {}
    for code in event.institutions:
        stream = await _events(store, institution_stream(code, event.year))
        closes = [i for i, e in enumerate(stream) if isinstance(e, YearClosed) and e.region == region]
        upto = closes[0] if closes else len(stream)
        states[code] = fold_institution(stream[:upto], region)
        recorded[code] = stream[upto] if closes else None
    provisional = commands.provisional(region, event.year, cases)
    plan = plan_year_close(
        region, event.year, event.up_to_position, cases, before, states,
        commands.rules(region, event.year), provisional,
    )  # fmt: skip
    found = []
    if plan.region != event:
        found.append(_differs(region, event.year, 13, "its point values differ from a recount"))
    for code, expected in plan.institutions.items():
        if recorded.get(code) != expected:
            found.append(_differs(region, event.year, 13, f"{code}'s year-end settlement differs from a recount"))
    return found


def _differs(region: str, year: int, month: int, what: str) -> Finding:
    period = "the year-end close" if month == 13 else f"the close of {year}-{month:02d}"
    subject = f"region/{region}/{year}"
    return Finding("close_differs", subject, f"{subject}: {period}: {what}")


async def verify_closes(store: AuditableStore, policies: PolicyBook | None) -> list[Finding]:
    commands = None
    source = LogSource(store)
    if policies is not None:
        commands = ClearingCommands(store, source, policies, clock=lambda: datetime.now(UTC))
    entries = (await source._all())[0]
    found: list[Finding] = []
    for stream_id in await store.list_streams("region/"):
        parsed = parse_clearing_stream(stream_id)
        if parsed is None:
            continue
        try:
            found += await _check_region(store, commands, parsed[1], parsed[2], entries)
        except Exception as error:  # an unreadable close is named, never a crash
            sentence = f"{stream_id}: its closes could not be recounted ({type(error).__name__}: {error})"
            found.append(Finding("close_differs", stream_id, sentence))
    return found


def clearing_check(store: AuditableStore, pool: asyncpg.Pool | None, policies: PolicyBook | None) -> Check:
    """The function verify_ledger calls (``clearing=``): casemix tables, then every close."""

    async def check() -> list[Finding]:
        found: list[Finding] = []
        if pool is not None:
            try:
                found += [Finding("casemix", "casemix", p) for p in await verify_casemix(pool)]
            except Exception as error:
                sentence = f"the casemix tables could not be recomputed from the log ({type(error).__name__}: {error})"
                found.append(Finding("casemix", "casemix", sentence))
        found += await verify_closes(store, policies)
        return found

    return check
