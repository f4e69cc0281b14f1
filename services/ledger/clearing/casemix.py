"""The follower projection "casemix": every settlement and reversal as clearing counts it
(casemix_entries), and running figures of the DRG/DIP cases per institution, coverage year,
month and fund book (casemix_months). Migration 0008. The fold is ledger.clearing.log's; the
audit below recomputes both tables from the log up to the follower's checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from engine.clearing.periods import Figures, cleared_by_case, entry_figures
from engine.codec_settlement import case_from_json, case_to_json
from ledger.adapters.postgres_sql import Connection, read_all_on
from ledger.clearing.log import EntryFold, reversed_ids
from ledger.follower import LOCK_SPACE, lock_key
from ledger.store import RecordedEvent

NAME = "casemix"
COLUMNS = (
    "entry_id, setl_id, sign, position, recorded_at, day, year, fixmedins_code, region, psn_no, mdtrt_id, insutype,"
    " clr_type, medfee_sumamt, fund_pay_sumamt, acct_pay, funds, case_facts"
)
SELECT_ENTRIES = (
    "SELECT "
    + COLUMNS.replace("funds,", "funds::text AS funds,").replace("case_facts", "case_facts::text AS case_facts")
    + " FROM casemix_entries"
)
INSERT_ENTRY = f"""
INSERT INTO casemix_entries ({COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18::jsonb)
"""
FIGURES = tuple(f.name for f in fields(Figures))
_MONTH_COLUMNS = ", ".join(FIGURES)
ADD_MONTH = f"""
INSERT INTO casemix_months AS t (fixmedins_code, year, month, fund_pay_type, {_MONTH_COLUMNS})
VALUES ($1, $2, $3, $4, {", ".join(f"${i}" for i in range(5, 5 + len(FIGURES)))})
ON CONFLICT (fixmedins_code, year, month, fund_pay_type) DO UPDATE SET
    {", ".join(f"{n} = t.{n} + excluded.{n}" for n in FIGURES)}
"""


def entry_values(entry: Entry, recorded_at: datetime) -> tuple[Any, ...]:
    case = entry.case
    return (
        entry.entry_id, entry.setl_id, entry.sign, entry.position, recorded_at, entry.day, entry.year,
        entry.fixmedins_code, case.region if case else None, entry.psn_no, entry.mdtrt_id, entry.insutype,
        entry.clr_type, entry.medfee, entry.fund_pay_sumamt, entry.acct_pay,
        json.dumps({k.value: v for k, v in sorted(entry.funds.items())}),
        None if case is None else json.dumps(case_to_json(case), ensure_ascii=False),
    )  # fmt: skip


def entry_of(row: Mapping[str, Any]) -> Entry:
    case = row["case_facts"]
    return Entry(
        setl_id=row["setl_id"],
        entry_id=row["entry_id"],
        sign=1 if row["sign"] > 0 else -1,
        position=int(row["position"]),
        day=row["day"],
        year=int(row["year"]),
        fixmedins_code=row["fixmedins_code"],
        psn_no=row["psn_no"],
        mdtrt_id=row["mdtrt_id"],
        insutype=row["insutype"],
        clr_type=row["clr_type"],
        medfee=int(row["medfee_sumamt"]),
        fund_pay_sumamt=int(row["fund_pay_sumamt"]),
        acct_pay=int(row["acct_pay"]),
        funds={FundPayType(k): int(v) for k, v in json.loads(row["funds"]).items()},
        case=None if case is None else case_from_json(json.loads(case)),
    )


MonthKey = tuple[str, int, int, FundPayType]


def month_figures(entries: Iterable[Entry]) -> dict[MonthKey, Figures]:
    """Running figures of the DRG/DIP cases, by the month of the coverage year each entry is in."""
    out: dict[MonthKey, Figures] = {}
    for e in entries:
        if cleared_by_case(e) and e.case is not None:
            key = (e.fixmedins_code, e.year, e.month, e.case.fund_pay_type)
            out[key] = out.get(key, Figures()) + entry_figures(e)
    return out


def _figure_values(f: Figures) -> tuple[Any, ...]:
    return tuple(getattr(f, n) for n in FIGURES)


class CasemixProjection:
    name = NAME

    async def apply(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        wanted = sorted(set(reversed_ids(events)))
        known = {}
        if wanted:
            rows = await connection.fetch(SELECT_ENTRIES + " WHERE entry_id = ANY($1::text[])", wanted)
            known = {r["entry_id"]: entry_of(dict(r)) for r in rows}
        fold = EntryFold(known)
        values = []
        for event in events:
            entry = fold.apply(event)
            if entry is not None:
                values.append(entry_values(entry, event.recorded_at))
        if values:
            await connection.executemany(INSERT_ENTRY, values)
        months = month_figures(fold.entries)
        if months:
            await connection.executemany(
                ADD_MONTH, [(c, y, m, b.value, *_figure_values(f)) for (c, y, m, b), f in sorted(months.items())]
            )


CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1"


async def _recount(connection: Connection, checkpoint: int, page: int) -> tuple[list[Entry], dict[str, datetime]]:
    fold, after, recorded = EntryFold(), 0, {}
    while after < checkpoint:
        events = [e for e in await read_all_on(connection, after, page) if e.position <= checkpoint]
        if not events:
            break
        for event in events:
            entry = fold.apply(event)
            if entry is not None:
                recorded[entry.entry_id] = event.recorded_at
        after = events[-1].position
    return fold.entries, recorded


async def verify_casemix(pool: asyncpg.Pool, page: int = 5_000) -> list[str]:
    """The casemix tables against the log up to the follower's checkpoint; a sentence per problem."""
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_SPACE, lock_key(NAME))
        checkpoint = int(await connection.fetchval(CHECKPOINT, NAME) or 0)
        entries, recorded = await _recount(connection, checkpoint, page)
        stored = {r["entry_id"]: dict(r) for r in await connection.fetch(SELECT_ENTRIES)}
        months = {
            (r["fixmedins_code"], int(r["year"]), int(r["month"]), FundPayType(r["fund_pay_type"])): r
            for r in await connection.fetch("SELECT * FROM casemix_months")
        }
    problems = []
    expected = {e.entry_id: e for e in entries}
    for entry_id in sorted(set(stored) | set(expected)):
        row, entry = stored.get(entry_id), expected.get(entry_id)
        if row is None or entry is None or entry_of(row) != entry or row["recorded_at"] != recorded[entry_id]:
            problems.append(f"casemix_entries {entry_id}: stored {_said(row)}, the log says {_said(entry)}")
    recounted = month_figures(entries)
    for key in sorted(set(months) | set(recounted), key=str):
        got = None if key not in months else _stored_figures(dict(months[key]))
        if got != recounted.get(key):
            where = f"{key[0]} {key[1]}-{key[2]:02d} {key[3].value}"
            problems.append(f"casemix_months {where}: stored {got}, the log says {recounted.get(key)}")
    return problems


def _stored_figures(row: Mapping[str, Any]) -> Figures:
    counts: dict[str, Any] = {n: int(row[n]) for n in FIGURES if n != "points"}
    return Figures(points=Decimal(row["points"]), **counts)


def _said(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Entry):
        return f"{value.entry_id} position {value.position} {value.medfee} fen"
    assert isinstance(value, dict)
    return f"{value['entry_id']} position {value['position']} {value['medfee_sumamt']} fen"
