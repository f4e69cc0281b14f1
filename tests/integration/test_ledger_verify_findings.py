"""A writer cannot blind the audit: every forgery is refused or reported, in one run, none hidden.

The ledger holds the example year settled through the real settlement use case. Then, in turn:
the application role tries to append a forged credit (refused by the trigger, twice), appends
an event of a type nobody knows with a correct hash (accepted: the hash proves integrity, not
meaning), pre-answers a future request and queues a forged answer for Kafka; a superuser with
the triggers off appends a forged credit and rewrites a recorded settlement. `ledger verify`
must report each with a readable sentence, exit 1, and print no traceback.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from ledger.hashing import HASH_V1, HASH_V2, recompute_hash
from ledger_audit_helpers import as_superuser, example_year, ledger

INSERT_EVENT = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
VALUES (pg_current_xact_id()::text::bigint << 16, $1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)
"""
CREDIT = {"month": 6, "amount": 100_000_000, "delta": {}}  # 1,000,000 yuan into a personal account


@pytest.fixture
async def settled(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with example_year(database_url, clearing_batch=500) as (pool, _):
        yield pool


async def head(pool: asyncpg.Pool, stream_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT version, hash FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1", stream_id
    )
    assert row is not None
    return row


async def as_app_role(database_url: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE ledger_app")
            await connection.execute(statement, *args)
    finally:
        await connection.close()


def event_row(stream_id: str, version: int, prev: str, kind: str, data: dict, alg: int, digest: str | None = None):
    ident, at = uuid.uuid4(), datetime(2025, 6, 30, tzinfo=UTC)
    fields = {"stream_id": stream_id, "version": version, "event_id": ident, "event_type": kind, "data": data,
              "occurred_at": at}  # fmt: skip
    digest = digest or recompute_hash(alg, prev, **fields)  # type: ignore[arg-type]
    return (stream_id, version, ident, kind, json.dumps(data), at, prev, digest, alg)


async def test_every_forgery_is_refused_or_reported_in_one_run(settled, database_url: str) -> None:
    pool = settled
    streams = [r["stream_id"] for r in await pool.fetch("SELECT DISTINCT stream_id FROM events ORDER BY 1")]
    credited, unknown, edited, superuser_credit = streams[0], streams[1], streams[2], streams[3]

    # 1. The application role: a forged credit with a valid link, hashed over other content → refused.
    top = await head(pool, credited)
    honest = event_row(credited, top["version"] + 1, top["hash"], "AccountCredited", {"month": 6, "amount": 1}, 2)
    forged = (*honest[:4], json.dumps(CREDIT), *honest[5:])
    with pytest.raises(asyncpg.RaiseError, match="its hash does not match its content"):
        await as_app_role(database_url, INSERT_EVENT, *forged)
    # 2. …and the same credit with a v1 hash it computed itself → refused.
    v1 = event_row(credited, top["version"] + 1, top["hash"], "AccountCredited", CREDIT, HASH_V1)
    with pytest.raises(asyncpg.RaiseError, match="names hash algorithm 1"):
        await as_app_role(database_url, INSERT_EVENT, *v1)
    # 3. An event type nobody knows, correctly hashed: the trigger cannot judge meaning.
    top = await head(pool, unknown)
    await as_app_role(
        database_url, INSERT_EVENT,
        *event_row(unknown, top["version"] + 1, top["hash"], "FundsConjured", {"amount": 1}, HASH_V2),
    )  # fmt: skip
    # 4. A pre-answered future request: a copy of a real settlement answer under a new key.
    answer = await pool.fetchval(
        "SELECT result::text FROM idempotency WHERE result->>'msg_type' = 'settlement' LIMIT 1"
    )
    await as_app_role(
        database_url,
        "INSERT INTO idempotency (key, body_hash, result) VALUES ('H99:future-1', 'x', $1::jsonb)",
        answer,
    )
    # 5. A forged answer queued for Kafka.
    forged_id = uuid.uuid4()
    await as_app_role(
        database_url,
        "INSERT INTO outbox (message_id, position, topic, key, value) "
        "VALUES ($1, pg_current_xact_id()::text::bigint << 16, 'settlements.v1', 'P999', $2)",
        forged_id,
        json.dumps({"msg_type": "settlement", "event_id": str(forged_id), "fund_pay_sumamt": "1000000.00"}).encode(),
    )
    # 6. A superuser, triggers off: a forged credit with a made-up hash at the head of a stream…
    top = await head(pool, superuser_credit)
    await as_superuser(
        database_url, INSERT_EVENT,
        *event_row(superuser_credit, top["version"] + 1, top["hash"], "AccountCredited", CREDIT, 2, "f" * 64),
    )  # fmt: skip
    # 7. …and a recorded event rewritten in place.
    await as_superuser(
        database_url,
        "UPDATE events SET data = jsonb_set(data, '{n}', '1') WHERE stream_id = $1 AND version = 1",
        edited,
    )

    verify = ledger(database_url, "verify")

    assert verify.returncode == 1, verify.stdout + verify.stderr
    print(verify.stdout)  # the report docs/ledger.md shows
    assert "Traceback" not in verify.stderr and verify.stderr == ""
    out = verify.stdout
    unreadable = "(UnreadableEvent: FundsConjured version 1: unknown event type)"
    assert f"{unknown}: its events cannot be replayed {unreadable}" in out
    assert f"{unknown}: the stored totals are at version" in out  # the projection did not follow
    assert 'idempotency row "H99:future-1": it answers a settlement but names no event' in out
    assert 'idempotency row "H99:future-1": its settlement answer carries event id' in out
    assert f"outbox message {forged_id} (topic settlements.v1, not yet published): no stored answer" in out
    assert f"{superuser_credit} v{top['version'] + 1}" in out and "content does not match its hash" in out
    assert f"{edited} v1 " in out
    assert out.rstrip().endswith("finding(s)")
    assert credited not in out  # the refused forgeries left nothing behind


async def test_an_intact_ledger_has_no_findings_and_says_what_was_checked(settled, database_url: str) -> None:
    verify = ledger(database_url, "verify")
    assert verify.returncode == 0, verify.stdout
    assert "hash chains, totals, idempotency and outbox rows, clearing tables, casemix tables and closes checked" in (
        verify.stdout
    )
    assert verify.stdout.rstrip().endswith(": intact")


async def test_the_json_report_lists_each_finding_with_its_kind(settled, database_url: str) -> None:
    await as_app_role(
        database_url,
        "INSERT INTO idempotency (key, body_hash, result, first_position) VALUES ('H99:r', 'x', '{}', 12345)",
    )
    report = json.loads(ledger(database_url, "verify", "--json").stdout)
    assert report["ok"] is False
    assert [(f["kind"], f["subject"]) for f in report["findings"]] == [("request_unbacked", 'idempotency row "H99:r"')]
    assert "not a reply of this service" in report["findings"][0]["message"]
