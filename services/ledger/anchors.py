"""Chain heads anchored outside the database: a superuser who recomputes whole chains is caught.

The hash chain proves that an event was not edited *unless* whoever edits it recomputes every
hash after it — which a database superuser can. So once a day `ledger anchor` signs what the
chains looked like and puts that where the database's owner cannot reach: a file the auditor
keeps and a Kafka topic (``<prefix>ledger-anchors.v1``). `ledger verify --anchors FILE…` then
checks that every anchored head is still there, at the same version with the same hash.

An anchor covers the log below a *watermark* position (ledger_watermark(): every writer below it
has finished, so that part of the log is final). For every stream with events below it, the
head is (stream_id, version, hash) of its last such event. The signed statement holds the
watermark, the number of streams and the Merkle root (RFC 6962 shape, sha256) over the heads in
bytewise stream order; it is signed with Ed25519. A file holds the statement and then every
head, one JSON line each, so a finding can name the stream; the Kafka message holds the statement
alone (small, whatever the size of the ledger), which still detects any rewrite below it.

File (JSON lines):
    {"anchor": {statement}, "signature": "<base64>"}
    {"head": ["P1/2025", 3, "<hash>"]}   …one per stream, in order
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.hashing import canonical_json
from ledger.store import AuditableStore, StreamHead

FORMAT = "medins-ledger-anchor/1"
TOPIC = "ledger-anchors.v1"  # behind the operator's KAFKA_TOPIC_PREFIX
PAGE = 5_000


class AnchorError(Exception):
    """An anchor file or key that cannot be used; said in one sentence."""


# --- Merkle root over the heads (RFC 6962 §2.1 shape: leaves 0x00, nodes 0x01) -----------------


def leaf_hash(head: StreamHead) -> bytes:
    return hashlib.sha256(b"\x00" + canonical_json([head.stream_id, head.version, head.hash]).encode()).digest()


class MerkleRoot:
    """The root built leaf by leaf in O(log n) memory: a stack of perfect subtrees."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size of the subtree, its hash), sizes decreasing
        self.count = 0

    def add(self, leaf: bytes) -> None:
        self.count += 1
        size, node = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, node = left_size + size, hashlib.sha256(b"\x01" + left + node).digest()
        self._stack.append((size, node))

    def hexdigest(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):  # right to left: the RFC's split at the largest power of 2
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


def merkle_root(heads: Iterable[StreamHead]) -> str:
    root = MerkleRoot()
    for head in heads:
        root.add(leaf_hash(head))
    return root.hexdigest()


# --- keys ------------------------------------------------------------------------------------


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise AnchorError(f"the anchor signing key is not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError("the anchor signing key must be an Ed25519 key (ledger anchor-keygen makes one)")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise AnchorError(f"the anchor public key is not a PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError("the anchor public key must be an Ed25519 key")
    return key


def new_key_pair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) for `ledger anchor-keygen`."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


# --- making an anchor ------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    statement: dict[str, Any]  # format, created_at, below_position, streams, root, key_id
    signature: str  # base64 Ed25519 signature of canonical_json(statement)
    heads: list[StreamHead] | None  # None: the statement alone (as published on Kafka)

    def header_line(self) -> str:
        return canonical_json({"anchor": self.statement, "signature": self.signature})

    def lines(self) -> Iterator[str]:
        yield self.header_line()
        for head in self.heads or []:
            yield canonical_json({"head": [head.stream_id, head.version, head.hash]})


async def heads_below(store: AuditableStore, below_position: int) -> AsyncIterator[StreamHead]:
    after: str | None = None
    while page := await store.stream_heads(below_position, after, PAGE):
        for head in page:
            yield head
        after = page[-1].stream_id


async def make_anchor(store: AuditableStore, key: Ed25519PrivateKey, *, now: datetime | None = None) -> Anchor:
    below = await store.watermark()
    heads = [head async for head in heads_below(store, below)]
    statement = {
        "format": FORMAT,
        "created_at": (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
        "below_position": below,
        "streams": len(heads),
        "root": merkle_root(heads),
        "key_id": key_id(key.public_key()),
    }
    signature = base64.b64encode(key.sign(canonical_json(statement).encode())).decode()
    return Anchor(statement, signature, heads)


def write_anchor(anchor: Anchor, folder: Path) -> Path:
    """anchor-<created_at>.jsonl in ``folder`` (never overwritten: an anchor is evidence)."""
    stamp = anchor.statement["created_at"].replace(":", "").replace("+0000", "Z")
    path = folder / f"anchor-{stamp}-{anchor.statement['below_position']}.jsonl"
    with path.open("x", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in anchor.lines())
    return path


# --- reading anchors back --------------------------------------------------------------------


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in a file: ``ledger anchor`` files (statement + heads), or a dump of the
    Kafka topic (one statement per line)."""
    anchors: list[Anchor] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AnchorError(f"{path}: cannot be read ({error})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            if "anchor" in document:
                anchors.append(Anchor(dict(document["anchor"]), str(document["signature"]), None))
            elif "head" in document and anchors:
                stream_id, version, digest = document["head"]
                heads = anchors[-1].heads if anchors[-1].heads is not None else []
                heads.append(StreamHead(str(stream_id), int(version), str(digest)))
                anchors[-1] = Anchor(anchors[-1].statement, anchors[-1].signature, heads)
            else:
                raise ValueError("neither an anchor nor a head after one")
        except (ValueError, TypeError, KeyError) as error:
            raise AnchorError(f"{path} line {number}: not an anchor line ({error})") from None
    if not anchors:
        raise AnchorError(f"{path}: holds no anchor")
    return anchors


async def publish_anchor(anchor: Anchor, kafka_options: dict[str, Any], topic: str) -> None:
    """The signed statement (not the heads) on the anchors topic, acknowledged by every in-sync
    replica. The topic should keep messages forever (retention.ms=-1; docs/operations.md)."""
    from ledger.outbox import idempotent_producer
    from ops.kafka import ensure_topics

    await ensure_topics(kafka_options, [topic])
    producer = idempotent_producer(client_id="ledger-anchor", **kafka_options)
    await producer.start()
    try:
        headers = [("msg_type", b"ledger_anchor"), ("key_id", str(anchor.statement["key_id"]).encode())]
        await producer.send_and_wait(topic, anchor.header_line().encode(), key=b"ledger-anchor", headers=headers)
    finally:
        await producer.stop()
