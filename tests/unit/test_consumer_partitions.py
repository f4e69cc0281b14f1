"""The partitions of a consumed batch are answered side by side, each in its own order."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiokafka import TopicPartition
from group_commit_scenarios import (
    Consumer,
    Delivered,
    Producer,
    Record,
    answers,
    by_request,
    claim,
    enrolment,
    poison,
    policy,
    read_again,
    records,
    resets_once_on,
    service,
)
from ledger.adapters.memory import MemoryLedger
from ledger.store import BatchReceipt, CommitRequest
from settlement.entrypoints import consumer as consumer_module
from settlement.entrypoints.consumer import Backoff, handle_batch, process_batch

from ops.metrics import SettlementMetrics


async def enrolled() -> MemoryLedger:
    """A ledger where P1 and P2 are enrolled, by a batch of their own before the claims."""
    store = MemoryLedger()
    await process_batch(service(store), records(enrolment("P1"), enrolment("P2")), SettlementMetrics(), policy())
    return store


def on_partition(batch: tuple[Record, ...], partition: int) -> tuple[Record, ...]:
    return tuple(replace(r, partition=partition) for r in batch)


async def test_one_partitions_group_is_priced_while_anothers_commit_waits() -> None:
    """While partition 0's group waits for its commit, partition 1's is priced and committed: the
    first commit is held until a second one arrives (which, one partition after the other, it never
    would), and each partition's answers come out in its own order."""
    store = await enrolled()
    inner, second = store.commit_batch, asyncio.Event()
    calls: list[int] = []

    async def held(requests: Any) -> BatchReceipt:
        calls.append(len(requests))
        if len(calls) == 1:
            await asyncio.wait_for(second.wait(), timeout=5)  # sequential processing times out here
        else:
            second.set()
        receipt: BatchReceipt = await inner(requests)
        return receipt

    store.commit_batch = held  # type: ignore[method-assign]
    batch = on_partition(records(claim("A-1", "P1", "800.00", 3), claim("A-2", "P1", "900.00", 4), first_offset=10), 0)
    batch += on_partition(records(claim("B-1", "P2", "700.00", 3), first_offset=10), 1)
    await process_batch(service(store), batch, SettlementMetrics(), policy())

    assert calls == [2, 1]  # partition 0's group of two, held; partition 1's of one, committed meanwhile
    answered = [a["request_id"] for a in await answers(store) if a["msg_type"] == "settlement"]
    assert answered == ["B-1", "A-1", "A-2"]  # partition 1 first; partition 0's in its order


async def test_a_partition_that_fails_fails_the_batch_after_the_others_have_finished() -> None:
    """An outage in one partition rewinds the whole batch, but only once every partition's work
    has ended: nothing is acknowledged while another partition is still committing."""
    store = await enrolled()
    inner, finished = store.commit_batch, list[str]()

    async def failing(requests: list[CommitRequest]) -> BatchReceipt:
        keys = [one.request.key for one in requests if one.request is not None]
        if any("A-1" in key for key in keys):
            await asyncio.sleep(0.01)  # partition 1 has begun its commit by now
            raise ConnectionResetError("the database went away")
        await asyncio.sleep(0.05)  # the other partition is still committing when the first fails
        receipt: BatchReceipt = await inner(requests)
        finished.extend(keys)
        return receipt

    store.commit_batch = failing  # type: ignore[method-assign]
    batch = on_partition(records(claim("A-1", "P1", "800.00", 3), first_offset=10), 0)
    batch += on_partition(records(claim("B-1", "P2", "700.00", 3), first_offset=10), 1)
    svc = service(store)
    svc.ledger_reachable = _unreachable  # type: ignore[method-assign]
    try:
        await process_batch(svc, batch, SettlementMetrics(), policy())
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("an outage in one partition must fail the batch")
    assert [key.rsplit(":", 1)[1] for key in finished] == ["B-1"]  # it finished before the batch failed


async def test_after_an_outage_in_one_partition_another_begins_no_record_so_its_poison_is_dead_lettered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partition 0 loses its connection while committing; the batch will be rewound whole. One
    partition after the other, partition 1's poison message was never begun on that pass; side
    by side it must not be either: tried, answered internal_error and copied to the dead-letter
    topic on a pass that is rewound, it is tried and copied again on the redelivery — two dead
    letters (two re-drives, two alerts' worth of settlement_dead_letters_total) for one message."""
    poison(monkeypatch)
    store = await enrolled()
    inner, connection_reset = store.commit_batch, [True]

    async def resets_once(requests: list[CommitRequest]) -> BatchReceipt:
        if connection_reset[0] and any(one.request is not None and "A-1" in one.request.key for one in requests):
            raise ConnectionResetError("the connection was reset")
        receipt: BatchReceipt = await inner(requests)
        return receipt

    store.commit_batch = resets_once  # type: ignore[method-assign]
    batch = on_partition(records(claim("A-1", "P2", "800.00", 3), first_offset=10), 0)
    batch += on_partition(records(claim("BOOM", "P1", "900.00", 3), first_offset=10), 1)
    producer = Producer()
    with pytest.raises(ConnectionResetError):
        await process_batch(service(store), batch, SettlementMetrics(), policy(producer))
    connection_reset[0] = False
    await process_batch(service(store), batch, SettlementMetrics(), policy(producer))  # the redelivery

    got = by_request(await answers(store))
    assert [a["code"] for a in got["BOOM"]] == ["internal_error"] and len(got["A-1"]) == 1
    assert [topic for topic, _ in producer.sent] == ["claims.dlq.v1"]  # one message, one dead letter


async def test_a_poison_message_cut_from_a_group_committing_while_another_partition_fails_is_dead_lettered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partition 1's group (C-1, then the poison BOOM, which fails in the group) is committing
    when partition 0 loses its connection. C-1's commit finishes; BOOM, left to be answered
    alone after the commit, is not begun on this pass, which is rewound: on the redelivery C-1
    has its stored answer and BOOM is tried, answered and dead-lettered, once."""
    poison(monkeypatch)
    store = await enrolled()
    inner, connection_reset = store.commit_batch, [True]

    async def resets_once(requests: list[CommitRequest]) -> BatchReceipt:
        if connection_reset[0] and any(one.request is not None and "A-1" in one.request.key for one in requests):
            await asyncio.sleep(0.01)  # partition 1 has begun its commit by now
            raise ConnectionResetError("the connection was reset")
        await asyncio.sleep(0.05)  # still committing when partition 0 fails
        receipt: BatchReceipt = await inner(requests)
        return receipt

    store.commit_batch = resets_once  # type: ignore[method-assign]
    batch = on_partition(records(claim("A-1", "P2", "800.00", 3), first_offset=10), 0)
    batch += on_partition(
        records(claim("C-1", "P1", "700.00", 3), claim("BOOM", "P1", "900.00", 4), first_offset=10), 1
    )
    producer = Producer()
    with pytest.raises(ConnectionResetError):
        await process_batch(service(store), batch, SettlementMetrics(), policy(producer))
    assert "BOOM" not in by_request(await answers(store))  # not begun on the pass that is rewound
    connection_reset[0] = False
    await process_batch(service(store), batch, SettlementMetrics(), policy(producer))  # the redelivery

    got = by_request(await answers(store))
    assert [a["code"] for a in got["BOOM"]] == ["internal_error"] and len(got["C-1"]) == len(got["A-1"]) == 1
    assert [topic for topic, _ in producer.sent] == ["claims.dlq.v1"]  # one message, one dead letter


async def _unreachable() -> bool:
    return False


async def test_an_outage_after_a_dead_letter_rewinds_past_it_so_the_message_is_tried_and_copied_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BOOM fails in its group and is dead-lettered; then the commit of A-1, behind it on the same
    partition, meets an outage. Rewound to the start of the batch, BOOM would be redelivered,
    tried three times more, found answered and copied to the dead-letter topic a second time (two
    re-drives, a second count of the alerting metric). The rewind starts after it instead, and
    commits that offset."""
    poison(monkeypatch)
    store = await enrolled()
    resets_once_on(store, "A-1")
    tp = TopicPartition("claims.v1", 0)
    batch = records(claim("BOOM", "P1", "900.00", 3), claim("A-1", "P2", "800.00", 3), first_offset=10)
    producer, consumer, backoff = Producer(), Consumer({tp}), Backoff(ceiling=0.001)
    await handle_batch(Delivered(batch, consumer), service(store), SettlementMetrics(), backoff, policy(producer))

    assert consumer.seeks == {tp: 11} and consumer.commits == [{tp: 11}]
    again = Delivered(read_again(batch, consumer), consumer)
    await handle_batch(again, service(store), SettlementMetrics(), backoff, policy(producer))

    got = by_request(await answers(store))
    assert [a["code"] for a in got["BOOM"]] == ["internal_error"] and len(got["A-1"]) == 1
    assert [topic for topic, _ in producer.sent] == ["claims.dlq.v1"]  # one message, one dead letter
    assert again.acked


async def test_a_rewind_keeps_what_each_partition_answered_before_another_failed() -> None:
    """Partition 1 answers B-1 and B-2 while partition 0's A-1 meets an outage: partition 1 is
    read again after B-2 and its offset committed; partition 0 from A-1 itself."""
    store = await enrolled()
    resets_once_on(store, "A-1")
    first, second = TopicPartition("claims.v1", 0), TopicPartition("claims.v1", 1)
    batch = on_partition(records(claim("A-1", "P2", "800.00", 3), first_offset=10), 0)
    batch += on_partition(records(claim("B-1", "P1", "700.00", 3), claim("B-2", "P1", "70.00", 4), first_offset=20), 1)
    consumer, backoff = Consumer({first, second}), Backoff(ceiling=0.001)
    svc = service(store)
    inner = svc.store.commit_batch

    async def partition_1_first(requests: list[CommitRequest]) -> BatchReceipt:
        if any(one.request is not None and "A-1" in one.request.key for one in requests):
            await asyncio.sleep(0.05)  # partition 1 commits meanwhile
        receipt: BatchReceipt = await inner(requests)
        return receipt

    svc.store.commit_batch = partition_1_first  # type: ignore[method-assign]
    await handle_batch(Delivered(batch, consumer), svc, SettlementMetrics(), backoff, policy())

    assert consumer.seeks == {first: 10, second: 22}
    assert consumer.commits == [{second: 22}]  # nothing of partition 0 was answered
    await handle_batch(Delivered(read_again(batch, consumer), consumer), svc, SettlementMetrics(), backoff, policy())
    got = by_request(await answers(store))
    assert [len(got[r]) for r in ("A-1", "B-1", "B-2")] == [1, 1, 1]


async def test_a_rewind_whose_commit_hangs_with_the_broker_down_still_lets_the_batch_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the broker unreachable aiokafka's commit waits for a coordinator indefinitely: the
    rewind's commit of what was answered is bounded, so the handler returns and the batch is
    retried (the redelivery finds the stored answers)."""
    monkeypatch.setattr(consumer_module, "REWIND_COMMIT_TIMEOUT_S", 0.05)
    store = await enrolled()
    resets_once_on(store, "A-2")
    first, second = TopicPartition("claims.v1", 0), TopicPartition("claims.v1", 1)
    tried: list[dict[TopicPartition, int]] = []

    class Unreachable(Consumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            tried.append(offsets)
            await asyncio.Event().wait()

    batch = on_partition(records(claim("A-1", "P1", "800.00", 3), first_offset=10), 0)
    batch += on_partition(records(claim("A-2", "P2", "800.00", 3), first_offset=20), 1)
    consumer = Unreachable({first, second})
    handled = handle_batch(Delivered(batch, consumer), service(store), SettlementMetrics(), Backoff(0.001), policy())
    await asyncio.wait_for(handled, timeout=2)
    assert tried == [{first: 11}] and consumer.seeks == {first: 11, second: 20}


async def test_a_rewind_never_moves_the_groups_offset_back_past_what_another_member_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partition 0 went to another member and came back while this batch was in hand (two
    rebalances): that member answered up to offset 40 and committed it. This consumer then meets
    an outage at A-1 (offset 11) after answering B-1 (offset 10). Committing 11 would move the
    group back, and offsets 11-39 would all be read again (a dead letter among them copied
    again): the rewind reads from 40 and leaves the group's offset where it is."""
    monkeypatch.setattr(consumer_module, "MAX_GROUP", 1)  # B-1 and A-1 each a group of its own
    store = await enrolled()
    resets_once_on(store, "A-1")
    tp = TopicPartition("claims.v1", 0)
    batch = records(claim("B-1", "P1", "700.00", 3), claim("A-1", "P2", "800.00", 3), first_offset=10)
    consumer = Consumer({tp}, group_offsets={tp: 40})
    await handle_batch(Delivered(batch, consumer), service(store), SettlementMetrics(), Backoff(0.001), policy())

    assert consumer.commits == [] and consumer.seeks == {tp: 40}
    assert [len(a) for a in by_request(await answers(store)).values() if a[0].get("request_id") == "B-1"] == [1]
