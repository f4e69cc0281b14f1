"""Anchors over the in-memory store: the Merkle root, signatures, and what a rewrite looks like."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger.adapters.memory import MemoryLedger
from ledger.anchor_check import check_anchor
from ledger.anchors import Anchor, leaf_hash, make_anchor, merkle_root
from ledger.store import StreamHead
from ledger_contract import append


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1, as written: split at the largest power of two smaller than n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100])
def test_the_streamed_merkle_root_is_rfc_6962s(n: int) -> None:
    heads = [StreamHead(f"P{i}/2025", i + 1, f"{i:064x}") for i in range(n)]
    assert merkle_root(heads) == reference_root([leaf_hash(h) for h in heads]).hex()


async def anchored() -> tuple[MemoryLedger, Anchor, Ed25519PrivateKey]:
    store, key = MemoryLedger(), Ed25519PrivateKey.generate()
    await store.commit([append("A/2025", 0, 2), append("B/2025", 0, 1)])
    anchor = await make_anchor(store, key)
    await store.commit([append("A/2025", 2, 1), append("C/2025", 0, 1)])  # after the anchor
    return store, anchor, key


async def test_an_anchor_lists_each_streams_head_below_its_watermark_and_still_holds_later() -> None:
    store, anchor, key = await anchored()
    assert [(h.stream_id, h.version) for h in anchor.heads or []] == [("A/2025", 2), ("B/2025", 1)]
    assert anchor.statement["streams"] == 2 and anchor.statement["below_position"] == 4
    assert await check_anchor(store, anchor, key.public_key(), "a") == []
    assert await check_anchor(store, replace(anchor, heads=None), key.public_key(), "a") == []


async def test_an_altered_statement_or_list_is_reported_not_trusted() -> None:
    store, anchor, key = await anchored()
    moved = replace(anchor, statement={**anchor.statement, "below_position": 2})
    (finding,) = await check_anchor(store, moved, key.public_key(), "a")
    assert "signature that does not verify" in finding.sentence
    heads = list(anchor.heads or [])
    heads[0] = replace(heads[0], hash="0" * 64)
    (finding,) = await check_anchor(store, replace(anchor, heads=heads), key.public_key(), "a")
    assert "its list of heads does not match its signed root" in finding.sentence


async def test_a_rewritten_head_is_named_with_its_stream() -> None:
    store, anchor, key = await anchored()
    index = store._streams["B/2025"][0]
    store._log[index] = replace(store._log[index], event=replace(store._log[index].event, hash="e" * 64))
    (finding,) = await check_anchor(store, anchor, key.public_key(), "a")
    assert finding.subject == "B/2025" and "the chain was rewritten after the anchor" in finding.sentence
