"""How fast the whole log is audited and one person-year replayed, on a large ledger.

    .venv/bin/python benchmarks/make_ledger.py --database-url DSN --events 1000000   # once
    .venv/bin/python benchmarks/ledger_audit.py --database-url DSN [--replays 2000] [--chains-only]

Prints, each with the machine's load average when it was measured (events/s unless named):

- COPY floor: the scan's COPY with its output thrown away — what PostgreSQL and the wire cost;
- scan: PostgresLedger.scan_streams (COPY parsed into streams, no checks);
- verify_chains: audit.verify_chains (scan, then every link and v2 hash spliced from the text);
- chain check alone: the same check over streams already in memory (the audit's Python cost);
- per-stream baseline: the access pattern verify had before (read_stream and projection_state
  per stream, each event decoded and its JSON re-encoded to hash it), over the first --sample
  events' streams;
- verify: verify_ledger without the follower and anchor checks (chains, the domain's replay of
  every stream against its stored totals);
- replay: ledger.replay.replay_report of --replays person-years picked at random (seeded), as
  `ledger replay` runs it after connecting: p50/p95/p99/max in ms.
With --chains-only the last two are skipped (the ``small`` shape's events are not the domain's);
--verify-only measures just the last two. ``verify`` and ``replay`` also print this process's CPU
time (PostgreSQL's is not in it): on shared cores it moves less than wall time.

``--jobs 1,2`` runs the verify once per number, in that order in the same run, the per-stream part
over that many worker processes (``ledger verify --jobs N``, ledger/verify_jobs.py); its CPU time
is this process's plus its workers' (RUSAGE_CHILDREN: they are joined before it is read).

Against a baseline revision in the same run: unpack it and run this script with its packages first
on the path (the editable install's finder comes after PYTHONPATH), alternating with the work tree:

    git archive <rev> | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base:/tmp/base/services .venv/bin/python benchmarks/ledger_audit.py --database-url DSN --verify-only
    .venv/bin/python benchmarks/ledger_audit.py --database-url DSN --verify-only

The first line printed names the tree whose ``ledger`` package ran.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import ledger
from ledger.adapters import postgres_sql as sql
from ledger.adapters.postgres import PostgresLedger
from ledger.audit import chain_breaks, scanned_chain_breaks, verify_chains
from ledger.replay import replay_report
from ledger.scan import StreamScan
from ledger.verify import verify_ledger
from ledger.verify_jobs import jobs_check


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    began = time.perf_counter()
    result = await work()
    return result, time.perf_counter() - began


async def copy_floor(pool: asyncpg.Pool) -> int:
    received = 0

    async def discard(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)

    async with pool.acquire() as connection:
        await connection.copy_from_query(sql.SCAN_EVENTS, "", None, "", output=discard, format="text")
    return received


async def scanned(store: PostgresLedger, limit: int | None = None) -> list[StreamScan]:
    streams, events = [], 0
    async with contextlib.aclosing(store.scan_streams(projections=False)) as scan:
        async for stream in scan:
            streams.append(stream)
            events += len(stream.events)
            if limit is not None and events >= limit:
                break
    return streams


async def per_stream_baseline(store: PostgresLedger, streams: list[str]) -> int:
    events = 0
    for stream_id in streams:
        recorded = await store.read_stream(stream_id)
        await store.projection_state(stream_id)
        chain_breaks(stream_id, recorded)
        events += len(recorded)
    return events


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:>12,.0f} events/s ({events:,} in {seconds:.1f} s)"


async def replays(store: PostgresLedger, streams: list[str], count: int) -> list[float]:
    picks = random.Random(42).sample(streams, min(count, len(streams)))
    times = []
    for stream_id in picks:
        psn_no, _, year = stream_id.rpartition("/")
        began = time.perf_counter()
        report = await replay_report(store, psn_no, int(year))
        times.append((time.perf_counter() - began) * 1000)
        assert report is not None and report["differences"] == [], stream_id
    return sorted(times)


async def main(args: Any) -> None:
    pool = await asyncpg.create_pool(args.database_url, min_size=2, max_size=4)
    store = PostgresLedger(pool)
    total = int(await pool.fetchval("SELECT count(*) FROM events"))
    print(f"{total:,} events; {os.cpu_count()} CPUs; {load()} at start; ledger from {ledger.__file__}")
    if args.verify_only:
        for jobs in args.jobs:
            await print_verify(store, total, jobs, args.database_url, pool)
        await print_replays(store, [s.stream_id for s in await scanned(store)], args.replays)
        await pool.close()
        return
    if args.replays_only:
        await print_replays(store, [s.stream_id for s in await scanned(store)], args.replays)
        await pool.close()
        return
    received, seconds = await timed(lambda: copy_floor(pool))
    print(f"{'COPY floor (output discarded)':<34}{rate(total, seconds)}  {received / 1e6:,.0f} MB  {load()}")
    streams, seconds = await timed(lambda: scanned(store))
    print(f"{'scan (parsed into streams)':<34}{rate(total, seconds)}  {load()}")
    breaks, seconds = await timed(lambda: verify_chains(store))
    print(f"{'verify_chains':<34}{rate(total, seconds)}  {len(breaks)} break(s)  {load()}")
    began = time.perf_counter()
    for stream in streams:
        scanned_chain_breaks(stream.stream_id, stream.events)
    print(f"{'chain check alone (in memory)':<34}{rate(total, time.perf_counter() - began)}  {load()}")
    sample = [s.stream_id for s in await scanned(store, args.sample)]
    events, seconds = await timed(lambda: per_stream_baseline(store, sample))
    print(f"{'per-stream baseline (sample)':<34}{rate(events, seconds)}  {load()}")
    if args.chains_only:
        await pool.close()
        return
    for jobs in args.jobs:
        await print_verify(store, total, jobs, args.database_url, pool)
    await print_replays(store, [s.stream_id for s in streams], args.replays)
    await pool.close()


def client_cpu() -> float:
    """This process's CPU seconds and its joined children's (the verify's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def print_verify(store: PostgresLedger, total: int, jobs: int, dsn: str, pool: asyncpg.Pool) -> None:
    streams = jobs_check(dsn, pool, jobs) if jobs > 1 else None
    cpu = client_cpu()
    report, seconds = await timed(lambda: verify_ledger(store, streams=streams))
    cpu = client_cpu() - cpu
    found = f"{len(report.findings)} finding(s)"
    print(f"{f'verify --jobs {jobs} (chains + totals)':<34}{rate(total, seconds)}  {found}  {load()}")
    print(f"{'verify, per CPU second (client)':<34}{total / cpu:>12,.0f} events/s ({cpu:.1f} s of CPU)")


async def print_replays(store: PostgresLedger, streams: list[str], count: int) -> None:
    cpu = time.process_time()
    times = await replays(store, streams, count)
    cpu = time.process_time() - cpu
    p = {q: times[min(len(times) - 1, int(q / 100 * len(times)))] for q in (50, 95, 99)}
    each = f"{len(times)} replays, {cpu / len(times) * 1000:.2f} ms CPU each"
    print(f"{'replay of one person-year (ms)':<34}p50 {p[50]:.2f}  p95 {p[95]:.2f}  p99 {p[99]:.2f}  "
          f"max {times[-1]:.2f}  ({each})  {load()}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--replays", type=int, default=2_000)
    parser.add_argument("--sample", type=int, default=50_000, help="events for the per-stream baseline")
    parser.add_argument("--chains-only", action="store_true", help="no domain replays (the small shape)")
    parser.add_argument("--replays-only", action="store_true", help="only the person-year replays")
    parser.add_argument("--verify-only", action="store_true", help="only verify and the person-year replays")
    parser.add_argument(
        "--jobs", type=lambda text: [int(n) for n in text.split(",")], default=[1], help="verify's jobs, e.g. 1,2"
    )
    asyncio.run(main(parser.parse_args()))
