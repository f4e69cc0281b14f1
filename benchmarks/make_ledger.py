"""A large ledger, fast: real person-years cloned into correctly chained rows, written by COPY.

    .venv/bin/python benchmarks/make_ledger.py --database-url DSN [--events 1000000] [--shape settlement]

The DSN's database is migrated, then filled until it holds at least --events events:

- ``settlement`` (default): a generated day (examples.generator, --people, --seed) is priced through
  the real settlement use case over an in-memory ledger; its person-year streams are the
  templates. Clone k of stream ``P/2025`` is ``P-k/2025`` (a psn_no the wire accepts) with the
  same events (new ids), chained afresh, and the template's inline projection with the clone's
  psn_no — exactly what folding the clone's events gives, so ``ledger verify`` finds it intact.
  Events ~1.2 kB on average (a ClaimSettled with its trail ~4 kB).
- ``small``: ten ~300-byte events per stream, no projection: benchmarks/ledger_append.py's rows.
  The domain cannot fold them (verify reports them unreadable); for the chain check alone.

Rows go in by COPY in transactions of at most 60,000 events, each at position (xid << 16) + i,
with the insert trigger on: every row's link and v2 hash are checked by the database as they
land. No idempotency or outbox rows are made (their ids would have to derive from new keys).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from ledger.hashing import GENESIS, canonical_json, event_hash_v2_of_text, jsonb_text
from ledger.migrate import migrate

PER_TRANSACTION = 60_000  # < 2**16: a transaction's events share its 16 index bits of position
CLONE_NAMESPACE = uuid.UUID("5d0b6c1e-8a47-4a53-9f3e-6a1f3c2b9e10")
EVENT_COLUMNS = ["position", "stream_id", "version", "event_id", "event_type", "data", "occurred_at", "prev_hash",
                 "hash", "hash_alg"]  # fmt: skip


@dataclass(frozen=True)
class Template:
    psn_no: str
    year: int
    events: list[tuple[uuid.UUID, str, str, datetime]]  # (event_id, type, data as jsonb text, occurred_at)
    projection: dict[str, Any] | None


async def settlement_templates(people: int, seed: int) -> list[Template]:
    """A priced day's person-years (the real engine, policies/ and examples.generator)."""
    import sys
    from pathlib import Path

    from ledger.adapters.memory import MemoryLedger
    from settlement.service_layer.handlers import SettlementService

    from engine.policy_files import load_policy_book

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))  # examples/ is not an installed package
    from examples.generator import day_lines

    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(root / "policies"), clock=lambda: datetime.now(UTC))
    for n, line in enumerate(day_lines(people, seed), start=1):
        await service.handle(line.encode(), source=f"day:{n}")
    templates = []
    for stream_id in await store.list_streams():
        psn_no, _, year = stream_id.rpartition("/")
        events = [
            (e.event_id, e.event_type, jsonb_text(e.data), e.occurred_at) for e in await store.read_stream(stream_id)
        ]
        _, projection = await store.read_projection(stream_id)
        templates.append(Template(psn_no, int(year), events, dict(projection) if projection else None))
    return templates


def small_event(stream: int, v: int) -> dict[str, Any]:
    """benchmarks/ledger_append.py's ~300-byte event."""
    return {"setl_id": f"S2025-{stream:08d}{v:02d}", "fen": 12_345 + v, "fund_pay": [{"type": "310100", "fen": 9_000}],
            "fixmedins_code": "H11010500001", "psn_no": f"{stream:020d}", "policy": "110000-310-2025@7c1f"}  # fmt: skip


def small_templates(streams: int) -> list[Template]:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for s in range(streams):
        events = [
            (uuid.uuid4(), "ClaimSettled" if v % 5 else "AccountCredited", jsonb_text(small_event(s, v)),
             at + timedelta(minutes=v))
            for v in range(10)
        ]  # fmt: skip
        out.append(Template(f"B{s:07d}", 2025, events, None))
    return out


def clone_rows(template: Template, k: int) -> tuple[list[tuple[Any, ...]], tuple[str, int, str] | None]:
    """Clone k's event rows (position filled in later) and its projection row."""
    stream_id = f"{template.psn_no}-{k}/{template.year}"
    rows, prev = [], GENESIS
    for version, (event_id, kind, data_text, occurred_at) in enumerate(template.events, start=1):
        ident = uuid.uuid5(CLONE_NAMESPACE, f"{event_id}:{k}")
        digest = event_hash_v2_of_text(
            prev, stream_id=stream_id, version=version, event_id=ident, event_type=kind, data_text=data_text,
            occurred_at=occurred_at,
        )  # fmt: skip
        rows.append((stream_id, version, ident, kind, data_text, occurred_at, prev, digest, 2))
        prev = digest
    if template.projection is None:
        return rows, None
    projection = {**template.projection, "psn_no": f"{template.psn_no}-{k}"}
    return rows, (stream_id, len(rows), canonical_json(projection))


def clones(
    templates: list[Template], events: int
) -> Iterator[tuple[list[tuple[Any, ...]], tuple[str, int, str] | None]]:
    made, k = 0, 0
    while made < events:
        for template in templates:
            rows, projection = clone_rows(template, k)
            made += len(rows)
            yield rows, projection
            if made >= events:
                return
        k += 1


async def write(
    connection: asyncpg.Connection, chunk: list[tuple[Any, ...]], projections: list[tuple[str, int, str]]
) -> None:
    years = sorted({int(row[0].rpartition("/")[2]) for row in chunk})  # each year's partition (migration 0011)
    await connection.execute("SELECT ledger_add_year(y::smallint) FROM unnest($1::int[]) AS y", years)
    async with connection.transaction():
        base = int(await connection.fetchval("SELECT pg_current_xact_id()::text::bigint")) << 16
        records = [(base + i, *row) for i, row in enumerate(chunk)]
        await connection.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
        if projections:
            await connection.copy_records_to_table(
                "person_year_totals", records=projections, columns=["stream_id", "version", "totals"]
            )


async def make(dsn: str, events: int, shape: str, people: int, seed: int) -> None:
    started = time.perf_counter()
    await migrate(dsn)
    templates = await settlement_templates(people, seed) if shape == "settlement" else small_templates(1_000)
    priced = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    await connection.set_type_codec(  # jsonb's binary form: version 1, then the text
        "jsonb", encoder=lambda text: b"\x01" + text.encode(), decoder=lambda raw: raw[1:].decode(),
        schema="pg_catalog", format="binary",
    )  # fmt: skip
    written, chunk, projections = 0, list[tuple[Any, ...]](), list[tuple[str, int, str]]()
    try:
        for rows, projection in clones(templates, events):
            if len(chunk) + len(rows) > PER_TRANSACTION:
                await write(connection, chunk, projections)
                written += len(chunk)
                chunk, projections = [], []
                print(f"\r{written:,} events", end="", flush=True)
            chunk += rows
            if projection is not None:
                projections.append(projection)
        await write(connection, chunk, projections)
        written += len(chunk)
        await connection.execute("ANALYZE")
        size = await connection.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await connection.close()
    done = time.perf_counter()
    print(f"\r{written:,} events from {len(templates)} template streams ({shape}); priced in "
          f"{priced - started:.1f} s, chained and copied in {done - priced:.1f} s "
          f"({written / (done - priced):,.0f} events/s); database {size}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=("settlement", "small"), default="settlement")
    parser.add_argument("--people", type=int, default=500, help="people in the priced day (settlement shape)")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    asyncio.run(make(options.database_url, options.events, options.shape, options.people, options.seed))
