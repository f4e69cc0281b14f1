"""National envelopes over Kafka: the same contract as over HTTP, on the inbound topic.

A record whose JSON object has ``infno`` (and no claims.v1 ``msg_type``) is a national
envelope; it is answered by the same gateway, and its answer is published on the answer topic
through the ledger's outbox. Transactions that record facts store their answer under their
msgid (the gateway does that); the others — queries, pre-settlements, refusals before the
message could be read — are stored under the Kafka record's own key (topic/partition/offset
and bytes), so a redelivered record is answered once, never twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ledger.errors import DuplicateRequest
from ledger.store import IdempotentRequest

from contracts.topics import Topics
from contracts.wire import UndecodableMessage, decode_json
from settlement.gateway.answers import from_stored, stored_row
from settlement.gateway.context import Access
from settlement.gateway.envelope import Salvaged, salvage
from settlement.gateway.service import NationalGateway, NationalReply, answer_message
from settlement.senders import Sender
from settlement.service_layer.replies import raw_key

MARKER = b'"infno"'


def is_national(raw: bytes) -> bool:
    """A national envelope, not a claims.v1/enrolments.v1 message (cheap test first)."""
    if MARKER not in raw:
        return False
    try:
        body = decode_json(raw)
    except (UndecodableMessage, RecursionError):
        return False
    return "infno" in body and "msg_type" not in body


class StreamedGateway:
    """The gateway as the Kafka consumer calls it. Who sent the record is known from its topic
    (settlement.senders): the principal acts only for the institutions the registry of senders
    gives it, and is answered on its own answer topic — an envelope for another institution is
    refused ``not_authorised``, recorded under the record's key, before its msgid is looked at.
    Without a registry (local mode, shared topics) every sender may act for any institution."""

    def __init__(self, gateway: NationalGateway) -> None:
        self.gateway = gateway

    async def __call__(
        self, raw: bytes, *, source: str | None, received_at: datetime | None, sender: Sender | None, answers: Topics
    ) -> NationalReply:
        store = self.gateway.deps.store
        key = raw_key(raw, source) + "#fsi"
        stored = await store.find_request(key)
        if stored is not None:
            return NationalReply(from_stored(stored.result), recorded=True, who=_who(raw))
        access = Access(sender.institution_refusal) if sender else Access.anyone()
        reply = await self.gateway.handle(raw, access=access, received_at=received_at, answers=answers)
        if reply.recorded:
            return reply
        row = stored_row(reply.text.decode(), key=key, infno=reply.who.infno)
        request = IdempotentRequest(key, hashlib.sha256(raw).hexdigest(), row)
        try:
            await store.commit([], request=request, outbox=[answer_message(reply, key, answers)])
        except DuplicateRequest as dup:  # a concurrent redelivery answered it first
            return NationalReply(from_stored(dup.stored.result), recorded=True, who=reply.who)
        return NationalReply(reply.text, recorded=True, who=reply.who)


def _who(raw: bytes) -> Salvaged:
    try:
        return salvage(decode_json(raw))
    except (UndecodableMessage, RecursionError):
        return salvage({})
