"""The consumer lag gauge reports only the partitions a consumer of this process holds."""

from __future__ import annotations

from aiokafka import TopicPartition
from settlement.entrypoints.consumer import ForgetsRevokedLag

from ops.metrics import SettlementMetrics


async def test_a_partition_taken_from_the_consumer_no_longer_reports_its_lag() -> None:
    metrics = SettlementMetrics()
    kept, taken, never = (TopicPartition("claims.v1", n) for n in (0, 1, 2))
    for tp, lag in ((kept, 5), (taken, 7)):
        metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    await ForgetsRevokedLag(metrics).on_partitions_revoked({taken, never})  # never: not reported, no error

    reported = {sample.labels["partition"]: sample.value for sample in metrics.consumer_lag.collect()[0].samples}
    assert reported == {"0": 5.0}
