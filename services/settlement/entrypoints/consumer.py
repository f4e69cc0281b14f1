"""The Kafka side: claims.v1 and enrolments.v1 in bounded batches, offsets committed only after
every message of the batch has its answer committed in the ledger.

Two kinds of failure, told apart by ``failures.is_outage``:

- an **outage** (database or broker unreachable, restarting, overloaded, a lost race) rewinds
  the batch — each partition to its first record not yet answered (``Progress``), the answered
  ones committed — and waits with exponential backoff; a redelivered message that was answered
  anyway (a crash before that commit) gets its stored answer (idempotency), so nothing is lost
  or done twice, and a message dead-lettered before the outage is not tried and copied again;
- anything else is about **one message** (its content, or a bug it triggers). It is tried
  ``max_attempts`` times; then it is answered ``internal_error``, copied to its dead-letter
  topic and counted, and the partition moves on. Nothing a message holds can stop a partition.

Group commit (settlement.service_layer.batch): the runs of messages a group takes are priced in
order in memory and committed in one ledger transaction; a message it does not take is answered
alone, by ``answer``, after the group before it is committed, so a partition keeps its order.
A message that fails inside a group, or that the ledger refused in the group's commit (another
writer came first), is answered alone after its group, by ``answer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition

from contracts.inbound import salvage_raw
from contracts.results import Rejection
from ops.metrics import SettlementMetrics
from settlement.entrypoints.dead_letters import DeadLetterPolicy, NoDeadLetterTopic
from settlement.entrypoints.failures import is_outage
from settlement.service_layer.batch import MAX_GROUP, GroupOutcome, settle_group
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.planning import Inbound, read_inbound
from settlement.service_layer.replies import Answered, Reply, outbox_message

log = structlog.get_logger(__name__)

REWIND_COMMIT_TIMEOUT_S = 5.0  # committing what a failed batch answered: best effort, not a wait

# A record timestamp outside these bounds is not a time Kafka took the message: a producer in
# CreateTime mode may write any 64-bit number (2**62 ms is 146 million years from now).
EARLIEST_RECORD_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_RECORD_TIME = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Backoff:
    """A consumer's retries after an outage, and whether it is retrying (``/readyz``)."""

    ceiling: float
    grace: float = 10.0  # past a retry's delay: time for the rewound batch to come back
    failures: int = 0
    last_error: str = field(default="")
    retry_by: float = 0.0  # time.monotonic(): the next try of the rewound batch begins before it

    @property
    def healthy(self) -> bool:
        """Not retrying: no failure since the last acknowledged batch, or no try of the rewound
        batch for longer than its delay and ``grace`` — a rebalance gave its partitions to another
        member, and FastStream never calls the handler of a consumer with nothing to read."""
        return self.failures == 0 or time.monotonic() > self.retry_by

    def next_delay(self) -> float:
        self.failures += 1
        delay = float(min(self.ceiling, 0.2 * 2 ** min(self.failures, 16)))
        self.retry_by = time.monotonic() + delay + self.grace
        return delay

    def reset(self) -> None:
        self.failures, self.last_error, self.retry_by = 0, "", 0.0


def received_at(record: Any) -> datetime:
    """When Kafka took the message (its record timestamp: the broker's append time on input
    topics made as docs/deploy.md says, ops.kafka.BROKER_TIME; the producer's own on a topic
    left at Kafka's default, which the service warns of at start): the same on every
    redelivery, so a message answered again after a crash gets the same answer, byte for byte. A missing or
    absurd timestamp (before 2000, after 2100, beyond what a datetime holds) is replaced by
    the consumer's clock; this never raises."""
    timestamp = getattr(record, "timestamp", None)
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        try:
            taken = datetime.fromtimestamp(timestamp / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            taken = None
        if taken is not None and EARLIEST_RECORD_TIME <= taken < LATEST_RECORD_TIME:
            return taken
    return datetime.now(UTC)


def describe(error: BaseException) -> str:
    """An error for a log line: its type and at most 200 characters of its text."""
    text = str(error)
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


async def answer(
    service: SettlementService, record: Any, metrics: SettlementMetrics, dead: DeadLetterPolicy
) -> Reply | Answered:
    """Exactly one answer for one record, or an exception that is an outage (the caller rewinds)."""
    raw = record.value or b""
    source = f"{record.topic}/{record.partition}/{record.offset}"
    at = received_at(record)
    failure: Exception | None = None
    for attempt in range(1, dead.max_attempts + 1):
        try:
            return await service.handle(raw, source=source, received_at=at, topic=record.topic)
        except Exception as error:
            if is_outage(error) or not await service.ledger_reachable():
                raise  # an outage in whatever form: retried with the batch, never answered
            failure = error
            metrics.unhandled.inc()
            # The person the message names is bound, so that the pseudonymiser also replaces
            # it wherever the error's text repeats it (ops.logging).
            person = salvage_raw(raw)["psn_no"]
            log.error(
                "message_failed",
                attempt=attempt,
                of=dead.max_attempts,
                psn_no=person,
                error=describe(error),
                exc_info=True,
            )
            if attempt < dead.max_attempts:
                await asyncio.sleep(dead.retry_delay_s * attempt)
    assert failure is not None
    return await dead_letter(service, record, failure, metrics, dead, source=source, at=at)


async def dead_letter(
    service: SettlementService,
    record: Any,
    failure: Exception,
    metrics: SettlementMetrics,
    dead: DeadLetterPolicy,
    *,
    source: str,
    at: datetime,
) -> Reply:
    """Answer ``internal_error`` (recorded in the ledger, relayed like every answer), then copy
    the record to its dead-letter topic. If even the bare answer cannot be recorded while the
    ledger answers, it is published straight to rejections.v1: the sender always hears."""
    raw = record.value or b""
    try:
        reply = await service.reject_unhandled(raw, failure, source=source, at=at, topic=record.topic)
    except Exception as error:
        if is_outage(error) or not await service.ledger_reachable():
            raise
        log.error("internal_error_not_recorded", error=describe(error), exc_info=True)
        reply = await service.reject_unhandled(raw, failure, source=source, at=at, record=False)
        unrecorded = outbox_message(reply, service.answers_for(record.topic)[1])
        await dead.producer.send_and_wait(
            unrecorded.topic,
            unrecorded.value,
            key=unrecorded.key.encode(),
            headers=[(k, v.encode()) for k, v in unrecorded.headers.items()],
        )
    try:
        topic = await dead.publish(record, failure, dead.max_attempts)
    except Exception as error:
        if is_outage(error):
            raise  # the broker: rewound, and on redelivery the stored answer is found and the copy made again
        # The copy itself is refused (a record at the broker's size limit has no room for our
        # headers): the answer stands and the partition moves on; the log line says where it was.
        log.error("dead_letter_not_copied", error=describe(error), dead_letter_topic=dead.topic_for(record.topic))
        topic = ""
    metrics.dead_letters.labels(record.topic).inc()
    log.error("message_dead_lettered", dead_letter_topic=topic, error=describe(failure))
    return reply


class Progress:
    """The records of a batch whose answer is committed (or was stored before), as they are
    answered. A rewind starts each partition at its first record not among them, and what
    comes before it may be committed even though the batch failed."""

    def __init__(self) -> None:
        self._answered: set[tuple[str, int, int]] = set()

    def answered(self, record: Any) -> None:
        self._answered.add((record.topic, record.partition, record.offset))

    def resume_at(self, records: tuple[Any, ...]) -> dict[TopicPartition, tuple[int, bool]]:
        """Per partition of ``records``: the offset to read again from, and whether anything
        before it was answered on this pass (an offset worth committing)."""
        runs: dict[TopicPartition, list[int]] = {}
        for record in records:
            runs.setdefault(TopicPartition(record.topic, record.partition), []).append(record.offset)
        resume: dict[TopicPartition, tuple[int, bool]] = {}
        for tp, offsets in runs.items():
            at, some = min(offsets), False
            for offset in sorted(offsets):
                if (tp.topic, tp.partition, offset) not in self._answered:
                    break
                at, some = offset + 1, True
            resume[tp] = (at, some)
        return resume


async def process_batch(
    service: SettlementService,
    records: tuple[Any, ...],
    metrics: SettlementMetrics,
    dead: DeadLetterPolicy | None = None,
    progress: Progress | None = None,
) -> None:
    """Answer every record, each partition's in order; raises on an outage before anything is
    acked. The partitions of a batch are answered side by side: a person's messages share one
    partition (keyed by psn_no), so while one partition's group waits for its commit another's
    is priced (when the batch holds several partitions' records: it often holds one, and a
    second consumer, SETTLEMENT_CONSUMERS, is the overlap that always works). Where two touch
    one person-year anyway (a relative's account paying), the ledger's expected versions refuse
    the later commit and its members are answered again alone, as between two instances. Runs of records
    a group takes are committed together; the others are answered alone, in between. A
    stand-in service (a test double of the service) answers every record alone, in order.
    Without a dead-letter policy (a test, a tool), a failing message is answered, not copied.
    ``progress`` is filled as records are answered (see Progress)."""
    dead = dead or DeadLetterPolicy(NoDeadLetterTopic(), service.topics)
    progress = Progress() if progress is None else progress
    metrics.batch_size.observe(len(records))
    if not isinstance(service, SettlementService):
        for record in records:
            await answer_alone(service, record, metrics, dead, progress)
        return
    partitions: dict[tuple[str, int], list[Any]] = {}
    for record in records:
        partitions.setdefault((record.topic, record.partition), []).append(record)
    rewinding = asyncio.Event()  # set by the first partition that fails: the batch will be rewound
    done = await asyncio.gather(
        *(process_partition(service, run, metrics, dead, rewinding, progress) for run in partitions.values()),
        return_exceptions=True,
    )
    for outcome in done:  # every partition has finished: the batch is rewound whole, or acked
        if isinstance(outcome, BaseException):
            raise outcome


async def process_partition(
    service: SettlementService,
    records: list[Any],
    metrics: SettlementMetrics,
    dead: DeadLetterPolicy,
    rewinding: asyncio.Event,
    progress: Progress,
) -> None:
    """One partition's records of a batch, in order: grouped runs committed together. Once a
    partition has failed (``rewinding``) the batch will be rewound, so the others begin no
    further step, as one partition after the other would not have: a poison message begun
    then would be tried, answered and dead-lettered on this pass and again on the redelivery.
    Each record is entered in ``progress`` once its answer is committed."""
    try:
        for group, alone in steps(service, records):
            if rewinding.is_set():
                return
            await answer_group(service, group, metrics, dead, rewinding, progress)  # the group before it first
            if alone is not None and not rewinding.is_set():
                await answer_alone(service, alone, metrics, dead, progress)
    except BaseException:
        rewinding.set()
        raise


def steps(service: SettlementService, records: list[Any]) -> Iterator[tuple[list[tuple[Any, Inbound]], Any]]:
    """A partition's records as the steps that answer them, in order: a run the group takes (at
    most MAX_GROUP, maybe empty), then the record after it that is answered alone, if any."""
    group: list[tuple[Any, Inbound]] = []
    for record in records:
        inbound = read_record(service, record)
        if not inbound.grouped:
            yield group, record
            group = []
            continue
        group.append((record, inbound))
        if len(group) == MAX_GROUP:
            yield group, None
            group = []
    yield group, None


def read_record(service: SettlementService, record: Any) -> Inbound:
    source = f"{record.topic}/{record.partition}/{record.offset}"
    return read_inbound(service, record.value or b"", source=source, at=received_at(record), topic=record.topic)


def count(metrics: SettlementMetrics, reply: Reply | Answered, seconds: float) -> None:
    metrics.latency.observe(seconds)
    outcome = reply.code.value if isinstance(reply, Rejection) else "ok"
    metrics.messages.labels(reply.msg_type, outcome).inc()


async def answer_alone(
    service: SettlementService,
    record: Any,
    metrics: SettlementMetrics,
    dead: DeadLetterPolicy,
    progress: Progress,
) -> None:
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(topic=record.topic, partition=record.partition, offset=record.offset):
        reply = await answer(service, record, metrics, dead)
    progress.answered(record)
    count(metrics, reply, time.perf_counter() - started)


async def answer_group(
    service: SettlementService,
    group: list[tuple[Any, Inbound]],
    metrics: SettlementMetrics,
    dead: DeadLetterPolicy,
    rewinding: asyncio.Event,
    progress: Progress,
) -> None:
    """One transaction for the group's answers; then, in order, those it left to be answered
    alone — none once another partition has failed (``rewinding``: see process_partition).
    Each member's latency is its group's (the answer exists once the group commits)."""
    if not group:
        return
    started = time.perf_counter()

    async def is_bug(error: Exception) -> bool:
        return not is_outage(error) and await service.ledger_reachable()

    try:
        outcome = await settle_group(service, [inbound for _, inbound in group], is_bug)
    except Exception as error:
        if not await is_bug(error):
            raise  # an outage: the batch is rewound
        # The group itself failed (its read or its commit, not one member's pricing): a bug
        # must not hold the partition, so each member gets the per-message path's attempts.
        # Only the error's type here: its text may name any member's person-year stream, and
        # no person is bound for the pseudonymiser; each member's own attempts log it in full.
        log.error("group_failed", size=len(group), error=type(error).__name__)
        for record, _ in group:
            if rewinding.is_set():
                return
            await answer_alone(service, record, metrics, dead, progress)
        return
    elapsed = time.perf_counter() - started
    for index, reply in outcome.answered.items():
        count(metrics, reply, elapsed)
        progress.answered(group[index][0])
    (log.info if outcome.refused else log.debug)(  # a refusal: another writer came first (a rebalance)
        "group_committed",
        size=len(group),
        alone=len(outcome.alone),
        refused=outcome.refused,
        priced_ms=round(outcome.priced_s * 1000, 1),
        committed_ms=round(outcome.committed_s * 1000, 1),
    )
    for index in outcome.alone:
        if rewinding.is_set():
            return
        record = group[index][0]
        if index in outcome.failures:
            failed_in_group(record, outcome, index, metrics)
        await answer_alone(service, record, metrics, dead, progress)
    if outcome.rest_from is not None:  # cut at a failed member, now answered: the rest after it
        await answer_group(service, group[outcome.rest_from :], metrics, dead, rewinding, progress)


def failed_in_group(record: Any, outcome: GroupOutcome, index: int, metrics: SettlementMetrics) -> None:
    """A message failed while its group was priced: logged like a failed attempt (the person
    bound, so the pseudonymiser replaces it in the error's text too), then answered alone."""
    metrics.unhandled.inc()
    with structlog.contextvars.bound_contextvars(topic=record.topic, partition=record.partition, offset=record.offset):
        log.error(
            "message_failed_in_group",
            psn_no=salvage_raw(record.value or b"")["psn_no"],
            error=describe(outcome.failures[index]),
            exc_info=outcome.failures[index],
        )


class ForgetsRevokedLag(ConsumerRebalanceListener):  # type: ignore[misc]
    """A consumer's rebalance listener: the lag gauge of each partition taken from it is removed.
    A gauge is set only after a batch is acknowledged, by the partition's owner, so without this a
    partition that moved to another pod kept its last lag in this one for as long as the pod ran,
    and a sum over pods (the lag alert of docs/deploy.md) counted it twice."""

    def __init__(self, metrics: SettlementMetrics) -> None:
        self.metrics = metrics

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            with contextlib.suppress(KeyError):  # never reported: nothing to remove
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None  # reported once a batch of them is acknowledged (record_lag)


async def record_lag(consumer: Any, metrics: SettlementMetrics) -> None:
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        position = await consumer.position(tp)
        metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - position))


async def rewind(consumer: Any, records: tuple[Any, ...], progress: Progress) -> None:
    """Each partition of a failed batch back to its first record not answered; what was answered
    is committed (best effort: the broker may be what failed), so that neither this consumer nor
    a partition's next owner tries it again — a message dead-lettered before the outage would be
    tried, answered from the ledger and copied to its dead-letter topic a second time."""
    assigned = consumer.assignment()
    resume = {tp: at for tp, at in progress.resume_at(records).items() if tp in assigned}
    for tp, (offset, _) in resume.items():  # a partition lost in a rebalance is its new owner's
        consumer.seek(tp, offset)
    answered = {tp: offset for tp, (offset, some) in resume.items() if some}
    if answered:
        try:  # bounded: with the broker down, aiokafka would wait for its coordinator indefinitely
            await asyncio.wait_for(commit_forward(consumer, answered), timeout=REWIND_COMMIT_TIMEOUT_S)
        except Exception as error:  # the redelivery gets the stored answers instead
            log.warning("commit_failed", error=describe(error))


async def commit_forward(consumer: Any, answered: dict[TopicPartition, int]) -> None:
    """Commit each partition's offset where the group's is behind it. A partition that went to
    another member and came back during the batch (two rebalances) may have been answered further
    by that member: its committed offset is then not moved back, and the partition is read from
    there instead (every offset a member commits has its answers before it)."""
    forward: dict[TopicPartition, int] = {}
    for tp, offset in answered.items():
        committed = await consumer.committed(tp)
        if committed is None or committed < offset:
            forward[tp] = offset
        elif committed > offset and tp in consumer.assignment():
            consumer.seek(tp, committed)
    if forward:
        await consumer.commit(forward)


async def handle_batch(
    message: Any, service: SettlementService, metrics: SettlementMetrics, backoff: Backoff, dead: DeadLetterPolicy
) -> None:
    """FastStream batch handler body (ack_policy MANUAL)."""
    raw = message.raw_message
    records = raw if isinstance(raw, tuple) else (raw,)
    progress = Progress()
    try:
        await process_batch(service, records, metrics, dead, progress)
    except Exception as error:  # an outage: nothing of the batch is acknowledged
        delay = backoff.next_delay()
        backoff.last_error = describe(error)
        metrics.transient_failures.inc()
        log.warning(
            "batch_rewound",
            error=backoff.last_error,
            retry_in_s=delay,
            size=len(records),
            exc_info=not isinstance(error, OSError | ConnectionError | TimeoutError),
        )
        await rewind(message.consumer, records, progress)
        await asyncio.sleep(delay)
        return
    try:
        await message.ack()  # commits the consumer's positions: everything in this batch
    except Exception as error:  # a rebalance or a broker gone: the next commit, or the next owner, covers it
        log.warning("commit_failed", error=describe(error))
        return
    backoff.reset()
    await record_lag(message.consumer, metrics)
