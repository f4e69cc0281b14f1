"""From commit to Kafka acknowledgement: the outbox relay polling (before) and woken by NOTIFY (after).

    .venv/bin/python benchmarks/relay_latency.py [--messages 300] [--rate 50] [--rounds 2] [--backlog 100000]

DATABASE_URL (a DSN allowed to create databases) and KAFKA_BOOTSTRAP_SERVERS name the servers;
unset, the project's local ones are started (devservers). A scratch database and a topic are
made per run. Prints one line per mode and round; nothing is asserted.

- commit: one request with one answer in the outbox (PostgresLedger.commit), paced at --rate.
- latency: from the moment commit returned to the broker's acknowledgement of that answer
  (acks=all, idempotent producer), both on the benchmark's clock.
- poll: the relay as before migration 0010: a pass, then sleep the interval when caught up
  (100 ms, the shipped LEDGER_RELAY_INTERVAL_MS).
- notify: OutboxRelay.run — wakes on the commit's NOTIFY.
- the outbox first holds --backlog published rows (the week that `ledger prune` keeps), to show
  the relay's queries do not read them (the partial index outbox_unpublished).
The modes alternate within a round, on the same database, broker and topic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
from ledger.adapters.postgres import PostgresLedger
from ledger.migrate import migrate
from ledger.outbox import PENDING, OutboxRelay, idempotent_producer
from ledger.store import IdempotentRequest, NewEvent, OutboxMessage, StreamAppend

from devservers.testing import scratch_database

POLL_INTERVAL_S = 0.1


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    from devservers.testing import kafka_bootstrap, postgres_admin_dsn

    with postgres_admin_dsn() as dsn, kafka_bootstrap() as bootstrap:
        yield dsn, bootstrap


class TimedProducer:
    """The real idempotent producer, noting when the broker acknowledged each message."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.acked: dict[str, float] = {}

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *, headers: Any = None):  # type: ignore[no-untyped-def]
        message_id = dict(headers)["message_id"].decode()
        future = await self._producer.send(topic, value, key, headers=headers)
        future.add_done_callback(lambda _: self.acked.__setitem__(message_id, time.perf_counter()))
        return future


async def prefill(dsn: str, topic: str, rows: int) -> None:
    """--backlog rows already published, as a week of traffic leaves them before pruning."""
    connection = await asyncpg.connect(dsn)
    try:
        for start in range(0, rows, 50_000):
            async with connection.transaction():
                xid = int(await connection.fetchval("SELECT pg_current_xact_id()::text::bigint"))
                count = min(50_000, rows - start)
                records = [(uuid.uuid4(), (xid << 16) + i, topic, "old", b"{}", "{}", time_now()) for i in range(count)]
                columns = ["message_id", "position", "topic", "key", "value", "headers", "published_at"]
                await connection.copy_records_to_table("outbox", records=records, columns=columns)
        await connection.execute("ANALYZE outbox")
    finally:
        await connection.close()


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def poll_relay(relay: OutboxRelay, stop: asyncio.Event) -> None:
    """The relay loop before migration 0010: a pass, then the interval when caught up."""
    while not stop.is_set():
        if await relay.relay_once() < 500:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLL_INTERVAL_S)


async def one_mode(pool: asyncpg.Pool, producer: TimedProducer, topic: str, mode: str, args: Any) -> list[float]:
    store, stop = PostgresLedger(pool), asyncio.Event()
    relay = OutboxRelay(pool, producer)  # type: ignore[arg-type]
    task = asyncio.create_task(poll_relay(relay, stop) if mode == "poll" else relay.run(stop, POLL_INTERVAL_S))
    await asyncio.sleep(0.5)
    committed: dict[str, float] = {}
    tag = uuid.uuid4().hex[:6]
    for n in range(args.messages):
        started = time.perf_counter()
        message = OutboxMessage(uuid.uuid4(), topic, f"P{n % 50}", b'{"answer": 1}')
        event = NewEvent(uuid.uuid4(), "AccountCredited", {"n": n}, time_now())
        await store.commit(
            [StreamAppend(f"{tag}-{n}/2025", 0, [event])],
            request=IdempotentRequest(f"{tag}:{n}", "b", {"n": n}),
            outbox=[message],
        )
        committed[str(message.message_id)] = time.perf_counter()
        await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - started)))
    async with asyncio.timeout(30):
        while any(m not in producer.acked for m in committed):
            await asyncio.sleep(0.05)
    stop.set()
    await task
    return [(producer.acked[m] - t) * 1000 for m, t in committed.items()]


def line(mode: str, round_: int, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p = {q: ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] for q in (50, 95, 99)}
    return (
        f"{mode:<8}{round_:>6}{len(ordered):>9}{statistics.mean(ordered):>10.1f}{p[50]:>9.1f}{p[95]:>9.1f}"
        f"{p[99]:>9.1f}{ordered[-1]:>9.1f}"
    )


async def pending_query_ms(pool: asyncpg.Pool) -> tuple[float, str]:
    async with pool.acquire() as connection:
        plan = await connection.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + PENDING, 500)
    executed = [r[0] for r in plan if r[0].startswith("Execution Time")]
    scan = next((r[0].strip(" ->") for r in plan if "Scan" in r[0]), "?")
    return float(executed[0].split(":")[1].split()[0]), scan


async def main(args: Any) -> None:
    from devservers.testing import create_topic, topic_name

    with servers() as (admin_dsn, bootstrap):
        async with scratch_database(admin_dsn, "relay_bench") as dsn:
            await migrate(dsn)
            topic = topic_name("relay-bench")
            await create_topic(bootstrap, topic, 4)
            await prefill(dsn, topic, args.backlog)
            pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
            kafka = idempotent_producer(bootstrap_servers=bootstrap, client_id="relay-bench")
            await kafka.start()
            try:
                producer = TimedProducer(kafka)
                load = os.getloadavg()[0]
                print(f"{os.cpu_count()} CPUs, load average {load:.2f} at start; {args.messages} commits per mode")
                print(f"at {args.rate}/s; {args.backlog:,} published rows in the outbox")
                print(f"{'mode':<8}{'round':>6}{'answers':>9}{'mean ms':>10}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
                for round_ in range(1, args.rounds + 1):
                    for mode in ("poll", "notify"):
                        print(line(mode, round_, await one_mode(pool, producer, topic, mode, args)), flush=True)
                ms, plan = await pending_query_ms(pool)
                print(f"relay's pending query over {args.backlog:,} published rows: {ms:.3f} ms ({plan})")
                print(f"load average {os.getloadavg()[0]:.2f} at the end")
            finally:
                await kafka.stop()
                await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="commits per second")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=100_000, help="published rows already in the outbox")
    asyncio.run(main(parser.parse_args()))
