"""The settlement service's one use case: take a message, answer it exactly once.

Idempotency: the sender's key is looked up first; a retry gets the stored answer, the same
key with another body a conflict. Concurrency: every append expects the version it read; a
lost race re-reads and re-prices. Refusals become rejections stored and published like results.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import structlog
from ledger.clearing.reconciliation import answer
from ledger.clearing.source import ClearingSource, LogSource
from ledger.errors import DuplicateRequest, IdempotencyConflict, WrongExpectedVersion
from ledger.store import CommitRequest, LedgerStore, NewEvent, StreamAppend

from contracts.claims import Claim, Reversal, visit_year
from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.inbound import salvage_raw
from contracts.national import CHINA
from contracts.reconciliation import Reconciliation
from contracts.results import EnrolmentAccepted
from contracts.topics import Topics
from engine.contributions import ContributionRecorded, contribution_stream, paid_so_far, record_contribution
from engine.enrol import credit_account, record_enrolment
from engine.errors import PolicyGap, Rejected, UnknownPolicy
from engine.ids import event_id, settlement_id, year_of
from engine.out_of_region import treating_policy
from engine.person import OpenSettlement, stream_id
from engine.policy_book import PolicyBook, PricedPolicy
from engine.records import from_record, to_record
from engine.reverse import reverse_settlement
from engine.settle import PayerAccount, Settled, settle_claim
from engine.visit import Visit
from settlement.senders import Registry, Sender
from settlement.service_layer.people import Loaded, appends_for, load, prior_years, with_amounts
from settlement.service_layer.planning import Decision, Inbound, Message, key_of, plan_one, read_inbound, recorded
from settlement.service_layer.render import reversal_answer, settlement_answer
from settlement.service_layer.replies import Answered, Reply, body_hash, raw_key, rejection, reply_from_json
from settlement.service_layer.visits import contribution_facts_of, enrolment_facts_of, reversal_request_of, visit_of

log = structlog.get_logger(__name__)
DAY = timedelta(days=1)
NationalTest = Callable[[bytes], bool]


class NationalHandler(Protocol):
    """The national gateway's entry for envelopes streamed on an inbound topic
    (settlement.gateway.streaming): told who sent the record and where its answers go."""

    def __call__(
        self, raw: bytes, *, source: str | None, received_at: datetime | None, sender: Sender | None, answers: Topics
    ) -> Awaitable[Answered]: ...


def refuse_a_year_not_begun(visit: Visit, at: datetime) -> None:
    """A settlement dated in a year that had not begun when it was received is a mistyped date:
    settled, it would spend that year's deductible and caps against its enrolment (people are
    enrolled for the next year before it begins). A day of clock skew is allowed (a hospital
    clock ahead of Kafka's at midnight on 31 December). Only what is recorded is refused: a
    pre-settlement may look ahead."""
    received = at.astimezone(CHINA).date()
    if visit.enddate.year > received.year and visit.enddate > received + DAY:
        raise Rejected(
            RejectionCode.OUTSIDE_POLICY_YEAR,
            f"the visit ends {visit.enddate.isoformat()}, in a year that had not begun when it was received "
            f"({received.isoformat()}): a visit is settled at or after its end",
            field="endtime",
        )


class RetriesExhausted(RuntimeError):
    """Writers kept racing for the same person-year; the message stays unacknowledged."""


@dataclass(frozen=True)
class PricedVisit:
    settled: Settled  # the engine's facts and events
    appends: list[StreamAppend]  # the person-year streams' appends that record them
    region: str  # the insured's pooling region (where the settlement is cleared)
    policy: PricedPolicy  # the policy and payer data that priced it


class SettlementService:
    def __init__(
        self,
        store: LedgerStore,
        policies: PolicyBook,
        clock: Callable[[], datetime],
        max_races: int = 8,
        topics: Topics | None = None,
        senders: Registry | None = None,
        clearing: ClearingSource | None = None,
    ):
        self.store, self.policies, self.clock, self.max_races = store, policies, clock, max_races
        self.topics = topics or Topics()
        self.senders = senders  # None: shared topics, every producer trusted (local mode)
        self.national: tuple[NationalTest, NationalHandler] | None = None  # set by bootstrap
        self.clearing = clearing or LogSource(store)  # what reconciliation compares with

    def reading(self, store: LedgerStore) -> SettlementService:
        """The same service deciding against another view of the ledger (a group's, in
        settlement.service_layer.batch): ``decide`` reads through it and writes nothing."""
        view = copy.copy(self)
        view.store = store
        return view

    def answers_for(self, topic: str | None) -> tuple[Sender | None, Topics]:
        """Who sent a record read from `topic` (bound senders only) and where its answers go."""
        sender = self.senders.sender(topic, self.topics) if self.senders and topic else None
        return sender, sender.answers if sender else self.topics

    def is_national(self, raw: bytes) -> bool:
        """Whether a record is a national envelope (``infno``): the national gateway's to answer."""
        return self.national is not None and self.national[0](raw)

    async def handle(
        self, raw: bytes, *, source: str | None = None, received_at: datetime | None = None, topic: str | None = None
    ) -> Reply | Answered:
        """Answer one raw message: settle, reverse, record, or reject — and record the answer.
        A national envelope (``infno``) goes to the national gateway: one contract, two transports.
        Anything else is answered as a group of one (settlement.service_layer.planning)."""
        inbound = read_inbound(self, raw, source=source, at=received_at, topic=topic)
        if inbound.national and self.national is not None:
            sender, answers = self.answers_for(topic)
            national = self.national[1]
            return await national(raw, source=source, received_at=received_at, sender=sender, answers=answers)
        return await self.answer(inbound)

    async def answer(self, inbound: Inbound) -> Reply:
        """Plan the record against the ledger and commit the plan. A lost race (another writer
        appended to a stream it read, or stored its key first) re-reads and re-plans: a retry
        committed meanwhile then gets its stored answer, another body the conflict."""
        request_id = inbound.message.request_id if inbound.message else None
        for _ in range(self.max_races):
            reply, request = await plan_one(self, inbound)
            if request is None:  # a stored answer, or a pre-settlement: nothing to write
                return reply
            try:
                await self._commit(request)
                return reply
            except WrongExpectedVersion as race:
                log.info("append_race", stream=race.stream_id, request_id=request_id)
            except (DuplicateRequest, IdempotencyConflict):
                log.info("request_race", request_id=request_id)
        raise RetriesExhausted(f"{key_of(inbound)}: {self.max_races} lost races for the same person-year")

    async def ledger_reachable(self) -> bool:
        """Whether the ledger answers a trivial read: tells a bug from an outage."""
        try:
            await self.store.find_request("health:probe")
        except Exception:
            return False
        return True

    async def reject_unhandled(
        self,
        raw: bytes,
        error: Exception,
        *,
        source: str | None,
        at: datetime,
        topic: str | None = None,
        record: bool = True,
    ) -> Reply:
        """A message the service kept failing on for a reason that is neither the message's fault
        nor an outage (a bug): answer it ``internal_error`` so the partition moves on, recorded
        under this record's own key (``raw:…#failed``), never under the message's idempotency
        key — a resend or a re-drive after the fix is priced afresh.

        Nothing of the message is trusted here: the ids that address the answer are salvaged
        only if the contract would accept them, and the sentence names only the error's type.
        Only the ledger commit can raise; ``record=False`` skips it, for the caller's last resort
        of publishing the answer itself."""
        key = raw_key(raw, source) + "#failed"
        reason = type(error).__name__
        ids = salvage_raw(raw)
        reply = rejection(
            key,
            RejectionCode.INTERNAL_ERROR,
            f"not settled: the service failed on this message ({reason}) while its database and broker "
            "were healthy; nothing was recorded for it, operators are alerted and will re-drive it "
            "after a fix, or send it again with the same request_id",
            at=at,
            source=source,
            **ids,
        )
        if not record:
            return reply
        try:
            await self._commit(recorded(key, body_hash({"raw": key}), reply, [], self.answers_for(topic)[1]))
        except DuplicateRequest as dup:  # this record was dead-lettered before (a redelivery)
            return reply_from_json(dict(dup.stored.result))
        return reply

    async def _commit(self, request: CommitRequest) -> None:
        await self.store.commit(request.appends, request=request.request, outbox=request.outbox)

    async def decide(self, message: Message, at: datetime, source: str | None) -> Decision:
        """Price or record without writing anything (pre-settlement stops here).

        Only the engine's own refusals become answers: ``Rejected``, and a policy that does not
        cover the case. Anything else — a KeyError, an InvariantBroken — is a bug: it propagates,
        nothing is stored under the sender's key, and the caller handles it as a bug."""
        try:
            if isinstance(message, Claim):
                return await self._claim(message, at)
            if isinstance(message, Reversal):
                return await self._reversal(message, at)
            if isinstance(message, Enrolment):
                return await self._enrolment(message, at)
            if isinstance(message, Reconciliation):
                return await self._reconciliation(message, at)
            if isinstance(message, Contribution):
                return await self._contribution(message, at)
            return await self._credit(message, at)
        except Rejected as refused:
            code, text, field = refused.code, refused.message, refused.field
        except (UnknownPolicy, PolicyGap) as gap:
            code, text, field = RejectionCode.UNKNOWN_POLICY, str(gap), None
        reply = rejection(
            message.idempotency_key,
            code,
            text,
            at=at,
            field=field,
            source=source,
            request_id=message.request_id,
            fixmedins_code=getattr(message, "fixmedins_code", None),
            psn_no=message.psn_no,
        )
        return Decision(reply, [])

    async def _reconciliation(self, request: Reconciliation, at: datetime) -> Decision:
        """对账 (3201/3202): compared with the ledger's entries; recorded like any answer, no events."""
        key = request.idempotency_key
        return Decision(await answer(self.clearing, request, event_id=event_id(key, 0), occurred_at=at), [])

    def _policy(self, loaded: Loaded, on: date) -> PricedPolicy:
        enrolment = loaded.state.enrolment
        if enrolment is None:
            raise Rejected(
                RejectionCode.UNKNOWN_PERSON,
                f"person {loaded.state.psn_no} has no enrolment for {loaded.state.year}; send enrolments.v2 first",
                field="psn_no",
            )
        return self.policies.in_force(enrolment.insuplc_admdvs, enrolment.insutype, on)

    async def price_visit(
        self, visit: Visit, *, key: str, request_id: str, setl_id: str, at: datetime, record: bool = True
    ) -> PricedVisit:
        """A visit priced against the person's year and the policy in force: the facts, and the
        appends that would record them (each stream expecting the version it was read at) —
        none for a pre-settlement (``record=False``), which records nothing: folding and encoding
        the events was a fifth of its time. claims.v2 and the national gateway both come here."""
        if record:
            refuse_a_year_not_begun(visit, at)
        person = await load(self.store, visit.psn_no, visit.year)
        priced = self._policy(person, visit.enddate)
        loaded = {person.state.stream_id: person}
        payer = None
        if visit.acct_payer_psn_no is not None:
            relative = await load(self.store, visit.acct_payer_psn_no, visit.year)
            loaded[relative.state.stream_id] = relative
            if relative.state.enrolment is not None:
                payer = PayerAccount(relative.state, self._policy(relative, visit.enddate).policy)
        settled = settle_claim(
            visit,
            person.state,
            priced,
            payer=payer,
            setl_id=setl_id,
            request_key=key,
            request_id=request_id,
            treating=treating_policy(self.policies, priced, visit),  # 异地就医: the treating region's payer data
        )
        enrolment = person.state.enrolment
        assert enrolment is not None  # _policy refused a person without one
        appends = appends_for(key, settled.events, loaded, at) if record else []
        return PricedVisit(settled, appends, enrolment.insuplc_admdvs, priced)

    async def _claim(self, claim: Claim, at: datetime) -> Decision:
        key, visit = claim.idempotency_key, visit_of(claim)
        setl_id = settlement_id(key, visit_year(claim))
        record = claim.setl_mode != "pre_settle"
        priced = await self.price_visit(
            visit, key=key, request_id=claim.request_id, setl_id=setl_id, at=at, record=record
        )
        facts = priced.settled.facts
        reply = settlement_answer(facts, event_id=event_id(key, 0), occurred_at=at, setl_mode=claim.setl_mode)
        return Decision(reply, priced.appends)

    async def _reversal(self, reversal: Reversal, at: datetime) -> Decision:
        year = year_of(reversal.setl_id)
        if year is None:
            raise Rejected(
                RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT,
                f"{reversal.setl_id} is not a settlement id of this service",
                field="setl_id",
            )
        person = await with_amounts(self.store, await load(self.store, reversal.psn_no, year), reversal.setl_id)
        loaded = {person.state.stream_id: person}
        original = person.state.settlements.get(reversal.setl_id)
        payer_state = None
        if isinstance(original, OpenSettlement) and original.payer_psn_no is not None:
            relative = await load(self.store, original.payer_psn_no, year)
            loaded[relative.state.stream_id] = relative
            payer_state = relative.state
        key = reversal.idempotency_key
        done = reverse_settlement(
            reversal_request_of(reversal), person.state, payer_state, setl_id=settlement_id(key, year)
        )
        reply = reversal_answer(done.facts, event_id=event_id(key, 0), occurred_at=at)
        return Decision(reply, appends_for(key, done.events, loaded, at))

    async def _enrolment(self, enrolment: Enrolment, at: datetime) -> Decision:
        person = await load(self.store, enrolment.psn_no, enrolment.year)
        first_day, codes = date(enrolment.year, 1, 1), self.policies.codes
        scheme = self.policies.scheme_of(enrolment.insuplc_admdvs, enrolment.insutype, first_day)
        if scheme is None:
            raise Rejected(
                RejectionCode.UNMAPPED_CODE,
                f"insutype {codes.describe('insutype', enrolment.insutype)} is not mapped by any policy of region "
                f"{enrolment.insuplc_admdvs} in force in {enrolment.year} ([codes.insutype])",
                field="insutype",
            )
        priced = self.policies.in_force(enrolment.insuplc_admdvs, scheme, first_day)
        facts = enrolment_facts_of(enrolment, scheme, priced.policy, codes)
        prior = await prior_years(self.store, self.policies, enrolment.psn_no, enrolment.year)
        event = record_enrolment(facts, priced.policy, person.state, prior)
        stream = stream_id(enrolment.psn_no, enrolment.year)
        reply = EnrolmentAccepted(
            event_id=event_id(enrolment.idempotency_key, 0),
            occurred_at=at,
            request_id=enrolment.request_id,
            psn_no=enrolment.psn_no,
            year=enrolment.year,
            coverage_from=event.coverage_from.isoformat(),
        )
        return Decision(reply, appends_for(enrolment.idempotency_key, [(stream, event)], {stream: person}, at))

    async def _credit(self, credit: AccountCredit, at: datetime) -> Decision:
        person = await load(self.store, credit.psn_no, credit.year)
        priced = self._policy(person, date(credit.year, credit.month, 1))
        event = credit_account(credit.psn_no, credit.year, credit.month, person.state, priced.policy)
        stream = person.state.stream_id
        reply = EnrolmentAccepted(
            event_id=event_id(credit.idempotency_key, 0),
            occurred_at=at,
            request_id=credit.request_id,
            psn_no=credit.psn_no,
            year=credit.year,
            acct_credit=event.amount,
            balc=person.state.account_balance + event.amount,
        )
        return Decision(reply, appends_for(credit.idempotency_key, [(stream, event)], {stream: person}, at))

    async def _contribution(self, contribution: Contribution, at: datetime) -> Decision:
        """Recorded in the person-year's contribution stream (contrib/<psn_no>/<year>), which has
        no inline projection: its few events are read and folded here."""
        person = await load(self.store, contribution.psn_no, contribution.year)
        stream = contribution_stream(contribution.psn_no, contribution.year)
        recorded = await self.store.read_stream(stream)
        paid = paid_so_far(
            e for e in (from_record(r.event_type, r.data) for r in recorded) if isinstance(e, ContributionRecorded)
        )
        policy = self._policy(person, date(contribution.year, 1, 1)).policy
        enrolment = person.state.enrolment
        assert enrolment is not None  # _policy refused a person-year without one
        facts = contribution_facts_of(contribution, enrolment.insutype, policy, self.policies.codes)
        event = record_contribution(facts, enrolment, policy, paid)
        key = contribution.idempotency_key
        event_type, data = to_record(event)
        append = StreamAppend(stream, len(recorded), [NewEvent(event_id(key, 0), event_type, data, at)])
        reply = EnrolmentAccepted(
            event_id=event_id(key, 0),
            occurred_at=at,
            request_id=contribution.request_id,
            psn_no=contribution.psn_no,
            year=contribution.year,
        )
        return Decision(reply, [append])
