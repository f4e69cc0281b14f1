"""End-to-end benchmark: claims settled per second and answer latency, over the real broker
and database, next to a pass-through baseline measured in the same run.

    .venv/bin/python benchmarks/e2e_settlement.py [--claims 600] [--rates 100,300,0] [--people 150]

For every offered load (claims per second; 0 = as fast as the producer can go):

- settlement: `ledger serve` + `settlement serve` as real processes on a fresh database and
  fresh topics; the people are enrolled first (answers awaited), then the claims are produced
  at the offered rate. Latency is from the produce call to the answer's arrival on
  settlements.v1 / rejections.v1 (relayed from the ledger's outbox).
- pass-through: the same claims, on fresh topics, through a consumer that copies each message
  to the answer topic unchanged (same batch size, no pricing, no database): the broker's and
  the client library's share of the latency on this machine.

Starts the local Kafka and PostgreSQL itself unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are
set. A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BATCH = 200


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    if "DATABASE_URL" in env and "KAFKA_BOOTSTRAP_SERVERS" in env:
        return env
    for command in (["up"], ["env"]):
        done = subprocess.run([str(BIN / "python"), "-m", "devservers", *command], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"benchmark: cannot start the local servers: {done.stderr.strip() or done.stdout.strip()}")
    for line in done.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line.removeprefix("export ").split("=", 1)
            env[name] = value.strip("'\"")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def people_and_claims(people: int, claims: int, seed: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Enrolment lines for the people, and `claims` distinct claims cut from their visits."""
    from settlement.entrypoints.send import route
    from settlement.sample import day_lines

    from contracts.topics import Topics

    lines = day_lines(people, seed)
    enrol = [ln for ln in lines if route(ln.encode())[0] == Topics().enrolments]
    visits = []
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("msg_type") == "claim" and message.get("med_type"):
            visits.append(message)
    made = []
    for n in range(claims):
        visit = dict(visits[n % len(visits)])
        visit["request_id"] = f"BENCH-{seed}-{n:06d}"
        visit["mdtrt_id"] = f"MD-BENCH-{seed}-{n:06d}"
        made.append(visit)
    return enrol, made


@dataclass
class Result:
    mode: str
    rate: int
    sent: int
    answered: int
    seconds: float
    latencies_ms: list[float]

    def row(self) -> str:
        q = statistics.quantiles(self.latencies_ms, n=100) if len(self.latencies_ms) >= 2 else [float("nan")] * 99
        rate = "max" if self.rate == 0 else str(self.rate)
        return (
            f"{rate:>6} {self.mode:<13} {self.sent:>6} {self.answered:>8} {self.answered / self.seconds:>10.1f}"
            f" {q[49]:>8.1f} {q[94]:>8.1f} {q[98]:>8.1f} {max(self.latencies_ms or [0]):>8.1f}"
        )


async def produce_and_measure(
    bootstrap: str, topic: str, answers: tuple[str, ...], claims: list[dict[str, Any]], rate: int, timeout: float
) -> tuple[int, float, list[float]]:
    """Produce the claims at `rate`/s keyed by person; wait for their answers. (answered, s, ms)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await asyncio.gather(producer.start(), consumer.start())
    try:
        partitions = [TopicPartition(t, p) for t in answers for p in await producer.partitions_for(t)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()

        async def listen() -> None:
            while len(latencies) < len(claims):
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.perf_counter()
                    for record in records:
                        request_id = json.loads(record.value).get("request_id")
                        if request_id in sent_at:
                            latencies.append((now - sent_at.pop(request_id)) * 1000)
            done.set()

        listener = asyncio.create_task(listen())
        began = time.perf_counter()
        for n, claim in enumerate(claims):
            if rate:
                pause = began + n / rate - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            sent_at[claim["request_id"]] = time.perf_counter()
            await producer.send(topic, json.dumps(claim, ensure_ascii=False).encode(), key=claim["psn_no"].encode())
        await producer.flush()
        try:
            await asyncio.wait_for(done.wait(), timeout=timeout)
        except TimeoutError:
            listener.cancel()
        return len(latencies), time.perf_counter() - began, latencies
    finally:
        await asyncio.gather(producer.stop(), consumer.stop())


async def pass_through(bootstrap: str, topic: str, answer: str, stop: asyncio.Event) -> None:
    """Consume and produce the same bytes: no pricing, no database, commit after each batch."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await asyncio.gather(consumer.start(), producer.start())
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=BATCH)
            sent = [await producer.send(answer, r.value, key=r.key) for records in batch.values() for r in records]
            if sent:
                await asyncio.gather(*sent)
                await consumer.commit()
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


async def run_pass_through(env: dict[str, str], claims: list[dict[str, Any]], rate: int) -> Result:
    from contracts.topics import Topics
    from ops.kafka import ensure_topics

    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    topics = Topics(f"bench-pt-{uuid.uuid4().hex[:8]}.")
    await ensure_topics({"bootstrap_servers": bootstrap}, [topics.claims, *topics.answers], partitions=4)
    stop = asyncio.Event()
    relay = asyncio.create_task(pass_through(bootstrap, topics.claims, topics.settlements, stop))
    await asyncio.sleep(3)  # let the consumer join its group
    answered, seconds, latencies = await produce_and_measure(
        bootstrap, topics.claims, topics.answers, claims, rate, 120
    )
    stop.set()
    await relay
    return Result("pass-through", rate, len(claims), answered, seconds, latencies)


def start(name: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    out = log.open("ab")
    process = subprocess.Popen(
        [str(BIN / name), "serve"], cwd=ROOT, env=env | {"HTTP_PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"benchmark: {name} serve exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return process, port
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit(f"benchmark: {name} serve not ready in 60 s; see {log}")


async def run_settlement(env: dict[str, str], enrol: list[str], claims: list[dict[str, Any]], rate: int) -> Result:
    import asyncpg
    from ledger.migrate import migrate
    from settlement.entrypoints.send import send

    from contracts.topics import Topics
    from ops.kafka import ensure_topics
    from ops.settings import CommonSettings

    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    server, _, _ = env["DATABASE_URL"].rpartition("/")
    database = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    dsn = f"{server}/{database}"
    topics = Topics(f"bench-{uuid.uuid4().hex[:8]}.")
    processes: list[subprocess.Popen[bytes]] = []
    logs = ROOT / ".devservers" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        await migrate(dsn)
        await ensure_topics({"bootstrap_servers": bootstrap}, [*topics.inbound, *topics.answers], partitions=4)
        service_env = env | {
            "DATABASE_URL": dsn,
            "KAFKA_TOPIC_PREFIX": topics.prefix,
            "SETTLEMENT_POLICIES_DIR": str(ROOT / "policies"),
            "SETTLEMENT_CONSUMER_GROUP": f"bench-{database}",
            "SETTLEMENT_BATCH_MAX_MESSAGES": str(BATCH),
            "LEDGER_RELAY_INTERVAL_MS": "20",
            "LOG_LEVEL": "WARNING",
        }
        for name in ("ledger", "settlement"):
            processes.append(start(name, service_env, logs / f"{name}.log")[0])
        path = logs / f"enrol-{database}.jsonl"
        path.write_text("".join(line + "\n" for line in enrol), encoding="utf-8")
        settings = CommonSettings(
            database_url=dsn,  # type: ignore[arg-type]
            kafka_bootstrap_servers=bootstrap,
            kafka_topic_prefix=topics.prefix,
        )
        with open(os.devnull, "w") as quiet:
            if await send(str(path), settings, wait_s=300, out=quiet) != 0:
                sys.exit("benchmark: the enrolments were not all answered; see .devservers/bench/*.log")
        answered, seconds, latencies = await produce_and_measure(
            bootstrap, topics.claims, topics.answers, claims, rate, 300
        )
        return Result("settlement", rate, len(claims), answered, seconds, latencies)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def versions() -> str:
    done = subprocess.run([str(BIN / "python"), "-m", "devservers", "versions"], capture_output=True, text=True)
    return " ".join(done.stdout.split()) if done.returncode == 0 else "local server versions unknown"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=600, help="claims per offered load (default 600)")
    parser.add_argument("--rates", default="100,300,0", help="offered loads in claims/s; 0 = unthrottled")
    parser.add_argument("--people", type=int, default=150, help="people the claims are spread over")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    env = server_env()
    enrol, claims = people_and_claims(args.people, args.claims, seed=4242)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {versions()}")
    print(f"{args.claims} claims per load over {args.people} people; 4 partitions; batches of {BATCH}")
    print(
        f"{'load/s':>6} {'mode':<13} {'sent':>6} {'answered':>8} {'claims/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}"
    )
    for rate in rates:
        for result in (await run_pass_through(env, claims, rate), await run_settlement(env, enrol, claims, rate)):
            print(result.row(), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
