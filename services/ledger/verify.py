"""`ledger verify` as a function: every finding, never a crash.

Checked, each with its own findings so that none hides another:
- every stream's hash chain (numbering, links, each event's hash by its algorithm);
- every inline projection: behind its stream, or different from a replay of its events; a
  stream whose events the domain cannot fold (unknown type, unreadable data) is *unreadable*;
- every idempotency row and outbox row against what stands behind it (ledger/backing.py);
- the follower projections against a recomputation from the log;
- with anchors, every anchored chain head (ledger/anchors.py).

The CLI prints one sentence per finding and exits 1 on any; the ledger service returns the
same as JSON (POST /v1/verify). Both only read.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.audit import ChainBreak, ProjectionMismatch, plain, scanned_chain_breaks
from ledger.backing import unbacked_rows
from ledger.domain import Record, current_projection, rebuild_records
from ledger.hashing import NotCanonical, canonical_json, plain_sorted_json
from ledger.scan import StreamScan, decode_data
from ledger.store import AuditableStore

FollowerCheck = Callable[[], Awaitable[Sequence[str]]]
AnchorCheck = Callable[[AuditableStore], Awaitable[Sequence["Finding"]]]
ClearingCheck = Callable[[], Awaitable[Sequence["Finding"]]]
ArchiveCheck = Callable[[], Awaitable[tuple[int, Sequence["Finding"]]]]  # (archived years, findings)
# The per-stream part done elsewhere (ledger/verify_jobs.py: over several processes): the
# streams of the prefix checked into a report of their own, in the scan's order.
StreamsCheck = Callable[[str | None], Awaitable["VerifyReport"]]


@dataclass(frozen=True)
class Finding:
    kind: str  # forged_hash, broken_link, unreadable, projection_behind, projection_differs,
    #            request_unbacked, outbox_unbacked, follower, anchor, not_checked, casemix, close_differs,
    #            archive
    subject: str  # what it is about: "P002/2025 v8", "idempotency row \"H1:r1\"", "outbox message …"
    sentence: str  # one readable sentence, naming the subject

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.sentence}


@dataclass
class VerifyReport:
    streams: int
    findings: list[Finding] = field(default_factory=list)
    chain_breaks: list[ChainBreak] = field(default_factory=list)
    projection_mismatches: list[ProjectionMismatch] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what was checked, for the summary line
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def add_streams(self, part: VerifyReport) -> None:
        """The per-stream findings of the streams after those already in this report."""
        self.streams += part.streams
        self.findings += part.findings
        self.chain_breaks += part.chain_breaks
        self.projection_mismatches += part.projection_mismatches

    def problems(self) -> list[str]:
        """One sentence per finding."""
        return [f.sentence for f in self.findings]

    def summary(self) -> str:
        what = ", ".join(self.checked)
        verdict = "intact" if self.ok else f"{len(self.findings)} finding(s)"
        return f"{self.streams} stream(s); {what} checked in {self.seconds:.2f} s: {verdict}"

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "streams": self.streams,
            "seconds": round(self.seconds, 3),
            "checked": self.checked,
            "findings": [f.as_json() for f in self.findings],
            "chain_breaks": [
                {"stream_id": b.stream_id, "version": b.version, "position": b.position, "reason": b.reason}
                for b in self.chain_breaks
            ],
            "projection_mismatches": [
                {"stream_id": m.stream_id, "version": m.version} for m in self.projection_mismatches
            ],
            "follower_mismatches": [f.sentence for f in self.findings if f.kind == "follower"],
        }


def _replayed(stream_id: str, records: Sequence[Record]) -> tuple[Any, str | None]:
    """The domain's replay (``rebuild``'s projection, not yet made plain JSON), or why it could not
    read the events. The fold is pure, so anything it raises is about these events (or a bug in
    the fold): an auditor must see it, never a crash."""
    try:
        return rebuild_records(stream_id, records), None
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"


def _plain(replayed: Any) -> tuple[Any, str | None]:
    try:
        return plain(replayed), None
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"


def _plainly_equal(stored: Mapping[str, Any] | None, replayed: Any) -> bool:
    """Whether the stored projection is the replay's, decided cheaply by comparing texts with
    their keys sorted: the stored one written back by plain_sorted_json (None for anything but
    plain JSON, a float say) against canonical_json of the replay. Sorting makes it indifferent
    to how the row was stored (canonical JSON since migration 0012, jsonb's order before it).
    canonical_json refuses what plain() refuses, and equal text means equal plain JSON with
    nothing to upcast (the replay is today's shape), so True is what the full comparison would
    find; False decides nothing (the full comparison runs: a float, another schema_version or a
    difference cost time, never a verdict)."""
    if stored is None or replayed is None:
        return stored is replayed
    if type(stored) is not dict:
        return False
    try:
        text = plain_sorted_json(stored)
        return text is not None and text == canonical_json(replayed)
    except (NotCanonical, TypeError, ValueError):
        return False


def _decoded(scan: StreamScan) -> tuple[list[Record], dict[int, str], str | None]:
    """The events as the fold takes them ((type, data), in scan order), with the indexes of those
    whose data is not the ledger's JSON (a float), or why they cannot be decoded at all (nesting
    beyond recursion). Ids and times stay text: the chain check reads them, the fold does not."""
    records, not_canonical = [], {}
    try:
        for index, event in enumerate(scan.events):
            data, refused = decode_data(event.data)
            if refused is not None:
                not_canonical[index] = refused
            records.append((event.event_type, data))
    except (ValueError, RecursionError) as error:
        return [], not_canonical, f"{type(error).__name__}: {error}"
    return records, not_canonical, None


def _check_stream(scan: StreamScan, report: VerifyReport) -> None:
    stream_id, state = scan.stream_id, scan.state
    records, not_canonical, undecodable = _decoded(scan)
    for crack in scanned_chain_breaks(stream_id, scan.events, not_canonical):
        report.chain_breaks.append(crack)
        sentence = f"{stream_id} v{crack.version} (position {crack.position}): {crack.reason}"
        report.findings.append(Finding(crack.kind, f"{stream_id} v{crack.version}", sentence))
    if state.projected_version is not None and state.projected_version != state.stream_version:
        sentence = (
            f"{stream_id}: the stored totals are at version {state.projected_version} but the stream is at "
            f"version {state.stream_version} (the projection is not the stream's)"
        )
        report.findings.append(Finding("projection_behind", stream_id, sentence))
    at = state.projected_version if state.projected_version is not None else state.stream_version
    replayed: Any = None
    unreadable: str | None = undecodable
    if undecodable is None:
        upto = [record for record, event in zip(records, scan.events, strict=True) if event.version <= at]
        replayed, unreadable = _replayed(stream_id, upto)
    if unreadable is None and not _plainly_equal(state.projection, replayed):
        replayed, unreadable = _plain(replayed)
        if unreadable is None:
            _compare_in_full(scan, at, replayed, report)
    if unreadable is not None:
        sentence = f"{stream_id}: its events cannot be replayed ({unreadable}); its totals were not checked"
        report.findings.append(Finding("unreadable", stream_id, sentence))
        return
    if at != len(records) and (tail := _unreadable_tail(stream_id, records)) is not None:  # events the totals skip
        report.findings.append(Finding("unreadable", stream_id, f"{stream_id}: its events cannot be replayed ({tail})"))


def _unreadable_tail(stream_id: str, records: Sequence[Record]) -> str | None:
    replayed, unreadable = _replayed(stream_id, records)
    return unreadable if unreadable is not None else _plain(replayed)[1]


def _compare_in_full(scan: StreamScan, at: int, replayed: Any, report: VerifyReport) -> None:
    """The replay (plain JSON) against the stored projection made plain JSON, upcast first so
    that facts are compared, not shapes."""
    stream_id, state = scan.stream_id, scan.state
    try:
        stored = plain(current_projection(state.projection))
    except Exception as error:
        stored = f"unreadable ({type(error).__name__}: {error})"
    if stored != replayed:
        report.projection_mismatches.append(ProjectionMismatch(stream_id, at, state.projection, replayed))
        sentence = f"{stream_id}: the stored totals at version {at} differ from a replay of its events"
        report.findings.append(Finding("projection_differs", stream_id, sentence))


async def check_scans(scans: AsyncIterable[StreamScan], report: VerifyReport) -> None:
    """Every scanned stream's chain and totals, its findings in the scan's order (stream id order)."""
    async for scan in scans:
        report.streams += 1
        _check_stream(scan, report)


async def _check_rows(store: AuditableStore, report: VerifyReport) -> None:
    for row in await unbacked_rows(store):
        kind = "request_unbacked" if row.kind == "request" else "outbox_unbacked"
        report.findings.append(Finding(kind, row.subject, f"{row.subject}: {row.reason}"))


async def _check_followers(followers: FollowerCheck, report: VerifyReport) -> None:
    try:
        problems = list(await followers())
    except Exception as error:  # a forged event the clearing fold cannot read must not end the audit
        sentence = f"the clearing tables could not be recomputed from the log ({type(error).__name__}: {error})"
        report.findings.append(Finding("follower", "clearing", sentence))
        return
    report.findings += [Finding("follower", "clearing", p) for p in problems]


async def verify_ledger(
    store: AuditableStore,
    prefix: str | None = None,
    *,
    followers: FollowerCheck | None = None,
    anchors: AnchorCheck | None = None,
    clearing: ClearingCheck | None = None,
    archives: ArchiveCheck | None = None,
    streams: StreamsCheck | None = None,
) -> VerifyReport:
    """The whole check. ``followers``: problems in the follower projections' tables
    (ledger.follower.verify_followers); ``anchors``: findings against anchored chain heads
    (ledger.anchors.anchor_check); ``archives``: the years detached from the live log
    (ledger.archive.archive_check). The idempotency, outbox and follower checks span the whole
    ledger and are skipped with a prefix. ``streams``: the chains and totals checked elsewhere
    (ledger.verify_jobs: over several processes) instead of here over the store's scan."""
    began = time.perf_counter()
    report = VerifyReport(streams=0, checked=["hash chains", "totals"])
    if streams is None:
        await check_scans(store.scan_streams(prefix), report)
    else:
        report.add_streams(await streams(prefix))
    if prefix is None:
        await _check_rows(store, report)
        report.checked.append("idempotency and outbox rows")
        if followers is not None:
            await _check_followers(followers, report)
            report.checked.append("clearing tables")
        if clearing is not None:  # ledger.clearing.audit: casemix tables and every close
            try:
                report.findings += await clearing()
            except Exception as error:
                sentence = f"the institution side could not be checked ({type(error).__name__}: {error})"
                report.findings.append(Finding("close_differs", "clearing", sentence))
            report.checked.append("casemix tables and closes")
    if archives is not None:  # ledger.archive.archive_check: years taken out of the live log
        years, found = await archives()
        report.findings += found
        if years:
            report.checked.append(f"{years} archived year(s)")
    if anchors is not None:
        report.findings += await anchors(store)
        report.checked.append("anchors")
    report.seconds = time.perf_counter() - began
    return report
