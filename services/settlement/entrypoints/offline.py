"""Offline pricing: a JSONL file through the real service layer and an in-memory ledger."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import structlog
from ledger.adapters.memory import MemoryLedger
from ledger.store import OutboxMessage
from pydantic import BaseModel

from contracts.money import format_yuan
from contracts.results import Rejection, SettlementResult
from contracts.wire import encode_json
from engine.errors import UnknownPolicy
from engine.policy_book import PolicyBook
from engine.policy_files import PolicyFileError, load_policy_book
from engine.snapshot import from_json
from engine.views import annual_totals
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.replies import Answered, Reply

log = structlog.get_logger(__name__)

MAX_LINE_BYTES = 4 * 1024 * 1024


class UserError(Exception):
    """Something the user can fix (a path, a policy folder); said in one sentence."""


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    if path == "-":
        yield from enumerate(sys.stdin.buffer, start=1)
        return
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed below, generator-friendly
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        yield from enumerate(handle, start=1)


def _now() -> datetime:
    return datetime.now(UTC)


async def price(
    path: str,
    policies_dir: str,
    *,
    totals: bool,
    summary: bool,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = _now,
) -> int:
    """``clock``: when a refusal of an unreadable line happened (the only answer without a
    time of its own); a fixed one makes the output reproducible (tests/unit/test_offline_golden.py)."""
    out = out or sys.stdout
    try:
        book = load_policy_book(policies_dir)
    except PolicyFileError as error:
        raise UserError(f"policy folder refused:\n{error}") from None
    printed = _Relay()
    store = MemoryLedger(relay=printed.take)  # the answers are printed here, not kept in an outbox
    service = SettlementService(store, book, clock=clock)
    outcomes: Counter[str] = Counter()
    funds: Counter[str] = Counter()
    name = "stdin" if path == "-" else path
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            raw = b"{...line too long...}"
        reply = await answer_line(service, raw.rstrip(b"\r\n"), f"{name}:{number}", clock)
        assert isinstance(reply, BaseModel)  # no national gateway offline: every answer is claims.v1's
        out.write(printed.text_of(reply) + "\n")
        if path == "-":  # a pipe: each answer as soon as it is made; a file's are written in blocks
            out.flush()
        outcomes[reply.code.value if isinstance(reply, Rejection) else reply.msg_type] += 1
        if isinstance(reply, SettlementResult):
            for row in reply.setldetail:
                funds[row.fund_pay_type.value] += row.fund_payamt
    if totals:
        for stream in sorted(await store.list_streams()):
            _, snapshot = await store.read_projection(stream)
            if snapshot is not None:
                out.write(encode_json(_view(from_json(dict(snapshot)), book)).decode() + "\n")
    if summary:
        _print_summary(outcomes, funds)
    return 0


class _Relay:
    """The offline outbox: takes each answer the ledger commits (encode_json of the reply, made
    once by the service), so it is printed from those bytes rather than encoded again."""

    def __init__(self) -> None:
        self._last: OutboxMessage | None = None

    def take(self, message: OutboxMessage) -> None:
        self._last = message

    def text_of(self, reply: BaseModel) -> str:
        """The reply's wire JSON: the committed message's if it is this reply's (a retry's stored
        answer or an unrecorded one was not committed now: encoded here)."""
        last, self._last = self._last, None
        if last is not None and str(last.message_id) == str(getattr(reply, "event_id", "")):
            return last.value.decode()
        return encode_json(reply).decode()


async def answer_line(
    service: SettlementService, raw: bytes, source: str, clock: Callable[[], datetime] = _now
) -> Reply | Answered:
    """One answer for one line, whatever it holds. The in-memory ledger has no outage, so a line
    the service fails on (a bug it triggers) is answered internal_error naming the line, the
    failure is logged (stderr, without the line's content), and the next line is read."""
    try:
        return await service.handle(raw, source=source)
    except Exception as error:
        log.error("line_failed", source=source, error=type(error).__name__, exc_info=True)
        at = clock()
        try:
            return await service.reject_unhandled(raw, error, source=source, at=at)
        except Exception:  # the ledger refuses even the bare answer: print it unrecorded
            return await service.reject_unhandled(raw, error, source=source, at=at, record=False)


def _view(state, book: PolicyBook):  # type: ignore[no-untyped-def]
    enrolment = state.enrolment
    policy = None
    if enrolment is not None:
        try:
            policy = book.in_force(
                enrolment.insuplc_admdvs, enrolment.insutype, datetime(state.year, 12, 31).date()
            ).policy
        except UnknownPolicy:
            policy = None
    return annual_totals(state, policy)


def _print_summary(outcomes: Counter[str], funds: Counter[str]) -> None:
    err = sys.stderr
    err.write("outcomes:\n")
    for kind, count in sorted(outcomes.items()):
        err.write(f"  {kind:<32} {count:>6}\n")
    err.write("paid per fund (yuan):\n")
    for fund, fen in sorted(funds.items()):
        err.write(f"  {fund:<32} {format_yuan(fen):>14}\n")
