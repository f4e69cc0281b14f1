"""What /readyz says of a process's consumers (SETTLEMENT_CONSUMERS); found by a hostile review."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from group_commit_scenarios import Consumer, Delivered, claim, enrolment, policy, records, resets_once_on, service
from ledger.adapters.memory import MemoryLedger
from settlement.bootstrap import Running
from settlement.entrypoints.consumer import Backoff, handle_batch, process_batch

from ops.metrics import SettlementMetrics


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
    resets_once_on(store, "A-1")
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
