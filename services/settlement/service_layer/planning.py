"""One record's answer, planned without writing: the decision both paths share.

``SettlementService.handle`` answers a record as a group of one (it reads the record with
``read_inbound``, plans it with ``plan_one`` and commits that plan); the group commit
(settlement.service_layer.batch) plans a run of records with the same ``plan_one`` against a
view that shows each the writes of the ones before it, then commits them together. So the
answer to a record cannot depend on which path gave it.

The order of the decision: an unreadable record gets the answer stored under its own key or a
refusal saying why; a record its sender may not send gets ``not_authorised``, before the
message's key is even looked up (it may be another institution's); a pre-settlement is priced
and records nothing (no key is looked up); a known key gets its stored answer (a retry) or a
conflict stored under a key of its own (the same key with another body); anything else is
priced or recorded by the service (``decide``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Protocol

from ledger.store import CommitRequest, IdempotentRequest, LedgerStore, StreamAppend

from contracts.claims import Claim, Reversal
from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.reconciliation import Reconciliation
from contracts.results import Rejection
from contracts.topics import Topics
from settlement.senders import Sender
from settlement.service_layer.replies import (
    Reply,
    answer_rows,
    body_hash,
    from_invalid,
    raw_key,
    rejection,
    reply_from_json,
)

Message = Claim | Reversal | Enrolment | AccountCredit | Contribution | Reconciliation


@dataclass(frozen=True)
class Decision:
    reply: Reply
    appends: list[StreamAppend]


class Planner(Protocol):
    """What planning asks of the service: the ledger as the record must see it (the store
    itself, or a group's view of it), who sent a record, a clock, and the pricing."""

    @property
    def store(self) -> LedgerStore: ...

    @property
    def topics(self) -> Topics: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def answers_for(self, topic: str | None) -> tuple[Sender | None, Topics]: ...

    def is_national(self, raw: bytes) -> bool: ...

    async def decide(self, message: Message, at: datetime, source: str | None) -> Decision: ...


@dataclass(frozen=True)
class Inbound:
    """One record as it is answered: parsed once, with what it is and who sent it."""

    raw: bytes
    source: str | None  # topic/partition/offset, or file:line offline
    at: datetime | None  # when Kafka took it (the same on every redelivery); None: not from Kafka (CLI, tests)
    answers: Topics  # where its answer goes (the sender's own topics, or the shared ones)
    message: Message | None = None
    invalid: InvalidMessage | None = None
    refusal: str | None = None  # not_authorised: why this sender may not send it
    failure: Exception | None = None  # reading it raised something unforeseen (a bug)
    national: bool = False  # a national envelope: the national gateway answers it
    grouped: bool = True  # False: answered alone (national, reconciliation, contribution, reversal, pre-settlement)

    @cached_property
    def digest(self) -> str:
        """The message's body hash, once per record: a re-planned record (a lost race) asks again."""
        assert self.message is not None
        return body_hash(self.message.model_dump(mode="json"))


def _pre_settle(message: Message | None) -> bool:
    """A pre-settlement (预结算): priced against the current totals, recorded nowhere."""
    return isinstance(message, Claim) and message.setl_mode == "pre_settle"


def read_inbound(
    service: Planner, raw: bytes, *, source: str | None, at: datetime | None, topic: str | None
) -> Inbound:
    """Parse a record once and tell whether a group takes it. Never raises: a failure to read
    it is kept with it, and raised when it is planned (the caller's bug handling takes it)."""
    try:
        sender, answers = service.answers_for(topic)
        if service.is_national(raw):
            return Inbound(raw, source, at, answers, national=True, grouped=False)
        try:
            message = parse_inbound(raw)
        except InvalidMessage as invalid:
            return Inbound(raw, source, at, answers, invalid=invalid)
        refusal = sender.refusal(message) if sender else None
        # Reconciliations, contributions and reversals read whole streams (a reversal, the event of
        # the settlement it undoes: a projection keeps only a note of it); a pre-settlement records
        # nothing.
        alone = isinstance(message, Reconciliation | Contribution | Reversal) or _pre_settle(message)
        grouped = refusal is not None or not alone
        return Inbound(raw, source, at, answers, message=message, refusal=refusal, grouped=grouped)
    except Exception as error:
        return Inbound(raw, source, at, service.topics, failure=error)


def key_of(inbound: Inbound) -> str | None:
    """The idempotency key the record's answer is stored under (the conflict key aside)."""
    if inbound.invalid is not None:
        return raw_key(inbound.raw, inbound.source)
    if inbound.message is None:
        return None
    if inbound.refusal is not None:
        return raw_key(inbound.raw, inbound.source) + "#not_authorised"
    return inbound.message.idempotency_key


def not_authorised_reply(
    raw: bytes, message: Message, why: str, *, at: datetime, source: str | None
) -> tuple[str, Rejection]:
    """The ``not_authorised`` answer to a record its sender may not send, and the key it is
    stored under: the record's own (raw bytes and offset), never the message's."""
    key = raw_key(raw, source) + "#not_authorised"
    claimlike = isinstance(message, Claim | Reversal)
    reply = rejection(
        key,
        RejectionCode.NOT_AUTHORISED,
        why,
        at=at,
        field="fixmedins_code" if claimlike else "msg_type",
        source=source,
        request_id=message.request_id,
        fixmedins_code=getattr(message, "fixmedins_code", None),
        psn_no=message.psn_no,
    )
    return key, reply


def conflict_reply(message: Message, digest: str, *, at: datetime, source: str | None) -> tuple[str, Rejection]:
    """The ``idempotency_conflict`` answer to a known key sent with another body, and the key
    of its own it is stored under (so a redelivery of that body gets it, once)."""
    conflict_key = f"{message.idempotency_key}#conflict#{digest}"
    conflict = rejection(
        conflict_key,
        RejectionCode.IDEMPOTENCY_CONFLICT,
        f"request_id {message.request_id} was already used for a different message; "
        "a retry must resend the same content, a new request needs a new request_id",
        at=at,
        field="request_id",
        source=source,
        request_id=message.request_id,
        fixmedins_code=getattr(message, "fixmedins_code", None),
        psn_no=message.psn_no,
    )
    return conflict_key, conflict


def recorded(key: str, digest: str, reply: Reply, appends: Sequence[StreamAppend], answers: Topics) -> CommitRequest:
    """What commits an answer: its events, its idempotency row and its outbox row, together."""
    result, published = answer_rows(reply, answers)
    return CommitRequest(appends, IdempotentRequest(key=key, body_hash=digest, result=result), [published])


Plan = tuple[Reply, CommitRequest | None]  # the answer, and what records it (None: nothing to write)


async def plan_one(planner: Planner, inbound: Inbound) -> Plan:
    """A record's answer and what would record it, read through ``planner.store``, written nowhere."""
    if inbound.failure is not None:
        raise inbound.failure
    if inbound.invalid is not None:
        return await _plan_invalid(planner, inbound, inbound.invalid)
    message = inbound.message
    assert message is not None  # a national envelope is the national gateway's, never planned here
    at = inbound.at or message.sent_at
    if inbound.refusal is not None:
        key, reply = not_authorised_reply(inbound.raw, message, inbound.refusal, at=at, source=inbound.source)
        return await _once(planner, key, body_hash({"raw": key}), reply, inbound.answers)
    if _pre_settle(message):  # records nothing, so it has no key to look up
        return (await planner.decide(message, at, inbound.source)).reply, None
    key, digest = message.idempotency_key, inbound.digest
    stored = await planner.store.find_request(key)
    if stored is not None and stored.body_hash == digest:  # a retry: the stored answer, published once already
        return reply_from_json(dict(stored.result)), None
    if stored is not None:  # the same key, another body
        conflict_key, conflict = conflict_reply(message, digest, at=at, source=inbound.source)
        return await _once(planner, conflict_key, digest, conflict, inbound.answers)
    decision = await planner.decide(message, at, inbound.source)
    return decision.reply, recorded(key, digest, decision.reply, decision.appends, inbound.answers)


async def _plan_invalid(planner: Planner, inbound: Inbound, invalid: InvalidMessage) -> Plan:
    """An unreadable record, under its own key: this very record redelivered gets its stored
    answer; else a refusal timed when Kafka took it (offline, by the service's clock)."""
    key = raw_key(inbound.raw, inbound.source)
    stored = await planner.store.find_request(key)
    if stored is not None:
        return reply_from_json(dict(stored.result)), None
    reply = from_invalid(key, invalid, at=inbound.at or planner.clock(), source=inbound.source)
    return reply, recorded(key, body_hash({"raw": key}), reply, [], inbound.answers)


async def _once(planner: Planner, key: str, digest: str, reply: Reply, answers: Topics) -> Plan:
    """An answer that writes no events, recorded under ``key`` once: the stored one if it was."""
    stored = await planner.store.find_request(key)
    if stored is not None:
        return reply_from_json(dict(stored.result)), None
    return reply, recorded(key, digest, reply, [], answers)
