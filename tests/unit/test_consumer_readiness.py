"""What /readyz says of a process's consumers (SETTLEMENT_CONSUMERS); found by a hostile review."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from group_commit_scenarios import Record, claim, enrolment, policy, records, service
from ledger.adapters.memory import MemoryLedger
from ledger.store import BatchReceipt, CommitRequest
from settlement.bootstrap import Running
from settlement.entrypoints.consumer import Backoff, handle_batch, process_batch

from ops.metrics import SettlementMetrics


@dataclass
class Consumer:
    """An aiokafka consumer as handle_batch uses it, holding ``partitions``."""

    partitions: set[TopicPartition]
    seeks: dict[TopicPartition, int] = field(default_factory=dict)

    def assignment(self) -> set[TopicPartition]:
        return self.partitions

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        return None

    def highwater(self, tp: TopicPartition) -> None:
        return None


@dataclass
class Delivered:
    raw_message: tuple[Record, ...]
    consumer: Consumer

    async def ack(self) -> None:
        await self.consumer.commit()


class Reachable:
    """The pool and the broker of a healthy instance, as Running.readiness asks them."""

    async def fetchval(self, query: str) -> int:
        return 1

    async def ping(self, timeout: float) -> bool:
        return True


async def test_a_consumer_whose_failed_partition_went_to_another_member_does_not_keep_the_instance_unready() -> None:
    """Consumer 2 of a process meets an outage on partition 0 and rewinds. A rebalance (a pod of
    the rollout joining) hands partition 0 to consumer 1, which answers the batch; consumer 2 now
    holds no partition with records, so FastStream never calls its handler again (an empty
    getmany is no batch) and its Backoff is never reset. Nothing is retrying, yet /readyz says
    ``retrying`` until consumer 2 happens to ack a batch: with members beyond the partitions
    (a surge pod) that is never, and the pod stays out of its Service (its HTTP gateway too)."""
    store = MemoryLedger()
    await process_batch(service(store), records(enrolment("P1")), SettlementMetrics(), policy())
    inner, armed = store.commit_batch, [True]

    async def reset_once(requests: Sequence[CommitRequest]) -> BatchReceipt:
        if armed[0]:
            armed[0] = False
            raise ConnectionResetError("the connection was reset")
        receipt: BatchReceipt = await inner(requests)
        return receipt

    store.commit_batch = reset_once  # type: ignore[method-assign]
    tp, svc = TopicPartition("claims.v1", 0), service(store)
    first, second = Backoff(ceiling=0.001, grace=0.05), Backoff(ceiling=0.001, grace=0.05)
    batch = records(claim("A-1", "P1", "800.00", 3), first_offset=10)
    await handle_batch(Delivered(batch, Consumer({tp})), svc, SettlementMetrics(), second, policy())
    assert not second.healthy  # consumer 2 rewound its batch, and is retrying it for now
    await handle_batch(Delivered(batch, Consumer({tp})), svc, SettlementMetrics(), first, policy())
    assert first.healthy  # consumer 1, the partition's new owner, answered it

    await asyncio.sleep(0.1)  # past consumer 2's delay and grace: its batch never came back to it
    checks = await Running(Reachable(), Reachable(), (first, second), svc, gateway=Any).readiness()  # type: ignore[arg-type]
    assert checks["consumer"] == "ok", checks


async def test_a_consumer_is_reported_retrying_while_its_rewound_batch_is_due_again() -> None:
    backoff = Backoff(ceiling=60, grace=10)
    backoff.next_delay()
    assert not backoff.healthy  # 0.4 s of delay and 10 s of grace ahead
    backoff.reset()
    assert backoff.healthy
