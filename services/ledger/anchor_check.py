"""`ledger verify --anchors`: is every anchored chain head still in the chain, unchanged?

For each anchor: its signature must verify under the auditor's own copy of the public key (a
key found next to the anchors would prove nothing); then the heads of the log *below the
anchor's watermark* are recomputed from the database and compared, stream by stream, with the
anchored list (whose Merkle root must be the signed one). A statement without its list (a dump
of the Kafka topic) is checked by its root alone: that detects a rewrite without naming it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.anchors import FORMAT, Anchor, MerkleRoot, heads_below, key_id, leaf_hash, merkle_root, read_anchors
from ledger.hashing import canonical_json
from ledger.store import AuditableStore, StreamHead
from ledger.verify import AnchorCheck, Finding


def signature_problem(anchor: Anchor, public: Ed25519PublicKey) -> str | None:
    statement = anchor.statement
    if statement.get("format") != FORMAT:
        return f"is not a {FORMAT} statement"
    if statement.get("key_id") != key_id(public):
        return f"was signed with key {statement.get('key_id')}, not with the key you hold ({key_id(public)})"
    try:
        public.verify(base64.b64decode(anchor.signature, validate=True), canonical_json(statement).encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return "has a signature that does not verify: the statement was altered after it was signed"
    return None


def _short(digest: str) -> str:
    return digest[:12] + "…"


def head_difference(anchored: StreamHead | None, now: StreamHead | None) -> str | None:
    """What changed in one stream below the anchor's position; None when nothing did."""
    if anchored is not None and now is not None:
        if (anchored.version, anchored.hash) == (now.version, now.hash):
            return None
        if anchored.version == now.version:
            return (
                f"anchored at version {anchored.version} with hash {_short(anchored.hash)}, which now has hash "
                f"{_short(now.hash)}: the chain was rewritten after the anchor"
            )
        return (
            f"anchored at version {anchored.version}, but below the anchor's position it now ends at version "
            f"{now.version}: events were inserted or removed behind the anchor"
        )
    if anchored is not None:
        return f"anchored at version {anchored.version}, but it has no event below the anchor's position any more"
    assert now is not None
    return f"has events up to version {now.version} below the anchor's position that the anchor does not list"


async def _merged(
    anchored: Sequence[StreamHead], current: AsyncIterator[StreamHead]
) -> AsyncIterator[tuple[StreamHead | None, StreamHead | None]]:
    """Both lists, sorted bytewise by stream, walked side by side."""
    index = 0
    async for now in current:
        while index < len(anchored) and anchored[index].stream_id.encode() < now.stream_id.encode():
            yield anchored[index], None
            index += 1
        if index < len(anchored) and anchored[index].stream_id == now.stream_id:
            yield anchored[index], now
            index += 1
        else:
            yield None, now
    for rest in anchored[index:]:
        yield rest, None


async def check_anchor(store: AuditableStore, anchor: Anchor, public: Ed25519PublicKey, name: str) -> list[Finding]:
    statement = anchor.statement
    label = f"anchor {name} ({statement.get('created_at')})"
    problem = signature_problem(anchor, public)
    if problem is not None:
        return [Finding("anchor", label, f"{label} {problem}; it was not used")]
    below = int(statement["below_position"])
    findings = []
    if anchor.heads is not None and merkle_root(anchor.heads) != statement["root"]:
        findings.append(Finding("anchor", label, f"{label}: its list of heads does not match its signed root"))
    if anchor.heads is None or findings:
        root = MerkleRoot()
        async for head in heads_below(store, below):
            root.add(leaf_hash(head))
        if root.hexdigest() != statement["root"]:
            sentence = (
                f"{label}: the chains below position {below} no longer hash to the anchored root: some stream "
                "was rewritten after the anchor (the anchor file with its heads names which)"
            )
            findings.append(Finding("anchor", label, sentence))
        return findings
    async for anchored, now in _merged(anchor.heads, heads_below(store, below)):
        difference = head_difference(anchored, now)
        if difference is not None:
            stream_id = (anchored or now).stream_id  # type: ignore[union-attr]
            findings.append(Finding("anchor", stream_id, f"{stream_id}: {difference} ({label})"))
    return findings


def anchor_check(paths: Sequence[Path], public: Ed25519PublicKey) -> AnchorCheck:
    """The verify hook for these files (read now, so a bad file is a usage error up front)."""
    anchors = [(f"{path.name}#{n}", anchor) for path in paths for n, anchor in enumerate(read_anchors(path), 1)]

    async def check(store: AuditableStore) -> list[Finding]:
        findings: list[Finding] = []
        for name, anchor in anchors:
            findings += await check_anchor(store, anchor, public, name)
        return findings

    return check
