"""Counters over HTTP: pre-settlement and one person-year's totals at fixed offered rates, next to
`/healthz` of the same process (the same shell, no work) measured in the same run.

    .venv/bin/python benchmarks/http_counters.py [--rates 200,500,1000] [--seconds 10] [--people 300]
                                                 [--counters 200] [--connections 64]

The real stack (devservers' Kafka and PostgreSQL, `ledger serve` and one `settlement serve`) on a
scratch database: the people of a generated day are enrolled and credited and one visit of each
is settled through Kafka (`settlement send`, every answer awaited), so every person-year read
below exists and a hospital of each has a settlement in it (the rule of the totals route).

Open loop: request k of a load is due at start + k / rate and is sent then, whatever the answers
before it are doing; its latency runs from that due time to the last byte of its answer, so time
a request spends waiting for a free connection or for the client's own loop is counted, not hidden
(coordinated omission). Each request carries a valid bearer token of the right role: `--counters`
hospital counters, each its own token subject (the rate limit is per caller: 20/s, burst 40 by
default, so every counter stays under it at these rates), picked round-robin. Keep-alive
connections, opened as needed up to `--connections`; HTTP/1.1 written and read by hand
(a status line, Content-Length) so the client's cost stays small and is measured: its own CPU
seconds are printed next to the service's and PostgreSQL's (its backends for this database).

Prints p50/p95/p99/max, achieved rate, answers that were not the expected status, and CPU per
load. Asserts nothing. Every process, database and topic it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the e2e benchmark's helpers, beside this file

import asyncpg
from e2e_settlement import CHILDREN, Run, Stack, Unreachable, cpu_model, probe, server_env, stop, workload
from ledger.migrate import migrate
from settlement.entrypoints.send import send

from devservers.procs import free_port
from devservers.stack import BIN, Launcher, Service, spawn
from engine.ids import year_of
from ops.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


# -- a small open-loop HTTP/1.1 client -------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request's bytes, ready to write, and the status a correct answer has."""

    wire: bytes
    expect: int


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one HTTP/1.1 answer (the body read by its Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


@dataclass
class Pool:
    """Keep-alive connections to one port, opened on demand up to `limit`; a caller that finds
    none free waits (and that wait is part of its latency)."""

    port: int
    limit: int
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)
    opened: int = 0
    freed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle and self.opened >= self.limit:
                await self.freed.wait()
            while self.idle:
                reader, writer = self.idle.pop()
                if not reader.at_eof():  # the server closes a connection idle for 5 s (keep-alive)
                    return reader, writer
                writer.close()
                self.opened -= 1
            self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def give(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        async with self.freed:
            if connection is None:
                self.opened -= 1
            else:
                self.idle.append(connection)
            self.freed.notify()

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class Load:
    """What one offered load gave: latency per request from its due time, statuses, timing."""

    name: str
    rate: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: int = 0
    samples: dict[int, bytes] = field(default_factory=dict)  # the first unexpected answer of each status
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    load_avg: tuple[float, float] = (0.0, 0.0)


async def one(pool: Pool, request: Request, due: float, load: Load) -> None:
    connection = None
    try:
        connection = await pool.take()
        reader, writer = connection
        writer.write(request.wire)
        status, body = await read_answer(reader)
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        if connection is not None:
            connection[1].close()
        status, body, connection = 0, repr(error).encode(), None  # a broken connection is an error
    load.latencies_ms.append((time.perf_counter() - due) * 1000)
    load.statuses[status] += 1
    if status != request.expect:
        load.unexpected += 1
        load.samples.setdefault(status, body[:300])
    await pool.give(connection)


async def offer(pool: Pool, requests: list[Request], rate: int, load: Load) -> None:
    """Send request k at start + k / rate (open loop), then wait for every answer."""
    began, tasks = time.perf_counter(), []
    for k, request in enumerate(requests):
        due = began + k / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(pool, request, due, load)))
    await asyncio.gather(*tasks)
    load.seconds = time.perf_counter() - began


# -- CPU of the parts (Linux /proc) ----------------------------------------------------------


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[float, float]:
    values = [int(v) / TICK for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


async def measured(load: Load, parts: dict[str, list[int]], work: Callable[[], Awaitable[None]]) -> Load:
    """Run `work`, recording the CPU seconds of the client, of each part and of the machine."""
    before = {name: sum(proc_cpu(p) for p in pids) for name, pids in parts.items()}
    client, machine, load_before = client_cpu(), machine_busy(), os.getloadavg()[0]
    await work()
    load.client_cpu_s = client_cpu() - client
    load.cpu_s = {name: sum(proc_cpu(p) for p in pids) - before[name] for name, pids in parts.items()}
    busy, total = (a - b for a, b in zip(machine_busy(), machine, strict=True))
    load.cpu_s["machine"] = 100 * busy / total if total else 0.0  # % of all cores
    load.load_avg = (load_before, os.getloadavg()[0])
    return load


# -- the stack and its data ------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    """The requests of each kind, built once (bodies and tokens)."""

    pre_settle: list[Request]
    totals: list[Request]
    healthz: list[Request]


def tokens(launcher: Launcher, uses: Counter[str], counters: int) -> dict[str, list[dict[str, str]]]:
    """About `counters` hospital counters (own token subject each), spread over the institutions
    in proportion to their requests, so each counter offers about the same rate."""
    total, minted = uses.total(), {}
    for code, used in sorted(uses.items()):
        headers = []
        for n in range(max(1, round(counters * used / total))):
            token = launcher.issuer.mint(f"counter-{code}-{n}", ["hospital"], [code], ttl=6 * 3600)
            headers.append({"Authorization": f"Bearer {token}"})
        minted[code] = headers
    return minted


def requests_of(
    launcher: Launcher, claims: list[dict[str, Any]], settled: list[dict[str, Any]], counters: int
) -> Counters:
    uses = Counter(c["fixmedins_code"] for c in claims) + Counter(s["fixmedins_code"] for s in settled)
    by_code = tokens(launcher, uses, counters)
    pre, reads = [], []
    for n, claim in enumerate(claims):
        headers = by_code[claim["fixmedins_code"]]
        fresh = {"request_id": f"PRE{n:07d}", "mdtrt_id": f"MD-PRE{n:07d}"}  # a visit not yet settled
        body = json.dumps(claim | fresh, ensure_ascii=False).encode()
        pre.append(Request(http_request("POST", "/v1/pre-settle", headers[n % len(headers)], body), 200))
    for n, answer in enumerate(settled):
        headers = by_code[answer["fixmedins_code"]]
        path = f"/v1/persons/{answer['psn_no']}/years/{year_of(answer['setl_id'])}/totals"
        reads.append(Request(http_request("GET", path, headers[n % len(headers)]), 200))
    probe_request = Request(http_request("GET", "/healthz", {}), 200)
    return Counters(pre, reads, [probe_request])


async def settle_people(run: Run, stack: Stack, lines: list[str]) -> list[dict[str, Any]]:
    """Send the lines through Kafka (every answer awaited); the settlement answers."""
    path = run.logs / "setup.jsonl"
    path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    settings = CommonSettings(
        database_url=stack.dsn,  # type: ignore[arg-type]
        kafka_bootstrap_servers=run.bootstrap,
        kafka_topic_prefix=stack.topics.prefix,
    )
    out = StringIO()
    if await send(str(path), settings, wait_s=600, out=out) != 0:
        raise RuntimeError(f"the set-up lines were not all answered; see {run.logs}")
    answers = [json.loads(ln) for ln in out.getvalue().splitlines()]
    return [a for a in answers if a.get("msg_type") == "settlement"]


async def start(stack: Stack, profile: str | None) -> None:
    """`ledger serve` and one `settlement serve`, the latter under cProfile if `profile` names a
    file (written when it stops)."""
    if profile is None:
        await stack.start(1)
        return
    launcher = stack.launcher()
    stack.ledger = launcher.start("ledger", log="ledger.log")
    port = free_port()
    args = [sys.executable, "-m", "cProfile", "-o", profile, str(BIN / "settlement"), "serve"]
    process = spawn(args, launcher.environment(port, {}), stack.logs / "settlement-profiled.log")
    stack.instances = [Service("settlement", process, port, stack.logs / "settlement-profiled.log")]
    launcher.services += [stack.ledger, *stack.instances]
    CHILDREN.extend(s.process for s in [stack.ledger, *stack.instances])
    await launcher.all_ready([stack.ledger, *stack.instances])


async def backends(run: Run, database: str) -> list[int]:
    rows = await run.admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return [int(r["pid"]) for r in rows]


# -- the report ------------------------------------------------------------------------------


def quantiles(values: list[float]) -> tuple[float, float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) >= 2 else [float("nan")] * 99
    return q[49], q[94], q[98], max(values, default=float("nan"))


HEADER = (
    f"{'route':<11}{'offered/s':>10}{'sent':>7}{'achieved/s':>11}{'bad':>5}"
    f"{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    f"{'client s':>9}{'service s':>10}{'pg s':>6}{'client µs/r':>12}{'service µs/r':>13}{'busy %':>7}{'load':>11}"
)


def row(load: Load) -> str:
    p50, p95, p99, top = quantiles(load.latencies_ms)
    sent = len(load.latencies_ms)
    achieved = sent / load.seconds if load.seconds else float("nan")
    cpu = load.cpu_s
    client_us, service_us = (1e6 * s / sent if sent else float("nan") for s in (load.client_cpu_s, cpu["service"]))
    return (
        f"{load.name:<11}{load.rate:>10}{sent:>7}{achieved:>11,.1f}{load.unexpected:>5}"
        f"{p50:>10.2f}{p95:>10.2f}{p99:>10.2f}{top:>10.1f}"
        f"{load.client_cpu_s:>9.2f}{cpu['service']:>10.2f}{cpu['postgres']:>6.2f}{client_us:>12.0f}{service_us:>13.0f}"
        f"{cpu['machine']:>7.0f}{load.load_avg[0]:>6.1f}→{load.load_avg[1]:<4.1f}"
    )


# -- the run ---------------------------------------------------------------------------------


def repeat(requests: list[Request], count: int) -> list[Request]:
    return [requests[k % len(requests)] for k in range(count)]


async def measure_all(args: argparse.Namespace, service: Service, parts: dict[str, list[int]], work: Counters) -> None:
    pool = Pool(service.port, args.connections)
    every = {"healthz": work.healthz, "pre-settle": work.pre_settle, "totals": work.totals}
    kinds = {name: every[name] for name in args.routes.split(",")}
    try:
        for name, requests in kinds.items():  # warm-up: every connection opened, code paths run once
            await offer(pool, repeat(requests, 200), 200, Load(name, 200))
        for rate in [int(r) for r in args.rates.split(",")]:
            for name, requests in kinds.items():
                load = Load(name, rate)
                batch = repeat(requests, rate * args.seconds)
                await measured(load, parts, lambda b=batch, ld=load, r=rate: offer(pool, b, r, ld))  # type: ignore[misc]
                print(row(load), flush=True)
                if load.unexpected:
                    print(f"{'':<11}statuses: {dict(load.statuses)}", flush=True)
                    for status, body in load.samples.items():
                        print(f"{'':<11}first {status}: {body.decode(errors='replace')}", flush=True)
    finally:
        pool.close()


async def main(args: argparse.Namespace, env: dict[str, str]) -> int:
    server = await probe(env)
    logs = ROOT / ".devservers" / "bench" / time.strftime("counters-%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    enrol, claims, _ = await asyncio.to_thread(workload, args.people, args.claims, logs)
    admin = await asyncpg.connect(env["DATABASE_URL"])
    run = Run(env, admin, logs, partitions=4, instances=1, relay_interval_ms=100)
    try:
        database = await run.new_database()
        await migrate(run.dsn(database))
        stack = Stack(env, run.dsn(database), await run.topics("counters"), logs, 100)
        try:
            await start(stack, args.profile)
            began = time.monotonic()
            first_visits = list({c["psn_no"]: c for c in claims}.values())
            settled = await settle_people(run, stack, enrol + [json.dumps(c, ensure_ascii=False) for c in first_visits])
            await stack.quiet()
            print(
                f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
                f"PostgreSQL {server['server_version']} (fsync={server['fsync']})\n"
                f"{len(enrol)} enrolment/credit lines and {len(settled)} settled visits set up in "
                f"{time.monotonic() - began:.0f} s; {len(claims)} distinct pre-settlement bodies, "
                f"{len(settled)} person-years to read; {args.counters} counters (tokens), "
                f"up to {args.connections} connections; {args.seconds} s per load\n"
                "latency from each request's due time (open loop); CPU seconds over the load and per request "
                "(client: this process; service: `settlement serve`; pg: its PostgreSQL backends); busy: the "
                "whole machine, % of all cores; load: 1-minute load average before → after"
            )
            service = stack.instances[0]
            parts = {"service": [service.pid], "postgres": await backends(run, database)}
            work = requests_of(stack.launcher(), claims, settled, args.counters)
            print(HEADER, flush=True)
            await measure_all(args, service, parts, work)
        finally:
            stack.stop()
        print(f"logs: {logs}")
        return 0
    finally:
        await run.drop(*run.databases)
        await admin.close()
        await run.delete_topics()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,500,1000", help="offered requests/s, one load per route each")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per load (default 10)")
    parser.add_argument("--people", type=int, default=300, help="people of the generated day (default 300)")
    parser.add_argument("--claims", type=int, default=500, help="distinct pre-settlement bodies (default 500)")
    parser.add_argument("--counters", type=int, default=200, help="hospital counters, one token each (default 200)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections at most (default 64)")
    parser.add_argument("--routes", default="healthz,pre-settle,totals", help="which routes (default all three)")
    parser.add_argument("--profile", help="run `settlement serve` under cProfile, its stats to this file")
    options = parser.parse_args()
    os.environ.setdefault("MEDINS_ENV", "local")
    code = 1
    try:
        environment, _ = server_env()
        code = asyncio.run(main(options, environment))
    except Unreachable as error:
        print(f"http_counters: {error}", file=sys.stderr)
        code = 2
    except (RuntimeError, asyncpg.PostgresError) as error:
        print(f"http_counters: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("http_counters: interrupted; processes stopped, scratch databases dropped", file=sys.stderr)
        code = 130
    finally:
        stop(list(CHILDREN))
    sys.exit(code)
