"""Seeded fuzzing of the inbound boundary: generated hostile messages through the settlement
service, counting crashes, unanswered messages and stalls.

    .venv/bin/python scripts/fuzz.py --messages 100000 --seed 1            # offline, in-process
    .venv/bin/python scripts/fuzz.py --messages 10000 --seed 1 --kafka     # the real services

Messages are mutations of a generated day of valid ones (`settlement sample`'s generator): a
field replaced by a hostile value (NUL, control and format characters, lone surrogates, blanks,
huge numbers and strings, deep nesting, impossible dates, wrong types) or by a value the
contract accepts at its edges (which reaches the engine), a field dropped or added, bytes
flipped, inserted or cut, keys duplicated, or bytes with no structure at all.

Offline, every message goes through the service layer over the in-memory ledger (what
`settlement price` runs). A *crash* is an exception out of it or an answer that says the
service failed (internal_error, invariant_broken); *unanswered* is a message with no answer;
a *stall* is a message that took longer than --stall-seconds. Over Kafka, every message is
produced to claims.v1 and its answer is found by its topic/partition/offset (or request id);
the service's dead-letter count and /readyz are read at the end. Exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))  # the examples package (examples/generator.py) is not installed

FAILURES = ("internal_error", "invariant_broken")
HOSTILE_TEXT = [
    "", " ", "\t", "\x00", "a\x00b", "\x01\x1f", "\x7f", "\x85", "\u202e", "\u200b", "\ufeff", "\u2028",
    "x" * 65, "x" * 10_000, "😀", "中文", "null", "0", "-1", "1e999", "S2025-", "S99999-0", "P1/2025",
    "../../etc/passwd", "'; DROP TABLE events; --", "%s%s%n", "{{7*7}}", "\\ud800",
]  # fmt: skip
HOSTILE_NUMBERS: list[Any] = [0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**40, 1e308, -1e308, 0.1, 1e-300, 3.5]
HOSTILE_DATES = [
    "9999-12-31", "0001-01-01", "2025-02-30", "2025-13-01", "2025-00-10", "1899-12-31", "2101-01-01",
    "2025-03-01T00:00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2025-3-1",
]  # fmt: skip


def _deep(depth: int, rng: random.Random) -> Any:
    value: Any = rng.choice([1, "x", None, []])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _hostile_value(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(HOSTILE_TEXT)
    if kind == 1:
        return rng.choice(HOSTILE_NUMBERS)
    if kind == 2:
        return rng.choice(HOSTILE_DATES)
    if kind == 3:
        return _deep(rng.choice([2, 10, 63, 64, 65, 200]), rng)
    if kind == 4:
        return rng.choice([None, True, False, [], {}, [1, 2], {"x": 1}])
    if kind == 5:
        return "y" * rng.choice([100, 1_000, 100_000])
    return rng.choice(HOSTILE_TEXT) * rng.randint(1, 5)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _set(message: Any, path: tuple[Any, ...], value: Any, drop: bool = False) -> None:
    for step in path[:-1]:
        message = message[step]
    if drop and isinstance(message, dict):
        message.pop(path[-1], None)
    else:
        message[path[-1]] = value


def _replace_field(base: dict[str, Any], rng: random.Random) -> bytes:
    message = json.loads(json.dumps(base))
    for _ in range(rng.randint(1, 3)):
        _set(message, rng.choice(list(_paths(message))), _hostile_value(rng))
    return json.dumps(message).encode()  # ensure_ascii: a "\\ud800" value travels as its escape


def _drop_or_add(base: dict[str, Any], rng: random.Random) -> bytes:
    message = json.loads(json.dumps(base))
    if rng.random() < 0.5:
        _set(message, rng.choice(list(_paths(message))), None, drop=True)
    else:
        message[rng.choice(["extra", "\x00", "msg_type ", "k" * 300])] = _hostile_value(rng)
    return json.dumps(message, ensure_ascii=False).encode()


def _bytes(base: dict[str, Any], rng: random.Random) -> bytes:
    body = bytearray(json.dumps(base, ensure_ascii=False).encode())
    for _ in range(rng.randint(1, 8)):
        where = rng.randrange(len(body))
        action = rng.randrange(4)
        if action == 0:
            body[where] ^= 1 << rng.randrange(8)
        elif action == 1:
            body[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif action == 2:
            del body[where : where + rng.randint(1, 4)]
        else:
            body = body[:where]
            break
    return bytes(body)


def _duplicate_key(base: dict[str, Any], rng: random.Random) -> bytes:
    key = rng.choice(list(base))
    text = json.dumps(base, ensure_ascii=False)
    return (text[:-1] + f", {json.dumps(key)}: {json.dumps(_hostile_value(rng))}}}").encode()


# Values the contract accepts, at its edges: they reach the engine instead of being refused.
EDGE_VALUES: dict[str, list[Any]] = {
    "pric": ["0", "0.01", "9999999999.99", "1234567.89", "0.000001"],
    "det_item_fee_sumamt": ["0", "0.01", "9999999999.99", "-0.01"],
    "cnt": ["0.0001", "1", "99999999.9999", "3.3333", "-1"],
    "selfpay_prop": ["0", "1", "0.9999", "0.0001"],
    "begntime": ["1900-01-01 00:00:00", "2024-12-31 23:59:59", "2025-01-01 00:00:00", "2100-12-31 23:59:59"],
    "endtime": ["1900-01-01 00:00:00", "2025-01-01 00:00:00", "2025-12-31 23:59:59", "2026-01-01 00:00:00"],
    "enrol_date": ["1900-01-01", "2024-09-01", "2025-02-28", "2025-12-31", "2100-12-31"],
    "birth_date": ["1900-01-01", "2025-12-31", "2100-12-31"],
    "year": [2000, 2024, 2025, 2026, 2100],
    "month": [1, 12],
    "continuous_years": [0, 100],
    "break_years": [0, 100],
    "paid_back_years": [0, 100],
    "zero_claim_years": [0, 100],
    "acct_opening_balance": ["0", "9999999999.99"],
    "contribution_base": ["0", "0.01", "9999999999.99"],
    "drg_weight": ["0.0001", "9999.9999"],
    "dip_score": ["0.0001", "999999.9999"],
    "sent_at": ["1900-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00"],
}


def _edge(base: dict[str, Any], rng: random.Random) -> bytes:
    message = json.loads(json.dumps(base))
    paths = [p for p in _paths(message) if isinstance(p[-1], str) and p[-1] in EDGE_VALUES]
    for path in rng.sample(paths, min(len(paths), rng.randint(1, 3))):
        _set(message, path, rng.choice(EDGE_VALUES[path[-1]]))
    fresh = f"FZ-{rng.randrange(10**9)}"  # a new request (and visit), so it is priced, not a conflicting retry
    message["request_id"] = fresh
    if "mdtrt_id" in message:
        message["mdtrt_id"] = f"MD-{fresh}"
    return json.dumps(message, ensure_ascii=False).encode()


def _noise(_: dict[str, Any], rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if kind == 1:
        depth = rng.choice([65, 1_000, 50_000])
        return b"[" * depth + b"]" * depth
    if kind == 2:
        return json.dumps(_hostile_value(rng)).encode()
    if kind == 3:
        return b""
    return b'{"msg_type": "claim", "request_id": "\\ud800\\udfff\\udc00"}'


MUTATORS: list[tuple[Callable[[dict[str, Any], random.Random], bytes], int]] = [
    (_replace_field, 35),
    (_edge, 20),
    (_drop_or_add, 12),
    (_bytes, 20),
    (_duplicate_key, 5),
    (_noise, 8),
]


def messages(count: int, seed: int) -> Iterator[bytes]:
    from examples.generator import day_lines

    rng = random.Random(seed)
    bases = []
    for line in day_lines(people=60, seed=seed):
        with contextlib.suppress(ValueError):  # the day holds broken lines on purpose; mutations start from whole ones
            bases.append(json.loads(line))
    bases = [b for b in bases if isinstance(b, dict)]
    mutators, weights = zip(*MUTATORS, strict=True)
    for _ in range(count):
        mutate = rng.choices(mutators, weights)[0]
        yield mutate(rng.choice(bases), rng)


def _verdict(answer: Any) -> str:
    return getattr(getattr(answer, "code", None), "value", None) or answer.msg_type


async def offline(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import UTC, datetime

    from ledger.adapters.memory import MemoryLedger
    from settlement.entrypoints.offline import answer_line
    from settlement.service_layer.handlers import SettlementService

    from contracts.wire import encode_json
    from engine.policy_files import load_policy_book
    from examples.generator import day_lines

    book = load_policy_book(ROOT / "policies")
    # Each fresh ledger first records the day's enrolments and credits, so claims reach the engine.
    people = [
        line.encode() for line in day_lines(people=60, seed=args.seed) if '"enrolment' in line or "credit" in line
    ]
    outcomes: Counter[str] = Counter()
    crashes, answered, stalls, slowest = 0, 0, 0, 0.0
    service = None
    began = time.monotonic()
    for number, raw in enumerate(messages(args.messages, args.seed), start=1):
        if number % 5_000 == 1:  # a fresh ledger now and then: memory stays flat over 100,000
            service = SettlementService(MemoryLedger(), book, clock=lambda: datetime.now(UTC))
            for line in people:
                await answer_line(service, line, "setup")
        assert service is not None
        started = time.perf_counter()
        try:
            answer = await answer_line(service, raw, f"fuzz:{number}")
            json.loads(encode_json(answer))  # the answer itself is valid JSON
        except Exception as error:  # answer_line must never raise
            crashes += 1
            print(f"crash on message {number}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        spent = time.perf_counter() - started
        slowest = max(slowest, spent)
        stalls += spent > args.stall_seconds
        verdict = _verdict(answer)
        answered += 1
        outcomes[verdict] += 1
        if verdict in FAILURES:
            crashes += 1
            print(f"the service failed on message {number}: {getattr(answer, 'message', '')}", file=sys.stderr)
    unanswered = args.messages - answered
    return {
        "path": "offline", "messages": args.messages, "seed": args.seed, "crashes": crashes,
        "unanswered": unanswered, "stalls": stalls, "slowest_s": round(slowest, 3),
        "seconds": round(time.monotonic() - began, 1), "answers": dict(outcomes.most_common()),
    }  # fmt: skip


async def _reference(bodies: list[bytes], topic: str) -> set[str]:
    """The answers the service publishes for these records, by event id: the same service over the
    in-memory ledger, each record named by the topic/partition/offset it gets on a fresh
    one-partition topic — so its keys, and so its answers' event ids, are the ones Kafka's get.
    (A message repeated with the same content is a producer's retry: answered, not republished.)"""
    from datetime import UTC, datetime

    from ledger.adapters.memory import MemoryLedger
    from settlement.entrypoints.offline import answer_line
    from settlement.service_layer.handlers import SettlementService

    from engine.policy_files import load_policy_book

    store = MemoryLedger()
    service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
    for offset, raw in enumerate(bodies):
        await answer_line(service, raw, f"{topic}/0/{offset}")
    return {str(message.message_id) for message in store.outbox()}


async def over_kafka(args: argparse.Namespace) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer
    from chaos import Servers
    from e2e_stack import Stack
    from ledger.migrate import migrate

    from devservers.testing import execute_sql, with_database

    servers = Servers(Path(args.home))
    await asyncio.to_thread(servers.up)
    database = f"fuzz_{args.seed}_{int(time.time())}"
    await execute_sql(servers.admin_dsn, f'CREATE DATABASE "{database}"')
    dsn = with_database(servers.admin_dsn, database)
    folder = Path(args.home) / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    stack = Stack(dsn, servers.bootstrap, folder)
    bodies = [raw for raw in messages(args.messages, args.seed) if len(raw) < 900_000]  # Kafka's 1 MB limit
    expected = await _reference(bodies, stack.topics.claims)
    began = time.monotonic()
    try:
        await migrate(dsn)
        await stack.create_topics(1)
        await stack.start_ledger()
        service = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="200", LOG_LEVEL="WARNING")
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            for raw in bodies:  # in order, one partition: offset i is message i, as in the reference
                await producer.send(stack.topics.claims, raw, key=b"fuzz")
            await producer.flush()
        finally:
            await producer.stop()
        answers = await stack.all_answers(expected=len(expected), timeout=args.drain_timeout)
        published = Counter(a["event_id"] for a in answers)
        outcomes = Counter(a.get("code") or a["msg_type"] for a in answers)
        return {
            "path": "kafka", "messages": len(bodies), "seed": args.seed, "answers_expected": len(expected),
            "unanswered": len(expected - set(published)), "unexpected": len(set(published) - expected),
            "redelivered": sum(n - 1 for n in published.values()), "crashes": sum(outcomes[f] for f in FAILURES),
            "dead_letters": await stack.metric(service, "settlement_dead_letters_total"),
            "alive": service.process.poll() is None, "ready": await _ready(stack),
            "seconds": round(time.monotonic() - began, 1), "answers": dict(outcomes.most_common()),
        }  # fmt: skip
    finally:
        await stack.close()
        if not args.keep_servers:
            await asyncio.to_thread(servers.down)


async def _ready(stack: Any) -> bool:
    from chaos import _ready as both_ready

    return await both_ready(stack)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stall-seconds", type=float, default=2.0, help="slower than this is a stall (offline)")
    parser.add_argument("--kafka", action="store_true", help="through the real services over Kafka")
    parser.add_argument("--home", default=str(ROOT / ".devservers" / "fuzz"), help="servers of a Kafka run")
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--keep-servers", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MEDINS_ENV", "local")
    import logging

    from ops.logging import configure_logging

    configure_logging("CRITICAL", "fuzz-run", "fuzz", stream=sys.stderr)  # failing lines are counted, not logged
    logging.getLogger().setLevel(logging.CRITICAL)
    result = asyncio.run(over_kafka(args) if args.kafka else offline(args))
    print(json.dumps(result, ensure_ascii=False))
    bad = result["crashes"] or result["unanswered"] or result.get("stalls") or result.get("unexpected")
    return 1 if bad or result.get("alive") is False or result.get("ready") is False else 0


if __name__ == "__main__":
    sys.exit(main())
