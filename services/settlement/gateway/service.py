"""The gateway's one use case: take a national envelope, answer it exactly once.

The same guarantees as claims.v1 (settlement.service_layer.handlers), through the same store:
the answer is committed — with the transaction's facts, its idempotency row (``msgid`` with
``fixmedins_code``) and its outbox row — before it is returned; a retry gets the stored
answer, the same msgid with another body a refusal; every append expects the version it read,
and a lost race is decided again. Queries and pre-settlements (9001, 1101, 2206, 2303, 2101,
3201, 3202) record nothing. A bug is never an answer: it propagates, nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import structlog
from ledger.errors import DuplicateRequest, WrongExpectedVersion
from ledger.store import IdempotentRequest, OutboxMessage, StoredRequest, StreamAppend

from contracts.topics import Topics
from engine.errors import PolicyGap, Rejected, UnknownPolicy
from engine.ids import event_id
from settlement.gateway.answers import FAILURE, TOMBSTONE, answer, encode, from_stored, stored_row
from settlement.gateway.context import Access, Context, Deps, Done
from settlement.gateway.envelope import Envelope, Salvaged, decode_body, read_envelope, salvage
from settlement.gateway.fields import NationalRefusal
from settlement.gateway.registry import TRANSACTIONS, supported
from settlement.service_layer.handlers import RetriesExhausted

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NationalReply:
    """A national answer's exact bytes, whom it is for, and whether it is on record (a retry of
    the msgid gets the same bytes back; its outbox row is written)."""

    text: bytes
    recorded: bool
    who: Salvaged
    msg_type: str = "national_answer"

    @staticmethod
    def of(answer_: dict[str, Any], recorded: bool, who: Salvaged) -> NationalReply:
        return NationalReply(encode(answer_).encode(), recorded, who)

    @cached_property
    def answer(self) -> dict[str, Any]:
        """The answer as a client parses it (numbers exact)."""
        parsed: dict[str, Any] = json.loads(self.text, parse_float=Decimal)
        return parsed

    def body(self) -> bytes:
        return self.text


class NationalGateway:
    def __init__(self, deps: Deps, max_races: int = 8) -> None:
        self.deps, self.max_races = deps, max_races

    async def handle(
        self,
        raw: bytes,
        *,
        access: Access,
        infno: str | None = None,
        received_at: datetime | None = None,
        answers: Topics | None = None,
    ) -> NationalReply:
        """The national answer to one envelope; a recorded one is published on `answers` (the
        streaming sender's own answer topics; over HTTP, None: those of the institution's
        principal, Deps.answers_to)."""
        at = received_at or self.deps.clock()
        body: dict[str, Any] = {}
        try:
            body = decode_body(raw)
            envelope = read_envelope(body, infno)
            access.check(envelope.fixmedins_code)
        except NationalRefusal as refused:
            return self._unrecorded(salvage(body), at, refused.err_msg)
        who = Salvaged(envelope.infno, envelope.msgid, envelope.fixmedins_code, envelope.mdtrtarea_admvs)
        transaction = TRANSACTIONS.get(envelope.infno)
        if transaction is None:
            why = f"transaction {envelope.infno} is not served here; supported: {supported()}"
            return self._unrecorded(who, at, why)
        context = Context(envelope, at, self.deps)
        if not transaction.records:
            return await self._query(context)
        return await self._record(context, answers or self.deps.answers_to(envelope.fixmedins_code))

    def _unrecorded(self, who: Salvaged, at: datetime, err_msg: str) -> NationalReply:
        output: dict[str, Any] = {}
        reply = answer(
            region=who.mdtrtarea_admvs,
            msgid=who.msgid,
            received_at=at,
            answered_at=self.deps.clock(),
            output=output,
            err_msg=err_msg,
        )
        return NationalReply.of(reply, recorded=False, who=who)

    def _answer(self, context: Context, done: Done | None, err_msg: str = "") -> dict[str, Any]:
        e = context.envelope
        return answer(
            region=e.mdtrtarea_admvs,
            msgid=e.msgid,
            received_at=context.at,
            answered_at=self.deps.clock(),
            output=done.output if done else {},
            err_msg=err_msg,
            warn_msg=done.warn if done else "",
        )

    async def _decide(self, context: Context) -> tuple[Done | None, str]:
        """(what the transaction decided, "") or (None, why it refused). Only refusals are answers."""
        transaction = TRANSACTIONS[context.envelope.infno]
        try:
            return await transaction.run(context), ""
        except NationalRefusal as refused:
            return None, refused.err_msg
        except Rejected as refused:
            return None, refused.message
        except (UnknownPolicy, PolicyGap) as gap:
            return None, str(gap)

    async def _query(self, context: Context) -> NationalReply:
        done, why = await self._decide(context)
        return NationalReply.of(self._answer(context, done, why), recorded=False, who=_who(context.envelope))

    async def _record(self, context: Context, answers: Topics | None) -> NationalReply:
        e = context.envelope
        for _ in range(self.max_races):
            stored = await self.deps.store.find_request(e.idempotency_key)
            if stored is not None:
                return await self._stored(context, stored)
            done, why = await self._decide(context)
            reply = self._answer(context, done, why)
            try:
                await self._commit(context, done.appends if done else (), reply, answers)
                return NationalReply.of(reply, recorded=True, who=_who(e))
            except WrongExpectedVersion as race:
                log.info("append_race", stream=race.stream_id, infno=e.infno)
            except DuplicateRequest as dup:
                return await self._stored(context, dup.stored)
        raise RetriesExhausted(f"{e.idempotency_key}: {self.max_races} lost races")

    async def _commit(
        self, context: Context, appends: Sequence[StreamAppend], reply: dict[str, Any], answers: Topics | None
    ) -> None:
        e = context.envelope
        national = NationalReply.of(reply, recorded=True, who=_who(e))
        row = stored_row(national.text.decode(), key=e.idempotency_key, infno=e.infno)
        request = IdempotentRequest(e.idempotency_key, e.body_hash, row)
        outbox = [answer_message(national, e.idempotency_key, answers)] if answers else []
        await self.deps.store.commit(list(appends), request=request, outbox=outbox)

    async def _stored(self, context: Context, stored: StoredRequest) -> NationalReply:
        """The msgid was seen: the same message gets its stored answer (also one 2601 left for it);
        another message under the same msgid is refused, unrecorded — the sender must pick a new one."""
        result = dict(stored.result)
        who = _who(context.envelope)
        if stored.body_hash == context.envelope.body_hash or TOMBSTONE in result:
            return NationalReply(from_stored(result), recorded=True, who=who)
        why = (
            f"msgid {context.envelope.msgid} was already used for another message of this institution; "
            "a retry must resend the same message, a new message needs a new msgid"
        )
        return NationalReply.of(self._answer(context, None, why), recorded=False, who=who)


def _who(e: Envelope) -> Salvaged:
    return Salvaged(e.infno, e.msgid, e.fixmedins_code, e.mdtrtarea_admvs)


def answer_message(reply: NationalReply, key: str, topics: Topics) -> OutboxMessage:
    """The answer on the answer topic: one contract, two transports (a counter that called over
    HTTP has it already; a system that streams its messages reads it there)."""
    who = reply.who
    headers = {"msg_type": reply.msg_type, "infno": who.infno, "msgid": who.msgid, "fixmedins_code": who.fixmedins_code}
    return OutboxMessage(
        message_id=event_id(key, 0),  # the stored answer's event_id: ledger/backing.py pairs them
        topic=topics.settlements,
        key=who.fixmedins_code or "unknown",
        value=reply.body(),
        headers=headers,
    )


def failed(reply: dict[str, Any]) -> bool:
    return reply.get("infcode") == FAILURE
