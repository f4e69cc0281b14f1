"""The ledger service's followers catching up on a realistic log: each page read and decoded by
every follower, next to one read and one decode shared by all (ledger.follower.SharedPages).

    .venv/bin/python benchmarks/followers.py [--people 2000] [--rounds 3]

A generated day (examples.generator, seed 4242) is priced into a PostgreSQL ledger in a scratch
database by the consumer's own batch code (settlement.entrypoints.consumer.process_batch), in
batches of 200 records. Then,
in alternating rounds, each on a fresh copy of that database (CREATE DATABASE … TEMPLATE), the
three followers `ledger serve` runs (clearing, casemix, fund books) catch up on the whole log
concurrently, as the service runs them: once each reading its own pages, once sharing them.
Printed: events, wall seconds, this process's CPU seconds and its CPU µs per event and follower
(PostgreSQL's own CPU, in its processes, is not counted). DATABASE_URL picks the server;
unset, the project's local servers (`devservers`) are started. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka.structs import ConsumerRecord
from ledger.adapters.postgres import PostgresLedger
from ledger.follower import FollowerRunner, SharedPages, all_projections
from ledger.migrate import migrate
from settlement.entrypoints.consumer import process_batch
from settlement.entrypoints.offline import load_policy_book
from settlement.service_layer.handlers import SettlementService

from devservers.testing import execute_sql, postgres_admin_dsn, scratch_database, with_database
from ops.metrics import SettlementMetrics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the examples package is not installed
AT = datetime(2025, 6, 16, 8, tzinfo=UTC)
GROUP = 200


async def price_day(dsn: str, people: int) -> int:
    """The day priced into the ledger by the consumer's own batch code, as Kafka records of one
    partition in batches of 200; returns the events written."""
    from examples.generator import day_lines

    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    try:
        service = SettlementService(PostgresLedger(pool), load_policy_book(str(ROOT / "policies")), clock=lambda: AT)
        taken = int(AT.timestamp() * 1000)
        records = [
            ConsumerRecord("claims.v1", 0, offset, taken, 0, None, line.encode(), None, 0, len(line), [])
            for offset, line in enumerate(day_lines(people, seed=4242))
        ]
        for start in range(0, len(records), GROUP):
            await process_batch(service, tuple(records[start : start + GROUP]), SettlementMetrics())
        return int(await pool.fetchval("SELECT count(*) FROM events"))
    finally:
        await pool.close()


async def catch_up(dsn: str, shared: bool, batch: int) -> tuple[float, float]:
    """The three followers concurrently from their start, as `ledger serve` runs them."""
    pool = await asyncpg.create_pool(dsn, min_size=3, max_size=6)
    try:
        pages = SharedPages() if shared else None
        runners = [FollowerRunner(pool, p, batch_size=batch, pages=pages) for p in all_projections()]
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(runner.catch_up(max_batches=100_000) for runner in runners))
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await pool.close()


async def main(people: int, rounds: int, batch: int) -> None:
    with postgres_admin_dsn() as admin:
        async with scratch_database(admin, "followers_bench") as dsn:
            await migrate(dsn)
            events = await price_day(dsn, people)
            template = dsn.rsplit("/", 1)[1]
            print(f"{events:,} events from a {people}-person day; followers read pages of {batch}; load "
                  f"{os.getloadavg()[0]:.1f}")  # fmt: skip
            print("round mode              wall s   CPU s   events/s (wall)   CPU µs per event and follower")
            for round_ in range(1, rounds + 1):
                for shared in (False, True):
                    copy = f"{template}_copy"
                    await execute_sql(admin, f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
                    try:
                        wall, cpu = await catch_up(with_database(dsn, copy), shared, batch)
                    finally:
                        await execute_sql(admin, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
                    mode = "shared pages" if shared else "each its own"
                    print(f"{round_:>5} {mode:<16} {wall:>7.2f} {cpu:>7.2f} {events / wall:>17,.0f} "
                          f"{cpu / events / 3 * 1e6:>31.1f}")  # fmt: skip
            print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="events per follower page (LEDGER_OUTBOX_BATCH)")
    options = parser.parse_args()
    asyncio.run(main(options.people, options.rounds, options.batch))
