"""The follower "clearing": what the funds owe per month, by institution and by fund.

A follower projection (ledger/follower.py runs it; `ledger serve` keeps it current). It keeps,
per calendar month in China time (期间):
- institution_period_totals: per institution (fixmedins_code), settlements and reversals and
  their amounts — what the funds owe each hospital or pharmacy for the month;
- fund_period_totals: per fund (fund_pay_type, from the setldetail rows) and policy (region,
  scheme, year), the amount paid;
- clearing_settlements: one row per settlement, so that a reversal, which may come months
  later, takes back exactly what its settlement added.

A reversal counts in the month it is recorded, negatively. The fold below is pure: the
follower applies it batch by batch, and `ledger verify` runs it over the whole log and
compares the tables with it. It reads the events' facts in fen (engine.records, which upcasts
an event of any older schema version), never the yuan text of an answer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any

import asyncpg

from engine.events import ClaimSettled, SettlementReversed
from engine.settlement_facts import SettlementAmounts
from ledger.adapters.postgres_sql import Connection
from ledger.follower import facts_of, log_up_to_checkpoint
from ledger.store import RecordedEvent

CHINA = timezone(timedelta(hours=8))
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


def period_of(event: RecordedEvent) -> str:
    return event.occurred_at.astimezone(CHINA).strftime("%Y-%m")


@dataclass(frozen=True)
class Cleared:
    """One settlement as clearing sees it."""

    setl_id: str
    fixmedins_code: str
    policy_id: str
    period: str
    amounts: Mapping[str, int]
    funds: Mapping[str, int]


@dataclass
class ClearingFold:
    """institution[(code, period)] = Counter of settlements, reversals and AMOUNTS;
    fund[(fund_pay_type, policy_id, period)] = fen; new/reversed: the clearing_settlements rows
    this fold added or marked (for the follower to write)."""

    institution: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    fund: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    new: dict[str, Cleared] = field(default_factory=dict)
    reversed: dict[str, str] = field(default_factory=dict)  # setl_id → period of its reversal

    def _add(self, cleared: Cleared, period: str, sign: int) -> None:
        row = self.institution.setdefault((cleared.fixmedins_code, period), Counter())
        row["settlements" if sign > 0 else "reversals"] += 1
        for name, fen in cleared.amounts.items():
            row[name] += sign * fen
        for fund_type, fen in cleared.funds.items():
            self.fund[(fund_type, cleared.policy_id, period)] += sign * fen

    def apply(self, event: RecordedEvent, known: Mapping[str, Cleared]) -> None:
        """``known``: settlements recorded before this fold began, by setl_id."""
        if event.event_type == "ClaimSettled":
            cleared = cleared_from(event)
            self.new[cleared.setl_id] = cleared
            self._add(cleared, cleared.period, +1)
        elif event.event_type == "SettlementReversed":
            original_id = reversal_of(event).reversed_setl_id
            original = self.new.get(original_id) or known.get(original_id)
            if original is None:
                raise LookupError(f"reversal of {original_id}, which clearing never saw settled")
            period = period_of(event)
            self.reversed[original_id] = period
            self._add(original, period, -1)


def _cleared_amounts(amounts: SettlementAmounts) -> dict[str, int]:
    return {
        "medfee_sumamt": amounts.medfee_sumamt,
        "fund_pay_sumamt": amounts.fund_pay_sumamt,
        "acct_pay": amounts.acct_pay,
        "psn_cash_pay": amounts.psn_cash_pay,
    }


def cleared_from(event: RecordedEvent) -> Cleared:
    facts = facts_of(event)
    if not isinstance(facts, ClaimSettled):
        raise TypeError(f"{event.event_type} is not a settlement")
    funds: Counter[str] = Counter()
    for row in facts.funds:
        funds[row.fund_pay_type.value] += row.fund_payamt
    return Cleared(
        setl_id=facts.setl_id,
        fixmedins_code=facts.fixmedins_code,
        policy_id=facts.policy.policy_id,
        period=period_of(event),
        amounts=_cleared_amounts(facts.amounts),
        funds=dict(funds),
    )


def reversal_of(event: RecordedEvent) -> SettlementReversed:
    facts = facts_of(event)
    if not isinstance(facts, SettlementReversed):
        raise TypeError(f"{event.event_type} is not a reversal")
    return facts


def reversed_ids(events: Iterable[RecordedEvent]) -> set[str]:
    return {reversal_of(e).reversed_setl_id for e in events if e.event_type == "SettlementReversed"}


LOAD = """
SELECT setl_id, fixmedins_code, policy_id, period, medfee_sumamt, fund_pay_sumamt, acct_pay,
       psn_cash_pay, funds::text AS funds
  FROM clearing_settlements WHERE setl_id = ANY($1::text[])
"""
INSERT_SETTLEMENT = """
INSERT INTO clearing_settlements (setl_id, fixmedins_code, policy_id, period, medfee_sumamt,
                                  fund_pay_sumamt, acct_pay, psn_cash_pay, funds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
"""
MARK_REVERSED = "UPDATE clearing_settlements SET reversed_in = $2 WHERE setl_id = $1"
ADD_INSTITUTION = """
INSERT INTO institution_period_totals AS t (fixmedins_code, period, settlements, reversals,
                                            medfee_sumamt, fund_pay_sumamt, acct_pay, psn_cash_pay)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (fixmedins_code, period) DO UPDATE SET
    settlements = t.settlements + excluded.settlements, reversals = t.reversals + excluded.reversals,
    medfee_sumamt = t.medfee_sumamt + excluded.medfee_sumamt,
    fund_pay_sumamt = t.fund_pay_sumamt + excluded.fund_pay_sumamt,
    acct_pay = t.acct_pay + excluded.acct_pay, psn_cash_pay = t.psn_cash_pay + excluded.psn_cash_pay
"""
ADD_FUND = """
INSERT INTO fund_period_totals AS t (fund_pay_type, policy_id, period, fund_payamt) VALUES ($1, $2, $3, $4)
ON CONFLICT (fund_pay_type, policy_id, period) DO UPDATE SET fund_payamt = t.fund_payamt + excluded.fund_payamt
"""


def _row_to_cleared(row: Mapping[str, Any]) -> Cleared:
    return Cleared(
        setl_id=row["setl_id"],
        fixmedins_code=row["fixmedins_code"],
        policy_id=row["policy_id"],
        period=row["period"],
        amounts={name: int(row[name]) for name in AMOUNTS},
        funds={k: int(v) for k, v in json.loads(row["funds"]).items()},
    )


class ClearingProjection:
    name = "clearing"

    async def apply(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        wanted = sorted(reversed_ids(events))
        known = {r["setl_id"]: _row_to_cleared(dict(r)) for r in await connection.fetch(LOAD, wanted)} if wanted else {}
        fold = ClearingFold()
        for event in events:
            fold.apply(event, known)
        if fold.new:
            await connection.executemany(
                INSERT_SETTLEMENT,
                [
                    (
                        c.setl_id,
                        c.fixmedins_code,
                        c.policy_id,
                        c.period,
                        *(c.amounts[n] for n in AMOUNTS),
                        json.dumps(c.funds),
                    )
                    for c in fold.new.values()
                ],
            )
        if fold.reversed:
            await connection.executemany(MARK_REVERSED, list(fold.reversed.items()))
        if fold.institution:
            await connection.executemany(
                ADD_INSTITUTION,
                [
                    (code, period, row["settlements"], row["reversals"], *(row[n] for n in AMOUNTS))
                    for (code, period), row in fold.institution.items()
                ],
            )
        if fold.fund:
            await connection.executemany(ADD_FUND, [(*key, fen) for key, fen in fold.fund.items()])


INSTITUTIONS = "SELECT * FROM institution_period_totals"
FUNDS = "SELECT fund_pay_type, policy_id, period, fund_payamt FROM fund_period_totals"


async def verify_period_totals(pool: asyncpg.Pool, page: int = 5_000) -> list[str]:
    """Problems in the clearing tables: each compared with the fold of the log up to the
    projection's checkpoint (rows the follower has not reached yet are not a problem)."""
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        fold = ClearingFold()
        async for events in log_up_to_checkpoint(connection, ClearingProjection.name, page):
            for event in events:
                fold.apply(event, {})
        institutions = {(r["fixmedins_code"], r["period"]): r for r in await connection.fetch(INSTITUTIONS)}
        funds = {
            (r["fund_pay_type"], r["policy_id"], r["period"]): int(r["fund_payamt"])
            for r in await connection.fetch(FUNDS)
        }
    problems = []
    for key in sorted(set(institutions) | set(fold.institution)):
        stored = institutions.get(key)
        expected = fold.institution.get(key, Counter())
        names = ("settlements", "reversals", *AMOUNTS)
        if stored is None or any(int(stored[n]) != expected[n] for n in names):
            got = {n: int(stored[n]) for n in names} if stored else None
            says = {n: expected[n] for n in names}
            problems.append(f"institution_period_totals {key[0]} {key[1]}: stored {got}, the log says {says}")
    for fund_key in sorted(set(funds) | set(fold.fund)):
        stored_amount, logged = funds.get(fund_key), fold.fund.get(fund_key, 0)
        if (stored_amount or 0) != logged:
            problems.append(f"fund_period_totals {' '.join(fund_key)}: stored {stored_amount}, the log says {logged}")
    return problems
