"""Closed years out of the live log, and what verify still proves about them (migration 0011).

``ledger detach-year --year Y`` runs ledger_detach_year: the year's partition becomes a table of
its own (``events_y<Y>``), its event and stream counts and its heads digest — sha256 over one
line "<stream_id> <version> <hash>\\n" per stream, bytewise order — recorded in archived_years.
The operator dumps that table (``pg_dump --table events_y<Y>``), keeps the dump with the anchor
files, and may then drop it.

``ledger verify`` accounts for each archived year: if its table is in the database (not yet
dropped, or restored from the dump), every chain in it is checked and its heads must give the
recorded digest; if not, a ``not_checked`` finding says so and how to restore it. The signed
anchors made before the detach cover the year's heads too: they are checked against a
restored table by running verify with the anchors on a database where it is attached again
(docs/ledger.md, "Partitions").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ledger.adapters.postgres_scan import scan
from ledger.audit import scanned_chain_breaks
from ledger.verify import ArchiveCheck, Finding

ARCHIVED = "SELECT year, partition, events, streams, heads_digest, detached_at FROM archived_years ORDER BY year"
DETACH = "SELECT year, partition, events, streams, heads_digest, detached_at FROM ledger_detach_year($1::smallint)"


@dataclass(frozen=True)
class ArchivedYear:
    year: int
    partition: str  # the table the year became, events_y<year>
    events: int
    streams: int
    heads_digest: str
    detached_at: datetime


class HeadsDigest:
    """ledger_heads_digest, computed from a scan (streams arrive in bytewise order)."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, stream_id: str, version: int, digest: str) -> None:
        self._sha.update(f"{stream_id} {version} {digest}\n".encode())

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


async def archived_years(pool: asyncpg.Pool) -> list[ArchivedYear]:
    return [ArchivedYear(*row) for row in await pool.fetch(ARCHIVED)]


async def detach_year(pool: asyncpg.Pool, year: int) -> ArchivedYear:
    """Take a closed year out of the live log (the schema owner only; refused while idempotency
    rows still name its events)."""
    row = await pool.fetchrow(DETACH, year)
    assert row is not None
    return ArchivedYear(*row)


async def check_year(pool: asyncpg.Pool, year: ArchivedYear) -> list[Finding]:
    """Every chain of an archived year's table, and its heads against the recorded digest."""
    subject = f"archived year {year.year}"
    if await pool.fetchval("SELECT to_regclass($1) IS NULL", year.partition):
        sentence = (
            f"{subject} ({year.events} events in {year.streams} streams, detached {year.detached_at:%Y-%m-%d}) is not "
            f"in this database, so it was not checked: restore its dump (pg_restore --table {year.partition}) and "
            "verify again"
        )
        return [Finding("not_checked", subject, sentence)]
    findings, heads, events, streams = [], HeadsDigest(), 0, 0
    async for stream in scan(pool, None, projections=False, table=year.partition):
        for crack in scanned_chain_breaks(stream.stream_id, stream.events):
            sentence = f"{stream.stream_id} v{crack.version} (position {crack.position}): {crack.reason} ({subject})"
            findings.append(Finding(crack.kind, f"{stream.stream_id} v{crack.version}", sentence))
        last = stream.events[-1]
        heads.add(stream.stream_id, last.version, last.hash)
        events, streams = events + len(stream.events), streams + 1
    if (heads.hexdigest(), events, streams) != (year.heads_digest, year.events, year.streams):
        sentence = (
            f"{subject}: {year.partition} holds {events} events in {streams} streams whose heads do not give the "
            f"digest recorded when it was detached ({year.events} events in {year.streams} streams): it was changed"
        )
        findings.append(Finding("archive", subject, sentence))
    return findings


def archive_check(pool: asyncpg.Pool) -> ArchiveCheck:
    """The verify hook: each archived year checked from its table, or named as not checked."""

    async def check() -> tuple[int, list[Finding]]:
        findings: list[Finding] = []
        years = await archived_years(pool)
        for year in years:
            try:
                findings += await check_year(pool, year)
            except asyncpg.PostgresError as error:  # e.g. no privilege on the table: said, never a crash
                sentence = f"archived year {year.year} could not be read ({type(error).__name__}: {error})"
                findings.append(Finding("not_checked", f"archived year {year.year}", sentence))
        return len(years), findings

    return check
