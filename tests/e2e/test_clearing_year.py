"""The institution side end to end, over Kafka and PostgreSQL: a generated year for region
640000 with five hospitals of different levels paid by DRG, DIP and item by item (the SAMPLE
payer data, SETTLEMENT_CASEMIX), each message received on its day (its Kafka timestamp), twelve
month closes and the year-end close, the statements over the ledger service's HTTP equal to an
independent computation from the settlements.v1 answers, a hospital's daily reconciliation with
one settlement missing answered as a mismatch naming it, and `ledger verify` intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from casemix_sample import REGION
from clearing_run import Oracle
from clearing_year import CHINA, Message, enrolments, year_of_claims
from e2e_stack import POLICIES, Stack
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_pool import postgres_pool
from ledger.clearing.commands import ClearingCommands
from ledger.clearing.source import ProjectionSource

from contracts.codes import FundPayType
from engine.clearing.year_end import Budget
from engine.policy_files import load_policy_book

BUDGETS = {"390100": 40_000_000, "310100": 25_000_000}  # fen: 400,000 and 250,000 yuan of DIP budget


async def produce(stack: Stack, messages: list[Message]) -> None:
    """As the senders would (the enrolment system its facts, the regional platform every
    hospital's claims, each on its own topic), each message stamped with the time it is sent."""
    await stack.produce([m.raw.decode() for m in messages], sent_at=[m.received_at for m in messages])


def ledger_cli(stack: Stack, *args: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": stack.database_url, "LEDGER_POLICIES_DIR": str(POLICIES),
           "KAFKA_TOPIC_PREFIX": stack.topics.prefix}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "ledger.entrypoints.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.split("\n(done before")[0]))


def reconciliation(code: str, day: str, rows: list[dict[str, Any]]) -> bytes:
    def total(name: str) -> str:
        return str(sum(Decimal(a["setlinfo"][name]) for a in rows))

    return json.dumps({
        "msg_type": "reconciliation", "schema_version": "claims.v2", "request_id": "REC-E2E-1",
        "sent_at": "2025-07-01T09:00:00+08:00",
        "fixmedins_code": code,
        "totals": [{"insutype": "390", "clr_type": "21", "setl_optins": REGION, "stmt_begndate": day,
                    "stmt_enddate": day, "fixmedins_setl_cnt": len(rows),
                    **{n: total(n) for n in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}}],
        "details": [{"psn_no": a["psn_no"], "mdtrt_id": a["mdtrt_id"], "setl_id": a["setl_id"],
                     **{n: a["setlinfo"][n] for n in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}} for a in rows],
    }).encode()  # fmt: skip


def busiest_day(settled: dict[str, dict[str, Any]]) -> tuple[str, str, list[dict[str, Any]]]:
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in settled.values():
        if a["insutype"] == "390" and a["med_type"] == "21":
            day = datetime.fromisoformat(a["occurred_at"]).astimezone(CHINA).date().isoformat()
            by.setdefault((a["fixmedins_code"], day), []).append(a)
    (code, day), rows = max(by.items(), key=lambda kv: (len(kv[1]), kv[0]))
    return code, day, rows


async def test_a_regions_year_is_cleared_month_by_month_and_at_year_end(make_stack) -> None:
    stack: Stack = await make_stack(senders_clock=True)  # a year received in one run: the test dates each message
    await stack.start_settlement()
    people, months = enrolments(24), year_of_claims(people=24, per_month=7)
    await produce(stack, people)
    await stack.all_answers(len(people), timeout=60)
    oracle, answered = Oracle(), len(people)
    async with postgres_pool(stack.database_url, max_size=3) as pool:
        commands = ClearingCommands(PostgresLedger(pool), ProjectionSource(pool), load_policy_book(POLICIES),
                                    lambda: datetime.now(UTC), stack.topics.prefix)  # fmt: skip
        for book, fen in BUDGETS.items():
            await commands.set_budget(REGION, 2025, FundPayType(book), Budget(dip=fen))
        for number, batch in enumerate(months, start=1):
            await produce(stack, batch)
            answered += len(batch)
            everything = await stack.all_answers(answered, timeout=60)
            oracle.take([a for a in everything if a.get("msg_type") in ("settlement", "reversal_result")])
            if number in (1, 12):  # the CLI, as the agency runs it; in process otherwise (the same code)
                closed = ledger_cli(stack, "close-month", "--region", REGION, "--year", "2025", "--month", str(number))
            else:
                closed = dict((await commands.close_month(REGION, 2025, number)).answer)
            prepaid = {(i["fixmedins_code"], b["fund_pay_type"]): b["prepay"]
                       for i in closed["institutions"] for b in i["books"] if b["prepay"]}  # fmt: skip
            assert prepaid == {k: v for k, v in oracle.prepay(number).items() if v}, number
        year = ledger_cli(stack, "close-year", "--region", REGION, "--year", "2025")

    values, dues = oracle.dip_dues(BUDGETS)
    assert set(values) == {"310100", "390100"} and dues  # the year has DIP cases in both books
    assert {p["fund_pay_type"]: Decimal(p["value_fen"]) for p in year["point_values"]} == values
    assert stack.ledger is not None
    auditor, hospital = stack.bearer("auditor"), stack.bearer("hospital", "H64010100002")
    async with httpx.AsyncClient(timeout=30) as client:
        url = stack.ledger.url(f"/v1/clearing/{REGION}/2025")
        body = (await client.get(url, headers=auditor)).json()
        mine = {"institution": "H64010100002", "month": "3", "format": "csv"}
        one = (await client.get(url, params=mine, headers=hospital)).text
        others = await client.get(url, params={"institution": "H64010100001"}, headers=hospital)
        region_wide = await client.get(url, headers=hospital)
        verify = (await client.post(stack.ledger.url("/v1/verify"), headers=auditor)).json()
    assert others.status_code == 403 and region_wide.status_code == 403  # a hospital reads its own only
    assert body["year_closed"] and body["closed_months"] == list(range(1, 13))
    for inst in body["institutions"]:
        for book in inst["books"]:
            key = (inst["fixmedins_code"], book["fund_pay_type"])
            if inst["paymtd"] == "dip":
                assert book["year"]["dip_due"] == f"{Decimal(dues[key]) / 100:.2f}", key
            months_paid = sum(Decimal(m["prepay"]) for m in book["months"])
            assert Decimal(book["year"]["prepaid"]) == months_paid
            assert sum(oracle.prepay(m).get(key, 0) for m in range(1, 13)) == int(months_paid * 100), key
    assert {c["admdvs"] for c in body["counties"]} == {"640104", "640121"}
    assert one.startswith("region,year,fixmedins_code") and ",2025-03,True," in one
    assert verify["ok"], verify["findings"]

    code, day, rows = busiest_day(oracle.settled)
    missing = rows[0]
    await produce(stack, [Message(reconciliation(code, day, rows[1:]), datetime.now(UTC), "reconciliation")])
    answers = await stack.all_answers(answered + 1, timeout=60)
    [result] = [a for a in answers if a.get("msg_type") == "reconciliation_result"]
    assert [s["stmt_rslt"] for s in result["stmtinfo"]] == ["1"]
    assert [(d["setl_id"], d["memo"]) for d in result["differences"]] == [
        (missing["setl_id"], "missing_at_institution")
    ]
