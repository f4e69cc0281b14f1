"""The settlement use case over the in-memory ledger: each message answered exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ledger.adapters.memory import MemoryLedger
from ledger.errors import WrongExpectedVersion
from settlement.service_layer.handlers import RetriesExhausted, SettlementService

from contracts.results import EnrolmentAccepted, Rejection, ReversalResult, SettlementResult
from engine.benefit_name import BenefitName
from engine.policy_files import load_policy_book
from engine.snapshot import from_json

ROOT = Path(__file__).resolve().parents[2]
BOOK = load_policy_book(ROOT / "policies")
SENT = "2025-03-01T09:00:00+08:00"
H2 = "H64010100002"  # the SAMPLE registry's level-2 hospital of 银川 (policies/payer/640000)
BED = "001102000010000"


def service() -> tuple[SettlementService, MemoryLedger]:
    store = MemoryLedger()
    return SettlementService(store, BOOK, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC)), store


def raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def enrolment(psn: str = "P1", **facts: Any) -> dict[str, Any]:
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}",
        "sent_at": SENT,
        "psn_no": psn,
        "insutype": "390",
        "psn_type": "1501",
        "insuplc_admdvs": "640100",
        "year": 2025,
        "enrol_date": "2024-10-01",
        **facts,
    }


def claim(request_id: str = "C1", psn: str = "P1", amount: str = "1000.00", **extra: Any) -> dict[str, Any]:
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": request_id,
        "sent_at": SENT,
        "psn_no": psn,
        "insutype": "390",
        "mdtrt_id": f"MD-{request_id}",
        "fixmedins_code": H2,
        "med_type": "21",
        "begntime": "2025-03-01 08:00:00",
        "endtime": "2025-03-05 10:30:00",
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": BED,  # 甲类 in the SAMPLE catalogue
                "pric": amount,
                "cnt": "1",
                "det_item_fee_sumamt": amount,
            }
        ],
        **extra,
    }


async def totals(store: MemoryLedger, psn: str = "P1") -> Any:
    _, snapshot = await store.read_projection(f"{psn}/2025")
    assert snapshot is not None
    return from_json(dict(snapshot)).totals


async def test_a_claim_for_an_enrolled_person_is_settled_and_recorded_once() -> None:
    svc, store = service()
    assert isinstance(await svc.handle(raw(enrolment())), EnrolmentAccepted)
    reply = await svc.handle(raw(claim(amount="10000.00")))
    assert isinstance(reply, SettlementResult)
    # Ningxia residents, level 2, first stay: (10,000 − 600) × 0.75 = 7,050.00
    assert reply.setlinfo.hifp_pay == 705_000
    assert (await totals(store)).hifp[BenefitName.INPATIENT] == 705_000


async def test_a_producer_retry_with_a_new_timestamp_returns_the_stored_answer_and_settles_nothing_new() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    first = await svc.handle(raw(claim()))
    again = await svc.handle(raw(claim() | {"sent_at": "2025-03-01T10:30:00+08:00"}))
    assert again == first
    assert (await totals(store)).settlements == 1


async def test_the_same_request_id_with_other_content_is_a_conflict_and_changes_nothing() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    await svc.handle(raw(claim(amount="1000.00")))
    before = await totals(store)
    reply = await svc.handle(raw(claim(amount="2000.00")))
    assert isinstance(reply, Rejection) and reply.code.value == "idempotency_conflict"
    assert await totals(store) == before


async def test_a_conflicting_retry_is_published_once_so_the_sender_hears_of_it() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    await svc.handle(raw(claim(amount="1000.00")))
    published = len(store.outbox())
    first = await svc.handle(raw(claim(amount="2000.00")))
    again = await svc.handle(raw(claim(amount="2000.00")))  # the conflicting message redelivered
    assert again == first
    conflicts = [m for m in store.outbox()[published:] if m.headers["msg_type"] == "rejection"]
    assert len(conflicts) == 1 and conflicts[0].message_id == first.event_id
    assert conflicts[0].topic == "rejections.v1"


async def test_a_claim_before_enrolment_is_rejected_with_a_reason_and_a_later_retry_still_gets_that_answer() -> None:
    svc, _ = service()
    reply = await svc.handle(raw(claim()))
    assert isinstance(reply, Rejection) and reply.code.value == "unknown_person"
    assert "enrolments.v2" in reply.message
    assert await svc.handle(raw(claim())) == reply


async def test_a_reversal_restores_the_totals_and_frees_the_visit_for_a_new_settlement() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    before = await totals(store)
    settled = await svc.handle(raw(claim(amount="5000.00")))
    assert isinstance(settled, SettlementResult)
    reversal = {
        "msg_type": "reversal",
        "schema_version": "claims.v2",
        "request_id": "R1",
        "sent_at": SENT,
        "psn_no": "P1",
        "fixmedins_code": H2,
        "setl_id": settled.setl_id,
    }
    reversed_ = await svc.handle(raw(reversal))
    assert isinstance(reversed_, ReversalResult)
    assert reversed_.setlinfo.hifp_pay == -settled.setlinfo.hifp_pay
    assert await totals(store) == before
    again = await svc.handle(raw(claim("C2", amount="5000.00") | {"mdtrt_id": "MD-C1"}))
    assert isinstance(again, SettlementResult)
    assert again.setlinfo == settled.setlinfo.model_copy(update={"balc": again.setlinfo.balc})


async def test_a_malformed_message_is_rejected_and_the_next_message_still_settles() -> None:
    svc, _ = service()
    await svc.handle(raw(enrolment()))
    bad = await svc.handle(b'{"msg_type": "claim", "request_id": ', source="claims.v1/0/7")
    assert isinstance(bad, Rejection) and bad.code.value == "malformed_json" and bad.source == "claims.v1/0/7"
    assert isinstance(await svc.handle(raw(claim())), SettlementResult)


async def test_concurrent_claims_of_one_person_both_settle_against_fresh_totals() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    # Two stays at once: only one may take the first-stay deductible (600); the loser of the
    # append race re-reads and is priced as the second stay (300).
    one, two = await asyncio.gather(svc.handle(raw(claim("C1"))), svc.handle(raw(claim("C2"))))
    assert isinstance(one, SettlementResult) and isinstance(two, SettlementResult)
    assert sorted([one.setlinfo.act_pay_dedc, two.setlinfo.act_pay_dedc]) == [30_000, 60_000]
    t = await totals(store)
    assert (t.settlements, t.admissions, t.dedc[BenefitName.INPATIENT]) == (2, 2, 90_000)


def another_writer_first(store: MemoryLedger, meanwhile: Callable[[], Awaitable[None]]) -> list[int]:
    """Lets another writer commit between the next commit's plan and its write (a second
    consumer instance after a rebalance, say); returns the count of commits tried."""
    inner, pending, tried = store.commit, [meanwhile], [0]

    async def commit(*args: Any, **kwargs: Any) -> Any:
        tried[0] += 1
        if pending:
            await pending.pop()()
        return await inner(*args, **kwargs)

    store.commit = commit  # type: ignore[method-assign]
    return tried


async def test_a_redelivery_that_stored_the_same_request_first_gets_that_stored_answer_once() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    other, published, theirs = service()[0], len(store.outbox()), list[object]()
    other.store = store

    async def redelivered_elsewhere() -> None:
        theirs.append(await other.handle(raw(claim() | {"sent_at": "2025-03-01T10:30:00+08:00"})))

    tried = another_writer_first(store, redelivered_elsewhere)
    reply = await svc.handle(raw(claim()))
    assert isinstance(reply, SettlementResult) and reply == theirs[0]  # re-planned: the stored answer
    assert tried[0] == 2  # theirs, then ours (refused); the re-plan found the answer and wrote nothing
    assert len(store.outbox()) == published + 1 and (await totals(store)).settlements == 1


async def test_a_request_id_another_body_took_first_is_answered_as_a_conflict_not_an_error() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    other = service()[0]
    other.store = store

    async def another_body_elsewhere() -> None:
        await other.handle(raw(claim(amount="2000.00")))

    another_writer_first(store, another_body_elsewhere)
    reply = await svc.handle(raw(claim(amount="1000.00")))  # lost the key to the 2,000.00 claim
    assert isinstance(reply, Rejection) and reply.code.value == "idempotency_conflict"
    # the 2,000.00 claim is the one settled: (2,000 − 600) × 0.75 = 1,050.00
    assert (await totals(store)).hifp[BenefitName.INPATIENT] == 105_000
    assert [m.headers["msg_type"] for m in store.outbox()][-2:] == ["settlement", "rejection"]


async def test_a_claim_that_loses_every_race_is_left_unanswered_after_max_races() -> None:
    store = MemoryLedger()
    svc = SettlementService(store, BOOK, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC), max_races=3)
    await svc.handle(raw(enrolment()))
    tried = [0]

    async def always_stale(*args: Any, **kwargs: Any) -> Any:
        tried[0] += 1
        raise WrongExpectedVersion("P1/2025", 1, 2)

    store.commit = always_stale  # type: ignore[method-assign]
    with pytest.raises(RetriesExhausted, match="H64010100002:C1: 3 lost races"):
        await svc.handle(raw(claim()))
    assert tried[0] == 3 and len(store.outbox()) == 1  # the enrolment's answer only


async def test_pre_settlement_prices_against_the_current_year_and_records_nothing() -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    before = await store.read_projection("P1/2025")
    reply = await svc.handle(raw(claim(setl_mode="pre_settle")))
    assert isinstance(reply, SettlementResult) and reply.setl_mode == "pre_settle"
    assert await store.read_projection("P1/2025") == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"insutype": "310"}, "scheme_mismatch", "insutype"),
        ({"med_type": "14", "dise_codg": "N18"}, "chronic_disease_not_registered", "dise_codg"),
        (
            {"acct_payer_psn_no": "P2", "acct_payer_relation": "parent"},
            "family_account_not_allowed",
            "acct_payer_psn_no",
        ),
    ],
)
async def test_refusals_name_the_code_and_the_field(change: dict[str, Any], code: str, field: str) -> None:
    svc, _ = service()
    await svc.handle(raw(enrolment()))
    reply = await svc.handle(raw(claim() | change))
    assert isinstance(reply, Rejection)
    assert (reply.code.value, reply.field) == (code, field)
