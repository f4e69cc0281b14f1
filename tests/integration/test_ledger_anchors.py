"""Anchors catch what the hash chain cannot: a superuser who recomputes a whole chain.

`ledger anchor` signs the heads of every chain and publishes the statement to Kafka; later a
superuser rewrites a recorded settlement's claim (which the totals do not depend on) and
recomputes every hash after it, so the chain and the totals still verify. Only `ledger verify
--anchors` sees it: with the anchor file it names the stream; with the statement as read back
from the Kafka topic it detects the rewrite by the Merkle root.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from ledger.adapters.postgres import PostgresLedger
from ledger.hashing import HASH_V2, recompute_hash
from ledger.migrate import migrate
from ledger_audit_helpers import EXAMPLE, ROOT, example_year, ledger
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book


@pytest.fixture
async def settled(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with example_year(database_url) as (pool, _):
        yield pool


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "anchor.key", tmp_path / "anchor.pub"
    done = ledger("", "anchor-keygen", "--private-key", str(private), "--public-key", str(public))
    assert done.returncode == 0, done.stderr
    assert private.stat().st_mode & 0o077 == 0  # the signing key is readable by its owner only
    return private, public


async def rewrite_whole_chain(database_url: str, stream_id: str, version: int) -> None:
    """What a superuser can do: edit event ``version``'s trail (nothing the totals show) and
    recompute every hash after it, with the triggers off, so that the chain is valid again."""
    admin = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await admin.execute("SET session_replication_role = replica")
        await admin.execute(
            "UPDATE events SET data = jsonb_set(data, '{trail,0,text}', '\"REWRITTEN\"')"
            " WHERE stream_id = $1 AND version = $2",
            stream_id, version,
        )  # fmt: skip
        prev = None
        for event in await PostgresLedger(pool).read_stream(stream_id):
            prev = prev or event.prev_hash
            digest = recompute_hash(HASH_V2, prev, stream_id=stream_id, version=event.version,
                                    event_id=event.event_id, event_type=event.event_type, data=event.data,
                                    occurred_at=event.occurred_at)  # fmt: skip
            await admin.execute(
                "UPDATE events SET prev_hash = $3, hash = $4 WHERE stream_id = $1 AND version = $2",
                stream_id, event.version, prev, digest,
            )  # fmt: skip
            prev = digest
    finally:
        await pool.close()
        await admin.close()


async def first_settlement(pool: asyncpg.Pool) -> tuple[str, int]:
    row = await pool.fetchrow(
        "SELECT stream_id, version FROM events WHERE event_type = 'ClaimSettled' ORDER BY position LIMIT 1"
    )
    assert row is not None
    return row["stream_id"], row["version"]


async def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        return [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()


async def test_a_recomputed_chain_passes_verify_but_not_the_earlier_anchor(
    settled, database_url: str, keys: tuple[Path, Path], tmp_path: Path, kafka_bootstrap: str
) -> None:
    private, public = keys
    prefix = f"anchors-{os.getpid()}-{tmp_path.name}."
    anchored = ledger(
        database_url, "anchor", "--out", str(tmp_path),
        LEDGER_ANCHOR_KEY_FILE=str(private), KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PREFIX=prefix,
    )  # fmt: skip
    assert anchored.returncode == 0, anchored.stderr
    (anchor_file,) = tmp_path.glob("anchor-*.jsonl")
    published = await read_topic(kafka_bootstrap, prefix + "ledger-anchors.v1")
    assert [json.loads(m) for m in published] == [json.loads(anchor_file.read_text().splitlines()[0])]
    statement_only = tmp_path / "from-kafka.jsonl"
    statement_only.write_bytes(published[0] + b"\n")

    stream_id, version = await first_settlement(settled)
    await rewrite_whole_chain(database_url, stream_id, version)

    plain = ledger(database_url, "verify")
    assert plain.returncode == 0, plain.stdout  # the chain and the totals prove nothing any more
    with_file = ledger(database_url, "verify", "--anchors", str(anchor_file), "--anchor-public-key", str(public))
    assert with_file.returncode == 1, with_file.stdout + with_file.stderr
    assert f"{stream_id}: anchored at version" in with_file.stdout
    assert "the chain was rewritten after the anchor" in with_file.stdout
    with_kafka = ledger(database_url, "verify", "--anchors", str(statement_only), "--anchor-public-key", str(public))
    assert with_kafka.returncode == 1 and "no longer hash to the anchored root" in with_kafka.stdout


async def test_an_anchor_still_holds_after_new_events_and_refuses_another_key(
    settled, database_url: str, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    private, public = keys
    done = ledger(database_url, "anchor", "--out", str(tmp_path), "--no-publish", LEDGER_ANCHOR_KEY=private.read_text())
    assert done.returncode == 0, done.stderr
    (anchor_file,) = tmp_path.glob("anchor-*.jsonl")
    service = SettlementService(
        PostgresLedger(settled), load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC)
    )
    enrolment = next(json.loads(line) for line in EXAMPLE.read_bytes().splitlines() if b'"enrolment"' in line)
    again = json.dumps({**enrolment, "request_id": "AFTER-THE-ANCHOR"}).encode()
    await service.handle(again, source="after-the-anchor")  # the ledger goes on: not a finding
    assert await settled.fetchval("SELECT count(*) FROM events WHERE position >= $1", 0) > 0

    fine = ledger(database_url, "verify", "--anchors", str(anchor_file), "--anchor-public-key", str(public))
    assert fine.returncode == 0, fine.stdout
    assert "anchors checked" in fine.stdout

    other_private, other_public = tmp_path / "other.key", tmp_path / "other.pub"
    ledger("", "anchor-keygen", "--private-key", str(other_private), "--public-key", str(other_public))
    wrong = ledger(database_url, "verify", "--anchors", str(anchor_file), "--anchor-public-key", str(other_public))
    assert wrong.returncode == 1 and "not with the key you hold" in wrong.stdout


async def test_verify_with_anchors_but_no_public_key_is_a_usage_error(database_url: str, tmp_path: Path) -> None:
    await migrate(database_url)
    missing = ledger(database_url, "verify", "--anchors", str(tmp_path / "x.jsonl"), LEDGER_ANCHOR_PUBLIC_KEY_FILE="")
    assert missing.returncode == 2 and "no anchor public key" in missing.stderr and "Traceback" not in missing.stderr
