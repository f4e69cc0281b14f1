"""End to end on the real broker and database: hospitals in, answers out, nothing lost, nothing twice.

Each test runs `settlement serve` as a real process against its own database and topics,
with the outbox relay publishing the answers, and checks the figures against the offline CLI
(`settlement price`) on the same input.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from e2e_stack import ROOT, by_request, figures, money_totals, offline_reference, topic_runs

from examples.generator import day_lines

EXAMPLE = [ln for ln in (ROOT / "examples" / "year-2025.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]


def example(request_id: str) -> dict[str, Any]:
    for line in EXAMPLE:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("request_id") == request_id:
            return dict(message)
    raise KeyError(request_id)


def claim_like(request_id: str, template: str = "CLM-0048", **changes: Any) -> str:
    """A new claim cut from an example one: another request id and visit, same person."""
    claim = example(template) | {"request_id": request_id, "mdtrt_id": f"MD-{request_id}"} | changes
    return json.dumps(claim, ensure_ascii=False)


P002_SETUP = [json.dumps(example(r), ensure_ascii=False) for r in ("ENR-0002", "ACR-0013", "ACR-0015")]


async def test_every_visit_kind_settles_over_kafka_with_the_offline_figures(make_stack, tmp_path: Path) -> None:
    stack = await make_stack()
    service = await stack.start_settlement()
    answers = by_request(await stack.send(EXAMPLE))
    expected, expected_totals = await offline_reference(EXAMPLE, tmp_path)

    kinds = Counter(a["msg_type"] for a in answers.values())
    assert kinds["settlement"] >= 20 and kinds["reversal_result"] >= 1 and kinds["rejection"] >= 3
    for request_id, offline_answer in expected.items():
        if offline_answer.get("request_id") is None:
            continue  # a line too broken to carry a request id is named by where it came from
        assert figures(answers[request_id]) == figures(offline_answer), request_id
    for psn_no, offline_totals in expected_totals.items():
        assert money_totals(await stack.totals(service, psn_no)) == money_totals(offline_totals), psn_no


async def test_a_retried_claim_settles_once_and_a_changed_retry_is_a_conflict(make_stack) -> None:
    stack = await make_stack()
    service = await stack.start_settlement()
    await stack.send(P002_SETUP)
    first = claim_like("RETRY-1")
    (settled,) = await stack.send([first])
    assert settled["msg_type"] == "settlement"
    before = await stack.totals(service, "P002")

    doubled = {**example("CLM-0048")["feedetail"][0], "cnt": "60", "det_item_fee_sumamt": "17.20"}  # 0.2867 × 60
    changed = claim_like("RETRY-1", feedetail=[doubled])
    # The producer's retry (same key, same body), then a different body under the same key,
    # then a marker: per-person order on the partition means all three were handled before it.
    answers = by_request(await stack.send([first, changed, claim_like("MARKER-1")]))

    assert answers["RETRY-1"]["code"] == "idempotency_conflict"
    assert answers["MARKER-1"]["msg_type"] == "settlement"
    after = await stack.totals(service, "P002")
    assert after["settlements"] == before["settlements"] + 1  # the marker, not the retry
    assert await stack.count_events("ClaimSettled") == 2
    published = await stack.all_answers(expected=len(P002_SETUP) + 3)
    assert Counter(a.get("request_id") for a in published)["RETRY-1"] == 2  # one settlement, one conflict


async def test_a_reversal_restores_the_totals_exactly(make_stack) -> None:
    stack = await make_stack()
    service = await stack.start_settlement()
    await stack.send(P002_SETUP)
    before = await stack.totals(service, "P002")

    (settled,) = await stack.send([claim_like("REV-TARGET")])
    assert settled["setlinfo"]["fund_pay_sumamt"] != "0.00"
    assert (await stack.totals(service, "P002")) != before
    reversal = {
        "msg_type": "reversal",
        "schema_version": "claims.v2",
        "request_id": "REV-1",
        "sent_at": "2025-11-21T09:00:00+08:00",
        "psn_no": "P002",
        "setl_id": settled["setl_id"],
        "fixmedins_code": settled["fixmedins_code"],
    }
    (reversed_,) = await stack.send([json.dumps(reversal)])

    assert reversed_["msg_type"] == "reversal_result", reversed_
    after = await stack.totals(service, "P002")
    money = [k for k in before if k not in ("settlements", "reversals")]
    assert {k: after[k] for k in money} == {k: before[k] for k in money}


async def test_a_malformed_message_is_rejected_and_the_next_one_still_settles(make_stack) -> None:
    stack = await make_stack()
    service = await stack.start_settlement()
    await stack.send(P002_SETUP)
    broken = claim_like("BROKEN-1").replace('"det_item_fee_sumamt": "8.60"', '"det_item_fee_sumamt": "8.605"')
    answers = by_request(await stack.send(["{not json at all", broken, claim_like("AFTER-1")]))

    rejections = {a.get("request_id"): a for a in answers.values() if a["msg_type"] == "rejection"}
    assert rejections["BROKEN-1"]["code"] == "invalid_message"
    assert "feedetail.0.det_item_fee_sumamt" in rejections["BROKEN-1"]["message"]
    assert any(a["code"] == "malformed_json" for a in rejections.values())
    assert answers["AFTER-1"]["msg_type"] == "settlement"
    assert (await stack.totals(service, "P002"))["settlements"] == 1
    assert service.process.poll() is None  # bad input never stops the service


async def test_killed_mid_group_commit_and_restarted_every_claim_is_settled_exactly_once(
    make_stack, tmp_path: Path
) -> None:
    lines = day_lines(people=150, seed=11)
    enrolments, claims = topic_runs(lines)
    stack = await make_stack()
    first = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="10")
    await stack.send(enrolments)
    await stack.produce(claims)

    # Kill it while claims are still being settled (some answered, not all), inside a group
    # commit: the outbox is locked against inserts, so the next group's one write statement
    # waits inside its transaction (events, keys, projections and outbox rows all in it);
    # once the service is seen waiting there it is killed, then the lock is let go.
    settled_before_kill = 0
    for _ in range(600):
        settled_before_kill = await stack.count_events("ClaimSettled")
        if settled_before_kill >= 5:
            break
        await asyncio.sleep(0.05)
    holder = await asyncpg.connect(stack.database_url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("LOCK TABLE outbox IN SHARE MODE")
        assert await group_commit_waiting(holder), "no group commit reached its write within 30 s"
        settled_at_kill = await stack.count_events("ClaimSettled")
        stack.kill(first)
        await lock.rollback()
    finally:
        await holder.close()
    restarted = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="10")

    expected, expected_totals = await offline_reference(enrolments + claims, tmp_path)
    answerable = {k for k, a in expected.items() if a.get("request_id")}
    published = await stack.all_answers(expected=len(expected))
    per_request = Counter(a.get("request_id") for a in published if a.get("request_id"))
    assert {k for k in per_request} >= answerable
    duplicates = {k: n for k, n in per_request.items() if n > 1}
    # A request id answered twice is only a producer retry whose changed body was refused.
    assert all(expected[k]["msg_type"] != "enrolment_accepted" for k in duplicates)
    settled = {k for k, a in expected.items() if a["msg_type"] == "settlement"}
    assert 0 < settled_before_kill <= settled_at_kill < len(settled)  # it really died mid-way
    assert await stack.count_events("ClaimSettled") == len(settled)
    answers = by_request(published)
    for request_id in settled:
        assert figures(answers[request_id]) == figures(expected[request_id]), request_id
    for psn_no, offline_totals in expected_totals.items():
        assert money_totals(await stack.totals(restarted, psn_no)) == money_totals(offline_totals), psn_no


async def group_commit_waiting(connection: asyncpg.Connection, timeout: float = 30) -> bool:
    """Whether a writer inside its transaction (it holds a transaction id: the batch read took
    one) waits for this connection's outbox lock, within ``timeout`` seconds. Only the batch
    write of a settlement instance does: the relay's update waits without a transaction id."""
    for _ in range(int(timeout / 0.05)):
        await connection.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL"
            " AND pg_backend_pid() = ANY (pg_blocking_pids(pid))"
        )
        if waiting:
            return True
        await asyncio.sleep(0.05)
    return False


async def a_day_settles_as_offline(stack: Any, reader: Any, tmp_path: Path) -> None:
    """60 people's day through the running consumers: enrolments first (every answer awaited),
    then the claims produced at once; the events and each person's totals are the offline CLI's."""
    enrolments, claims = topic_runs(day_lines(people=60, seed=12))
    await stack.send(enrolments)
    await stack.produce(claims)

    expected, expected_totals = await offline_reference(enrolments + claims, tmp_path)
    published = await stack.all_answers(expected=len(expected))
    settled = {k for k, a in expected.items() if a["msg_type"] == "settlement"}
    assert await stack.count_events("ClaimSettled") == len(settled)
    for psn_no, offline_totals in expected_totals.items():
        assert money_totals(await stack.totals(reader, psn_no)) == money_totals(offline_totals), psn_no
    assert {a.get("request_id") for a in published} >= {k for k, a in expected.items() if a.get("request_id")}


async def test_two_instances_in_one_group_give_the_same_totals_as_one(make_stack, tmp_path: Path) -> None:
    stack = await make_stack(partitions=4)
    one = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="20")
    two = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="20")
    await a_day_settles_as_offline(stack, one, tmp_path)
    handled = [await stack.metric(service, "settlement_messages_total") for service in (one, two)]
    assert all(n > 0 for n in handled), f"one instance did all the work: {handled}"


async def test_two_consumers_of_one_instance_share_the_partitions_and_give_the_same_totals_as_one(
    make_stack, tmp_path: Path
) -> None:
    stack = await make_stack(partitions=4)
    service = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="20", SETTLEMENT_CONSUMERS="2")
    await a_day_settles_as_offline(stack, service, tmp_path)
    held = await stack.group_assignments()  # the one process is two members, each with its share
    assert len(held) == 2 and all(held) and not held[0] & held[1], held


async def test_a_database_outage_delays_a_claim_but_never_rejects_it(make_stack, postgres_admin_dsn: str) -> None:
    stack = await make_stack()
    service = await stack.start_settlement(SETTLEMENT_MAX_RETRY_SECONDS="1")
    await stack.send(P002_SETUP)
    database = stack.database_url.rsplit("/", 1)[1].split("?")[0]
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        await stack.produce([claim_like("DURING-OUTAGE")])
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(100):  # the consumer reports that it is retrying, not that it gave up
                ready = await client.get(service.url("/readyz"))
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.1)
        assert ready.status_code == 503, ready.text
        assert "unreachable" in ready.json()["checks"]["database"]
        for _ in range(100):  # the claim was tried during the outage, and its batch rewound
            if await stack.metric(service, "settlement_transient_failures_total") >= 1:
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()

    published = await stack.all_answers(expected=len(P002_SETUP) + 1, timeout=60)
    (answer,) = [a for a in published if a.get("request_id") == "DURING-OUTAGE"]
    assert answer["msg_type"] == "settlement", answer
    assert await stack.count_events("ClaimSettled") == 1
    assert await stack.metric(service, "settlement_transient_failures_total") >= 1


async def test_pre_settlement_over_http_prices_against_current_totals_and_records_nothing(make_stack) -> None:
    stack = await make_stack()
    service = await stack.start_settlement()
    await stack.send(P002_SETUP)
    before = await stack.totals(service, "P002")
    counter = stack.bearer("hospital", example("CLM-0048")["fixmedins_code"])
    async with httpx.AsyncClient(timeout=10, headers=counter) as client:
        priced = await client.post(service.url("/v1/pre-settle"), content=claim_like("PRE-1").encode())
        refused = await client.post(
            service.url("/v1/pre-settle"), content=b'{"msg_type": "claim", "schema_version": "claims.v2"}'
        )
        garbage = await client.post(service.url("/v1/pre-settle"), content=b"\xff not json")

    assert priced.status_code == 200, priced.text
    assert priced.json()["setl_mode"] == "pre_settle"
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_message"
    assert garbage.status_code == 400 and "JSON" in garbage.json()["message"]
    assert await stack.totals(service, "P002") == before
    assert await stack.count_events("ClaimSettled") == 0

    # The same claim settled for real over Kafka gets the figures the counter was shown.
    (settled,) = await stack.send([claim_like("PRE-1")])
    assert settled["setlinfo"] == priced.json()["setlinfo"]
    async with httpx.AsyncClient(timeout=10, headers=counter) as client:
        found = await client.get(service.url(f"/v1/persons/P002/settlements/{settled['setl_id']}"))
    assert found.status_code == 200 and found.json()["setlinfo"] == settled["setlinfo"]


async def test_sigterm_finishes_the_batch_in_hand_and_exits_cleanly(make_stack) -> None:
    lines = day_lines(people=40, seed=13)
    enrolments, claims = topic_runs(lines)
    stack = await make_stack()
    service = await stack.start_settlement(SETTLEMENT_BATCH_MAX_MESSAGES="10")
    await stack.send(enrolments)
    await stack.produce(claims)
    while await stack.count_events("ClaimSettled") == 0:
        await asyncio.sleep(0.05)

    assert stack.stop(service) == 0, service.log_tail()
    assert '"message": "stopped"' in service.log.read_text()
    # Whatever it left is picked up by the next instance; nothing is lost or doubled.
    await stack.start_settlement()
    expected, _ = await offline_reference(enrolments + claims, tmp_path_of(stack))
    await stack.all_answers(expected=len(expected))
    assert await stack.count_events("ClaimSettled") == sum(a["msg_type"] == "settlement" for a in expected.values())


def tmp_path_of(stack: Any) -> Path:
    return Path(stack.folder)


async def test_a_claim_is_received_at_the_brokers_time_whatever_time_its_sender_stamps_on_it(make_stack) -> None:
    """The hospital's producer dates its record 1 March 2025; the topic is stamped by the broker
    (docs/deploy.md), so the settlement is received, and counts in the clearing month, of today."""
    stack = await make_stack()
    await stack.start_settlement()
    await stack.send(P002_SETUP)
    backdated = datetime(2025, 3, 1, 9, tzinfo=UTC)
    before = datetime.now(UTC)
    await stack.produce([claim_like("DATED-1")], sent_at=[backdated])
    answers = [a for a in await stack.all_answers(len(P002_SETUP) + 1) if a.get("request_id") == "DATED-1"]
    assert [a["msg_type"] for a in answers] == ["settlement"]
    received = datetime.fromisoformat(answers[0]["occurred_at"])
    assert before - timedelta(minutes=1) <= received <= datetime.now(UTC)  # not 2025-03-01
