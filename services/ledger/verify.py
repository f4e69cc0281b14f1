"""`ledger verify` as a function: every hash chain, every inline projection against a replay of
its events, and every follower projection against a recomputation from the log.

The CLI prints the report and exits 1 on any problem; the ledger service returns it as JSON
(POST /v1/verify). Both read the ledger only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ledger.audit import ChainBreak, ProjectionMismatch, verify_chains, verify_projections
from ledger.domain import rebuild
from ledger.store import LedgerStore


@dataclass
class VerifyReport:
    streams: int
    chain_breaks: list[ChainBreak] = field(default_factory=list)
    projection_mismatches: list[ProjectionMismatch] = field(default_factory=list)
    follower_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.chain_breaks or self.projection_mismatches or self.follower_mismatches)

    def problems(self) -> list[str]:
        """One sentence per problem, naming the stream and what is wrong."""
        lines = [f"{b.stream_id} v{b.version} (position {b.position}): {b.reason}" for b in self.chain_breaks]
        lines += [
            f"{m.stream_id}: the stored totals at version {m.version} differ from a replay of its events"
            for m in self.projection_mismatches
        ]
        return lines + self.follower_mismatches

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "streams": self.streams,
            "seconds": round(self.seconds, 3),
            "chain_breaks": [
                {"stream_id": b.stream_id, "version": b.version, "position": b.position, "reason": b.reason}
                for b in self.chain_breaks
            ],
            "projection_mismatches": [
                {"stream_id": m.stream_id, "version": m.version} for m in self.projection_mismatches
            ],
            "follower_mismatches": self.follower_mismatches,
        }


async def verify_ledger(store: LedgerStore, prefix: str | None = None, *, followers: Any = None) -> VerifyReport:
    """The whole check. ``followers`` (optional) is an async callable returning a list of
    problems in the follower projections' tables (ledger.projections.verify_followers)."""
    began = time.perf_counter()
    report = VerifyReport(streams=len(await store.list_streams(prefix)))
    report.chain_breaks = await verify_chains(store, prefix)
    report.projection_mismatches = await verify_projections(store, rebuild, prefix)
    if followers is not None and prefix is None:
        report.follower_mismatches = list(await followers())
    report.seconds = time.perf_counter() - began
    return report
