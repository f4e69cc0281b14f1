"""No message holds a partition: broken bytes seen twice, and a message the service fails on.

Found by the demo: the same truncated message in two runs had the same key, the second
recording raised DuplicateRequest, and the consumer rewound that batch forever.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from settlement.entrypoints.consumer import process_batch
from test_settlement_service import H2, claim, enrolment, raw, service

from contracts.results import Rejection
from ops.metrics import SettlementMetrics

TRUNCATED = b'{"msg_type": "claim", "request_id": '


async def test_the_same_broken_bytes_at_two_offsets_get_two_answers_and_a_redelivery_gets_the_first() -> None:
    svc, store = service()
    first = await svc.handle(TRUNCATED, source="claims.v1/0/7")
    second = await svc.handle(TRUNCATED, source="claims.v1/0/9")
    again = await svc.handle(TRUNCATED, source="claims.v1/0/7")

    assert isinstance(first, Rejection) and first.code.value == "malformed_json"
    assert second.event_id != first.event_id and second.source == "claims.v1/0/9"
    assert again == first
    assert [m.message_id for m in store.outbox()] == [first.event_id, second.event_id]


@dataclass
class Record:
    value: bytes
    offset: int
    topic: str = "claims.v1"
    partition: int = 0
    timestamp: int = 1_740_000_000_000


class Failing:
    """The real service, except that one request id makes it fail the way a bug or an outage would."""

    def __init__(self, error: Exception) -> None:
        self.inner, self.store = service()
        self.error = error

    async def handle(self, value: bytes, **kwargs: object) -> object:
        if b"BOOM" in value:
            raise self.error
        return await self.inner.handle(value, **kwargs)  # type: ignore[arg-type]

    async def ledger_reachable(self) -> bool:
        return await self.inner.ledger_reachable()

    async def reject_unhandled(self, *args: object, **kwargs: object) -> object:
        return await self.inner.reject_unhandled(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_message_the_service_fails_on_is_rejected_and_the_batch_moves_on() -> None:
    failing = Failing(ZeroDivisionError("a bug"))
    metrics = SettlementMetrics()
    records = (
        Record(raw(enrolment()), 0),
        Record(raw(claim(request_id="BOOM")), 1),
        Record(raw(claim(request_id="C-AFTER")), 2),
    )
    await process_batch(failing, records, metrics)  # type: ignore[arg-type]

    answers = {m.headers.get("request_id"): m for m in failing.store.outbox()}
    assert answers["BOOM"].headers["msg_type"] == "rejection"
    assert b"invariant_broken" in answers["BOOM"].value and b"ZeroDivisionError" in answers["BOOM"].value
    assert answers["C-AFTER"].headers["msg_type"] == "settlement"
    assert metrics.unhandled._value.get() == 1
    # Nothing was recorded under the claim's own key: a resend after the fix is priced afresh.
    assert await failing.store.find_request(f"{H2}:BOOM") is None


async def test_an_outage_is_not_a_rejection_the_batch_is_left_for_a_retry() -> None:
    failing = Failing(ConnectionRefusedError("database down"))
    with pytest.raises(ConnectionRefusedError):
        await process_batch(failing, (Record(raw(claim(request_id="BOOM")), 0),), SettlementMetrics())  # type: ignore[arg-type]
    assert failing.store.outbox() == []
