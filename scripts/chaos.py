"""Seeded SIGKILL campaigns: kill a part of the running system mid-stream, restart it, let
everything drain, and check that nothing was lost, nothing done twice, every total right.

    .venv/bin/python scripts/chaos.py --runs 200 --seed 1 --target all --report chaos.jsonl

Each run is a fresh database (migrated) and fresh topics on servers this script starts for
itself (devservers, in --home, default .devservers/chaos), so a campaign never touches the
servers of a test session. A run:

1. generates a day of messages (`settlement sample`'s generator, seeded per run) and prices it
   with the offline CLI: the reference;
2. starts `ledger serve` (outbox relay) and `settlement serve`, sends the enrolments and waits
   for their answers, then produces the claims without waiting;
3. waits until a random number of claims has settled (seeded), SIGKILLs the target — the
   settlement service, the relay (`ledger serve`), PostgreSQL's postmaster or the Kafka
   broker — waits a random moment and starts it again;
4. reads every answer from the answer topics once they stop coming, and checks:
   lost (a message of the input with no answer), double (a request with two different
   answers, or more ClaimSettled events than the reference settles), wrong (an answer's
   figures or a person's annual totals that differ from the offline CLI's), `ledger verify`
   (hash chains, totals and clearing against the events) and /readyz of both services.

One JSON object per run goes to --report (and a summary to stdout); exit 1 if any run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devservers.testing import execute_sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the end-to-end harness: tests/e2e_stack.py
sys.path.insert(0, str(ROOT))  # the examples package (examples/generator.py) is not installed

TARGETS = ("settlement", "postgres", "kafka", "relay")


@dataclass
class Outcome:
    run: int
    target: str
    seed: int
    messages: int = 0
    settlements: int = 0  # what the offline CLI settles of this run's input
    killed_after_settled: int = 0
    settled_at_restart: int = 0
    down_s: float = 0.0
    drain_s: float = 0.0
    lost: int = 0
    double: int = 0
    wrong: int = 0
    redelivered: int = 0  # the same answer (same event_id) published again: allowed, consumers dedupe
    verify: bool = False
    ready: bool = False
    seconds: float = 0.0
    error: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.lost or self.double or self.wrong or self.error) and self.verify and self.ready


class Servers:
    """Kafka and PostgreSQL of this campaign (devservers in their own home), killable."""

    def __init__(self, home: Path) -> None:
        from devservers.kafka import KafkaBroker
        from devservers.paths import layout
        from devservers.postgres import PostgresServer

        self.where = layout(home).create()
        self.kafka, self.postgres = KafkaBroker(self.where), PostgresServer(self.where)

    def up(self) -> None:
        self.kafka.up()
        self.postgres.up()

    def down(self) -> None:
        self.kafka.down()
        self.postgres.down()

    @property
    def bootstrap(self) -> str:
        return str(self.kafka.status().bootstrap)

    @property
    def admin_dsn(self) -> str:
        return str(self.postgres.status().dsn())

    def kill(self, name: str) -> None:
        server = self.kafka if name == "kafka" else self.postgres
        pid = server.status().pid
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)

    def restart(self, name: str) -> None:
        """Start the killed server again on the ports it had: devservers would otherwise move to
        free ones if the old ones still look taken, and every client would lose the broker (two
        Kafka runs of the first campaign on today's devservers failed so: a harness fault)."""
        from devservers.procs import read_state

        server = self.kafka if name == "kafka" else self.postgres
        pinned = _port_variables(name, read_state(server.state_file))
        os.environ.update(pinned)
        try:
            for attempt in range(20):  # a killed postmaster's backends may hold shared memory a moment
                try:
                    server.up()
                    return
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)
        finally:
            for variable in pinned:
                os.environ.pop(variable, None)


def _port_variables(name: str, state: dict[str, int]) -> dict[str, str]:
    """DEVSERVERS_*_PORT variables that pin a server to the ports in its state file."""
    if name == "postgres":
        return {"DEVSERVERS_POSTGRES_PORT": str(state["port"])} if state.get("port") else {}
    names = {"port": "DEVSERVERS_KAFKA_PORT", "controller_port": "DEVSERVERS_KAFKA_CONTROLLER_PORT"}
    names["secure_port"] = "DEVSERVERS_KAFKA_SECURE_PORT"
    return {variable: str(state[key]) for key, variable in names.items() if state.get(key)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    return True


async def _settled(stack: Any) -> int:
    try:
        return int(await stack.count_events("ClaimSettled"))
    except Exception:  # the database is down (a postgres run): nothing counted this time
        return -1


def _running(stack: Any, name: str) -> list[Any]:
    return [s for s in stack.launcher.services if s.name == name and s.process.poll() is None]


async def _wait_settled(stack: Any, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = await _settled(stack)
        if count >= at_least:
            return count
        await asyncio.sleep(0.02)
    raise TimeoutError(f"only {count} of {at_least} claims settled within {timeout:.0f} s")


async def _kill_and_restart(target: str, stack: Any, servers: Servers, rng: random.Random) -> float:
    """SIGKILL the target, keep it down a random moment, start it again; returns seconds down."""
    down_for = rng.uniform(0.0, 2.0)
    began = time.monotonic()
    if target == "settlement":
        (service,) = _running(stack, "settlement")
        stack.kill(service)
        await asyncio.sleep(down_for)
        await stack.start_settlement(**_SETTLEMENT_ENV)
    elif target == "relay":
        stack.kill(stack.ledger)
        await asyncio.sleep(down_for)
        await stack.start_ledger()
    else:
        await asyncio.to_thread(servers.kill, target)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(servers.restart, target)
    return time.monotonic() - began


_SETTLEMENT_ENV = {"SETTLEMENT_BATCH_MAX_MESSAGES": "10", "SETTLEMENT_MAX_RETRY_SECONDS": "1"}


def _judge(outcome: Outcome, expected: dict[str, Any], published: list[dict[str, Any]], events: int) -> None:
    """lost, double and wrong, from the answers against the offline reference."""
    from e2e_stack import figures

    answers: dict[str, list[dict[str, Any]]] = {}
    for answer in published:
        answers.setdefault(answer.get("request_id") or answer.get("source") or "?", []).append(answer)
    outcome.redelivered = sum(n - 1 for n in Counter(a["event_id"] for a in published).values())
    answerable = {k for k, a in expected.items() if a.get("request_id")}
    lost = sorted(answerable - set(answers))
    broken_expected = len(expected) - len(answerable)
    broken_got = sum(1 for k, found in answers.items() if not found[0].get("request_id"))
    outcome.lost = len(lost) + max(0, broken_expected - broken_got)
    outcome.details += [f"lost: {k}" for k in lost[:5]]
    # Two different answers (event ids) for one request id is a double — except a producer's
    # retry with a changed body, answered idempotency_conflict (the reference's last answer).
    doubled = [
        k
        for k, found in answers.items()
        if len({a["event_id"] for a in found}) > 1 and expected.get(k, {}).get("code") != "idempotency_conflict"
    ]
    settlements = sum(a["msg_type"] == "settlement" for a in expected.values())
    outcome.double = len(doubled) + max(0, events - settlements)
    outcome.details += [f"double: {k}" for k in doubled[:5]]
    wrong = [k for k in answerable & set(answers) if all(figures(a) != figures(expected[k]) for a in answers[k])]
    outcome.wrong += len(wrong)
    outcome.details += [f"wrong answer: {k}" for k in sorted(wrong)[:5]]


async def _check_totals(outcome: Outcome, stack: Any, service: Any, expected_totals: dict[str, Any]) -> None:
    from e2e_stack import money_totals

    for psn_no, offline_totals in expected_totals.items():
        if money_totals(await stack.totals(service, psn_no)) != money_totals(offline_totals):
            outcome.wrong += 1
            outcome.details.append(f"wrong totals: {psn_no}")


async def _ready(stack: Any) -> bool:
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(150):
            alive = _running(stack, "settlement") + _running(stack, "ledger")
            codes = []
            for service in alive:
                with contextlib.suppress(httpx.HTTPError):
                    codes.append((await client.get(service.url("/readyz"))).status_code)
            if codes and all(code == 200 for code in codes):
                return True
            await asyncio.sleep(0.2)
    return False


def _verify(dsn: str) -> bool:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ledger"), "verify", "--database-url", dsn, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode == 0


async def one_run(run: int, target: str, seed: int, servers: Servers, args: argparse.Namespace) -> Outcome:
    from e2e_stack import Stack, offline_reference, topic_runs
    from ledger.migrate import migrate

    from devservers.testing import with_database
    from examples.generator import day_lines

    rng = random.Random(seed)
    outcome = Outcome(run, target, seed)
    began = time.monotonic()
    folder = Path(args.home) / "runs" / f"{run:04d}-{target}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = day_lines(people=args.people, seed=seed)
    enrolments, claims = topic_runs(lines)
    claims = _with_hostile(claims, args.hostile, rng)
    outcome.messages = len(enrolments) + len(claims)
    expected, expected_totals = await offline_reference(enrolments + claims, folder)
    settled = outcome.settlements = sum(a["msg_type"] == "settlement" for a in expected.values())
    database = f"chaos_{uuid.uuid4().hex[:12]}"
    await execute_sql(servers.admin_dsn, f'CREATE DATABASE "{database}"')
    dsn = with_database(servers.admin_dsn, database)
    stack = Stack(dsn, servers.bootstrap, folder)
    try:
        await migrate(dsn)
        await stack.create_topics(args.partitions)
        await stack.start_ledger()
        await stack.start_settlement(**_SETTLEMENT_ENV)
        await stack.send(enrolments, wait_s=180)
        await stack.produce(claims)
        outcome.killed_after_settled = rng.randint(1, max(1, int(settled * 0.7)))
        await _wait_settled(stack, outcome.killed_after_settled, timeout=180)
        outcome.down_s = round(await _kill_and_restart(target, stack, servers, rng), 2)
        outcome.settled_at_restart = await _settled(stack)
        drain = time.monotonic()
        published = await stack.all_answers(expected=len(expected), timeout=args.drain_timeout)
        outcome.drain_s = round(time.monotonic() - drain, 2)
        _judge(outcome, expected, published, await stack.count_events("ClaimSettled"))
        (service,) = _running(stack, "settlement")
        await _check_totals(outcome, stack, service, expected_totals)
        outcome.ready = await _ready(stack)
        outcome.verify = await asyncio.to_thread(_verify, dsn)
    except Exception as error:  # a stall or a crash: the run failed, the campaign goes on
        outcome.error = f"{type(error).__name__}: {str(error)[:300]}"
    finally:
        await stack.close()
        outcome.seconds = round(time.monotonic() - began, 1)
        if outcome.passed and not args.keep:
            with contextlib.suppress(Exception):
                await execute_sql(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for log in folder.glob("*"):
                log.unlink()
            folder.rmdir()
    return outcome


def _with_hostile(claims: list[str], count: int, rng: random.Random) -> list[str]:
    """The claims with ``count`` messages of the hostile corpus (tests/fixtures/hostile) put in at
    random places: under chaos the poison paths (rejection, dead letter) must hold too."""
    from hostile_corpus import corpus

    usable = [
        e.body.decode() for e in corpus()
        if e.offline and not e.kafka and e.answer == "rejection" and _one_text_line(e.body) and len(e.body) < 200_000
    ]  # fmt: skip
    mixed = list(claims)
    for body in rng.sample(usable, min(count, len(usable))):
        mixed.insert(rng.randrange(len(mixed) + 1), body)
    return mixed


def _one_text_line(body: bytes) -> bool:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and len(text.splitlines()) == 1


def _summary(outcomes: list[Outcome]) -> str:
    lines = [f"{len(outcomes)} runs, {sum(o.passed for o in outcomes)} passed"]
    for target in TARGETS:
        mine = [o for o in outcomes if o.target == target]
        if not mine:
            continue
        total = sum(o.messages for o in mine)
        lines.append(
            f"  {target:<10} runs {len(mine):>4}  messages {total:>7}  lost {sum(o.lost for o in mine)}  "
            f"double {sum(o.double for o in mine)}  wrong {sum(o.wrong for o in mine)}  "
            f"verify failed {sum(not o.verify for o in mine)}  not ready {sum(not o.ready for o in mine)}  "
            f"errors {sum(bool(o.error) for o in mine)}  redelivered answers {sum(o.redelivered for o in mine)}  "
            f"median run {sorted(o.seconds for o in mine)[len(mine) // 2]:.0f} s"
        )
    return "\n".join(lines)


async def campaign(args: argparse.Namespace) -> int:
    servers = Servers(Path(args.home))
    await asyncio.to_thread(servers.up)
    targets = TARGETS if args.target == "all" else (args.target,)
    master = random.Random(args.seed)
    outcomes: list[Outcome] = []
    report = Path(args.report).open("a", encoding="utf-8") if args.report else None  # noqa: SIM115
    try:
        for run in range(1, args.runs + 1):
            target = targets[(run - 1) % len(targets)]
            outcome = await one_run(run, target, master.randrange(1_000_000), servers, args)
            outcomes.append(outcome)
            record = asdict(outcome) | {"passed": outcome.passed}
            if report:
                report.write(json.dumps(record) + "\n")
                report.flush()
            verdict = "ok" if outcome.passed else f"FAILED {outcome.error} {outcome.details}"
            print(f"run {run:>4} {target:<10} seed {outcome.seed:>6} {outcome.seconds:>5.1f} s  {verdict}", flush=True)
    finally:
        if report:
            report.close()
        if not args.keep_servers:
            await asyncio.to_thread(servers.down)
    print(_summary(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="same seed, same campaign (inputs, kill moments)")
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all", help="what to kill (all: in turn)")
    parser.add_argument("--people", type=int, default=30, help="people in each run's generated day (default 30)")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--hostile", type=int, default=3, help="hostile corpus messages mixed into each run's claims")
    parser.add_argument("--drain-timeout", type=float, default=180, help="seconds for every answer to arrive")
    parser.add_argument("--home", default=str(ROOT / ".devservers" / "chaos"), help="the campaign's servers and logs")
    parser.add_argument("--report", help="append one JSON object per run to this file")
    parser.add_argument("--keep", action="store_true", help="keep every run's database and logs (failed runs' always)")
    parser.add_argument("--keep-servers", action="store_true", help="leave the campaign's servers running")
    args = parser.parse_args()
    os.environ.setdefault("MEDINS_ENV", "local")  # the services of a campaign use the development log key
    try:
        return asyncio.run(campaign(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
