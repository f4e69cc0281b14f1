"""Hash v2 is defined by PostgreSQL's own jsonb text: Python must write those exact bytes.

Every awkward value below is sent to the real server; what ``::jsonb::text`` prints must equal
``ledger.hashing.jsonb_text``, and the trigger's ``ledger_event_hash_v2`` must equal the
Python hash of the same event. Random documents (seeded) widen the net.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from ledger.hashing import GENESIS, event_hash_v2_of_text, jsonb_text
from ledger_contract import migrated_pool

pytestmark = pytest.mark.integration

AWKWARD: list[Any] = [
    {},
    {"": {}, "l": [], "n": None, "t": True, "f": False},
    {"b": 1, "a": 2, "aa": 3, "ab": 4, "B": 5, "_": 6},  # by length first, then bytes: "B" < "_" < "a" < "b"
    {"é": 1, "e\u0301": 2, "big": 3, "名字": 4, "zzzz": 5},  # é is 2 bytes, é 3, 名字 6
    {"quote": '"', "backslash": "\\", "slash": "/", "controls": "\x01\x08\x09\x0a\x0c\x0d\x1f", "del": "\x7f"},
    {"separators": "\u2028\u2029", "emoji": "🏥 医保", "bom": "\ufeff", "private": "\ue000"},
    {"ints": [0, -1, 1, 2**53 + 1, 2**63 - 1, -(2**63)]},
    {"nested": {"deeper": {"deepest": [[], [{}], [[1, [2, [3]]]]]}}},
    {'keys with "quotes"': 1, "key\nwith newline": 2, "tab\tkey": 3},
    {"money_fen": 12345, "setl_id": "S2025-3f2a9c0d1e2b4a5f", "psn_no": "D714347000017"},
]


def random_document(rng: random.Random, depth: int = 0) -> Any:
    alphabet = 'aZ_é名"\\/\n\t\x01 🏥\u2028'
    if depth > 3 or rng.random() < 0.3:
        kind = rng.choice(["str", "int", "bool", "null"])
        if kind == "str":
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if kind == "int":
            return rng.choice([0, -1, rng.randint(-(2**63), 2**63 - 1)])
        return None if kind == "null" else rng.random() < 0.5
    if rng.random() < 0.5:
        return [random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(0, 5)))
    return {key: random_document(rng, depth + 1) for key in keys}


@pytest.fixture
async def pool(database_url: str) -> Any:
    async with migrated_pool(database_url) as pool:
        yield pool


async def postgres_texts(pool: asyncpg.Pool, documents: list[Any]) -> list[str]:
    rows = await pool.fetch(
        "SELECT d::jsonb::text AS t FROM unnest($1::text[]) WITH ORDINALITY AS u(d, n) ORDER BY n",
        [json.dumps(d) for d in documents],
    )
    return [row["t"] for row in rows]


async def test_python_writes_the_bytes_postgresql_prints_for_awkward_jsonb(pool) -> None:
    assert [jsonb_text(d) for d in AWKWARD] == await postgres_texts(pool, AWKWARD)


async def test_python_writes_the_bytes_postgresql_prints_for_random_documents(pool) -> None:
    rng = random.Random(20261123)
    documents = [random_document(rng) for _ in range(400)]
    assert [jsonb_text(d) for d in documents] == await postgres_texts(pool, documents)


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8))),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),  # datetime.min itself is refused: asyncpg sends -infinity
        datetime(9999, 12, 31, 23, 59, 59, 999_998, tzinfo=UTC),
    ],
    ids=["utc", "beijing-microseconds", "year-1", "year-9999"],
)
async def test_the_databases_v2_hash_equals_pythons_for_the_same_event(pool, occurred_at: datetime) -> None:
    for data in AWKWARD:
        ident = uuid.uuid4()
        in_sql = await pool.fetchval(
            "SELECT ledger_event_hash_v2($1, $2, $3, $4, $5::jsonb, $6, $7)",
            "名/2025 \"x\"", 7, ident, "ClaimSettled", json.dumps(data), occurred_at, GENESIS,
        )  # fmt: skip
        in_python = event_hash_v2_of_text(
            GENESIS, stream_id="名/2025 \"x\"", version=7, event_id=ident, event_type="ClaimSettled",
            data_text=jsonb_text(data), occurred_at=occurred_at,
        )  # fmt: skip
        assert in_sql == in_python, data
