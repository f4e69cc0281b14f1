"""Group commit: a run of consumed messages answered in one ledger transaction.

The per-message path (``SettlementService.handle``) spends one transaction per message: an
idempotency lookup, a totals read, the append, the outbox row. Here a group of messages is
answered with one ``find_requests`` for every key it names, one ``read_projections`` for every
person-year it touches, the pricing **in order in memory** (each message sees the totals,
versions and stored answers the earlier ones of the group left, through ``GroupView``), and one
``commit_batch`` with every request's appends, idempotency row and outbox row. Each message is
planned by ``plan_one`` (settlement.service_layer.planning), the very decision ``handle`` makes
for a group of one: the two paths cannot answer a message differently.

What the group does not take (a national envelope, a reconciliation, a contribution or a reversal, which
read whole streams, a pre-settlement, which records nothing) the consumer answers alone, after
committing the group before it, so a partition's order is kept. A message whose pricing fails
for a reason that is not the message's fault nor an outage (a bug) is left out of the group and
answered alone afterwards, with the consumer's bounded attempts; it never holds the group.

A commit refused in part (``BatchRefused``: a key another writer stored meanwhile, a stream
another writer appended to) commits the rest, leaving out each refused request and every
request that priced against what a refused one would have written; those are answered alone,
in order, by the per-message path, which re-reads what they touch. Nothing is answered twice:
an answer is either in the committed group or given alone, never both.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ledger.errors import BatchRefused
from ledger.store import (
    BatchReceipt,
    CommitReceipt,
    CommitRequest,
    IdempotentRequest,
    LedgerStore,
    OutboxMessage,
    RecordedEvent,
    StoredRequest,
    StreamAppend,
)

from contracts.claims import Claim, Reversal, visit_year
from contracts.enrolments import AccountCredit, Enrolment
from engine.ids import year_of
from engine.person import stream_id
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.planning import Inbound, Message, key_of, plan_one
from settlement.service_layer.replies import Reply

# Far inside commit_batch's limits (5,000 requests, 60,000 events): a Kafka batch is 200 by default.
MAX_GROUP = 1_000
Projection = tuple[int, Mapping[str, Any] | None]
IsBug = Callable[[Exception], Awaitable[bool]]


def streams_of(message: Message | None) -> list[str]:
    """The person-years a message's pricing will read, as far as the message alone tells: a
    read outside them (a reversal's payer, an enrolment's earlier years) is made when asked."""
    try:
        if isinstance(message, Claim):
            year = visit_year(message)
            payer = [] if message.acct_payer_psn_no is None else [stream_id(message.acct_payer_psn_no, year)]
            return [stream_id(message.psn_no, year), *payer]
        if isinstance(message, Reversal):
            settled_in = year_of(message.setl_id)
            return [] if settled_in is None else [stream_id(message.psn_no, settled_in)]
        if isinstance(message, Enrolment | AccountCredit):
            return [stream_id(message.psn_no, message.year)]
    except Exception:  # a hint only: the read is made when the pricing asks
        return []
    return []


@dataclass
class GroupView:
    """The ledger as the group's next member must see it: what was read in bulk before pricing,
    under what the earlier members of the group would write. Reads it does not hold go to the
    store and are kept. Records which earlier member each read depends on (``touched``)."""

    store: LedgerStore
    projections: dict[str, Projection] = field(default_factory=dict)
    requests: dict[str, StoredRequest | None] = field(default_factory=dict)
    written_by: dict[str, int] = field(default_factory=dict)  # stream or key → the member that wrote it
    touched: set[int] = field(default_factory=set)

    @classmethod
    async def load(cls, store: LedgerStore, members: Sequence[Inbound]) -> GroupView:
        """One read of every key and one of every person-year the members name."""
        keys = list(dict.fromkeys(k for k in map(key_of, members) if k is not None))
        streams = list(dict.fromkeys(s for m in members for s in streams_of(m.message)))
        found = await store.find_requests(keys) if keys else {}
        view = cls(store, await store.read_projections(streams) if streams else {})
        view.requests = {key: found.get(key) for key in keys}
        return view

    def wrote(self, member: int, request: CommitRequest) -> None:
        """What a member will commit, seen by every later member."""
        for append in request.appends:
            version = append.expected_version + len(append.events)
            self.projections[append.stream_id] = (version, append.projection)
            self.written_by[append.stream_id] = member
        if request.request is not None:
            one = request.request
            self.requests[one.key] = StoredRequest(one.key, one.body_hash, one.result)
            self.written_by[one.key] = member

    def _seen(self, name: str) -> None:
        if name in self.written_by:
            self.touched.add(self.written_by[name])

    async def read_projection(self, stream_id: str) -> Projection:
        self._seen(stream_id)
        if stream_id not in self.projections:
            self.projections[stream_id] = await self.store.read_projection(stream_id)
        return self.projections[stream_id]

    async def find_request(self, key: str) -> StoredRequest | None:
        self._seen(key)
        if key not in self.requests:
            self.requests[key] = await self.store.find_request(key)
        return self.requests[key]

    async def read_projections(self, stream_ids: Sequence[str]) -> dict[str, Projection]:
        return {stream: await self.read_projection(stream) for stream in stream_ids}

    async def find_requests(self, keys: Sequence[str]) -> dict[str, StoredRequest]:
        found = {key: await self.find_request(key) for key in keys}
        return {key: stored for key, stored in found.items() if stored is not None}

    async def list_streams(self, prefix: str | None = None) -> list[str]:
        ours = [s for s in self.written_by if "/" in s and (prefix is None or s.startswith(prefix))]
        for stream in ours:
            self._seen(stream)
        return sorted(set(await self.store.list_streams(prefix)) | set(ours))

    async def read_stream(self, stream_id: str, *, as_of: datetime | None = None) -> list[RecordedEvent]:
        # Only a contribution, a reconciliation or a reversal reads whole streams, and none is grouped.
        assert stream_id not in self.written_by, f"{stream_id} read whole inside a group that writes it"
        return await self.store.read_stream(stream_id, as_of=as_of)

    async def read_all(self, after_position: int, limit: int) -> list[RecordedEvent]:
        return await self.store.read_all(after_position, limit)

    async def commit(
        self,
        appends: Sequence[StreamAppend],
        *,
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> CommitReceipt:
        raise TypeError("a group's view of the ledger is read-only: the group commits once, at its end")

    async def commit_batch(self, requests: Sequence[CommitRequest]) -> BatchReceipt:
        raise TypeError("a group's view of the ledger is read-only: the group commits once, at its end")


@dataclass(frozen=True)
class Plan:
    """A member's answer before the commit: what to write (None: a stored answer, nothing to
    write), the earlier members whose writes it priced against, or the error it raised."""

    reply: Reply | None = None
    request: CommitRequest | None = None
    depends_on: frozenset[int] = frozenset()
    failure: Exception | None = None


async def plan_group(service: SettlementService, members: Sequence[Inbound], is_bug: IsBug) -> list[Plan]:
    """The members priced in order against the group's view, up to and including the first that
    fails for what ``is_bug`` calls a bug (not an outage): its plan is the failure, and the group
    ends there — the members after it are priced after it is answered (a later group), never
    before, so a failure that does not come back on its retry cannot reorder a person's claims
    or hand its request_id to a later body. Any other failure raises (the batch rewinds)."""
    view = await GroupView.load(service.store, members)
    planner = service.reading(view)
    plans: list[Plan] = []
    for index, inbound in enumerate(members):
        view.touched = set()
        try:
            reply, request = await plan_one(planner, inbound)
        except Exception as error:
            if not await is_bug(error):
                raise
            plans.append(Plan(failure=error))
            break
        if request is not None:
            view.wrote(index, request)
        plans.append(Plan(reply, request, frozenset(view.touched)))
    return plans


@dataclass(frozen=True)
class GroupOutcome:
    answered: dict[int, Reply]  # member → its answer, committed with the group (or stored before it)
    alone: list[int]  # members to answer one by one, in order: failed in the group, or refused by the ledger
    failures: dict[int, Exception]  # the members that failed in the group, with what they raised
    refused: int = 0  # requests the ledger refused (another writer came first)
    rest_from: int | None = None  # the group was cut at a failed member: members from here form a new group
    priced_s: float = 0.0  # reading and pricing, in memory
    committed_s: float = 0.0  # the commit_batch (with its retries without refused members)


def left_out(plans: Sequence[Plan], refused: set[int]) -> set[int]:
    """The refused members and every member that priced against what one of them would have
    written (depends_on only names earlier members, so one pass in order finds them all)."""
    out = set(refused)
    for index, plan in enumerate(plans):
        if plan.depends_on & out:
            out.add(index)
    return out


async def commit_group(store: LedgerStore, plans: Sequence[Plan]) -> GroupOutcome:
    """One ``commit_batch``; on a partial refusal, again without the refused members and what
    depends on them (at most once per member: each refusal leaves at least one out)."""
    failures = {i: p.failure for i, p in enumerate(plans) if p.failure is not None}
    out: set[int] = set(failures)
    refused = 0
    for _ in range(len(plans) + 1):
        writing = [i for i, p in enumerate(plans) if i not in out and p.request is not None]
        try:
            await store.commit_batch([request for i in writing if (request := plans[i].request) is not None])
        except BatchRefused as refusal:
            refused += len(refusal.refusals)
            out |= left_out(plans, {writing[k] for k in refusal.refusals})
            continue
        answered = {i: reply for i, p in enumerate(plans) if i not in out and (reply := p.reply) is not None}
        return GroupOutcome(answered, sorted(out), failures, refused)
    raise AssertionError("commit_batch kept refusing a group that lost a member at each try")


async def settle_group(service: SettlementService, members: Sequence[Inbound], is_bug: IsBug) -> GroupOutcome:
    """Price the members in order in memory, then commit them in one transaction."""
    started = time.perf_counter()
    plans = await plan_group(service, members, is_bug)
    priced = time.perf_counter()
    outcome = await commit_group(service.store, plans)
    rest = len(plans) if len(plans) < len(members) else None
    return replace(outcome, priced_s=priced - started, committed_s=time.perf_counter() - priced, rest_from=rest)
