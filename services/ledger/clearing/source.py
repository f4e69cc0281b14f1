"""Where the clearing reads its entries: the casemix follower's tables (PostgreSQL), or a fold
of the whole log (any store: the in-memory one of the unit tests and the offline tools).

``reach()`` is the log position up to which the source is complete: every entry at or below it
is there, none above it will appear there later (the follower applies the log in position
order below the watermark). A close records it as the position it counted up to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

import asyncpg

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from ledger.clearing.casemix import SELECT_ENTRIES, CasemixProjection, entry_of
from ledger.clearing.log import EntryFold
from ledger.follower import FollowerRunner
from ledger.store import MAX_READ_LIMIT, LedgerStore

Spending = dict[tuple[str, FundPayType], int]


class ClearingSource(Protocol):
    async def reach(self) -> int: ...

    async def region_cases(self, region: str, year: int, up_to: int | None = None) -> list[Entry]:
        """The inpatient cases (settlements and reversals) of a pooling region's coverage year."""
        ...

    async def institution_entries(self, code: str, year: int, as_of: datetime | None = None) -> list[Entry]:
        """Every entry of an institution-year (recorded by ``as_of``, if given)."""
        ...

    async def day_entries(self, code: str, begin: date, end: date) -> list[Entry]: ...

    async def settlement(self, setl_id: str) -> Entry | None:
        """A settlement's own entry (not a reversal's), if the source has it."""
        ...

    async def fund_spending(self, codes: Sequence[str], year: int) -> Spending:
        """Σ each fund's payments (setldetail) per institution and fund book, all entries."""
        ...


def _spending(entries: Sequence[Entry]) -> Spending:
    out: Spending = {}
    for e in entries:
        for book, fen in e.funds.items():
            out[(e.fixmedins_code, book)] = out.get((e.fixmedins_code, book), 0) + fen
    return out


class LogSource:
    """A fold of the whole log on every read: exact, and slow on a big ledger."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    async def _all(self, as_of: datetime | None = None) -> tuple[list[Entry], int]:
        fold, after = EntryFold(), 0
        while page := await self.store.read_all(after, MAX_READ_LIMIT):
            for event in page:
                if as_of is None or event.recorded_at <= as_of:
                    fold.apply(event)
            after = page[-1].position
        return fold.entries, after

    async def reach(self) -> int:
        return (await self._all())[1]

    async def region_cases(self, region: str, year: int, up_to: int | None = None) -> list[Entry]:
        entries = (await self._all())[0]
        return [
            e
            for e in entries
            if e.year == year and e.case and e.case.region == region and (up_to is None or e.position <= up_to)
        ]

    async def institution_entries(self, code: str, year: int, as_of: datetime | None = None) -> list[Entry]:
        return [e for e in (await self._all(as_of))[0] if e.fixmedins_code == code and e.year == year]

    async def day_entries(self, code: str, begin: date, end: date) -> list[Entry]:
        return [e for e in (await self._all())[0] if e.fixmedins_code == code and begin <= e.day <= end]

    async def settlement(self, setl_id: str) -> Entry | None:
        return next((e for e in (await self._all())[0] if e.entry_id == setl_id and not e.reversal), None)

    async def fund_spending(self, codes: Sequence[str], year: int) -> Spending:
        wanted = set(codes)
        return _spending([e for e in (await self._all())[0] if e.year == year and e.fixmedins_code in wanted])


class ProjectionSource:
    """The casemix follower's tables; ``reach`` first lets the follower catch up (best effort:
    another replica may hold it; then its checkpoint is simply where the close counts to)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def reach(self) -> int:
        runner = FollowerRunner(self.pool, CasemixProjection())
        await runner.catch_up(max_batches=100)
        return await runner.checkpoint()

    async def _entries(self, where: str, *args: object) -> list[Entry]:
        rows = await self.pool.fetch(f"{SELECT_ENTRIES} WHERE {where} ORDER BY position", *args)
        return [entry_of(dict(r)) for r in rows]

    async def region_cases(self, region: str, year: int, up_to: int | None = None) -> list[Entry]:
        limit = up_to if up_to is not None else 2**62
        return await self._entries("region = $1 AND year = $2 AND position <= $3", region, year, limit)

    async def institution_entries(self, code: str, year: int, as_of: datetime | None = None) -> list[Entry]:
        if as_of is None:
            return await self._entries("fixmedins_code = $1 AND year = $2", code, year)
        return await self._entries("fixmedins_code = $1 AND year = $2 AND recorded_at <= $3", code, year, as_of)

    async def day_entries(self, code: str, begin: date, end: date) -> list[Entry]:
        return await self._entries("fixmedins_code = $1 AND day BETWEEN $2 AND $3", code, begin, end)

    async def settlement(self, setl_id: str) -> Entry | None:
        found = await self._entries("entry_id = $1 AND sign = 1", setl_id)
        return found[0] if found else None

    async def fund_spending(self, codes: Sequence[str], year: int) -> Spending:
        rows = await self.pool.fetch(
            """SELECT e.fixmedins_code, f.key AS fund, sum(f.value::bigint) AS fen
                 FROM casemix_entries e, jsonb_each_text(e.funds) f
                WHERE e.year = $1 AND e.fixmedins_code = ANY($2::text[])
                GROUP BY e.fixmedins_code, f.key""",
            year,
            list(codes),
        )
        return {(r["fixmedins_code"], FundPayType(r["fund"])): int(r["fen"]) for r in rows}


class ClearingBehind(TimeoutError):
    """The casemix follower did not reach the log's head within the bound: a transient state
    (the Kafka consumer retries the batch like an outage; the gateway answers "-1" with this)."""

    def __init__(self, checkpoint: int, head: int, waited_s: float) -> None:
        super().__init__(
            f"the ledger's clearing index reaches log position {checkpoint}, not yet {head} (the newest "
            f"settlement recorded before this request), after waiting {waited_s:g} s; ask again in a moment"
        )
        self.checkpoint, self.head = checkpoint, head


HEAD = "SELECT coalesce(max(position), 0) FROM events"


class CaughtUpSource(ProjectionSource):
    """The casemix tables once they hold every event committed before the read (read your
    writes): a settlement answered a moment ago is counted even when the follower is behind.
    ``reach`` notes the newest committed position, lets the follower catch up, and waits for it
    — another replica may hold the follower's lock mid-batch, or an older transaction still
    hold the watermark back — at most ``wait_s``, then raises ``ClearingBehind``."""

    def __init__(self, pool: asyncpg.Pool, *, wait_s: float = 5.0, poll_s: float = 0.05) -> None:
        super().__init__(pool)
        assert 0 < poll_s <= wait_s
        self.wait_s, self.poll_s = wait_s, poll_s

    async def reach(self) -> int:
        head = int(await self.pool.fetchval(HEAD))
        deadline = time.monotonic() + self.wait_s
        while (checkpoint := await super().reach()) < head:
            if time.monotonic() >= deadline:
                raise ClearingBehind(checkpoint, head, self.wait_s)
            await asyncio.sleep(self.poll_s)
        return checkpoint
