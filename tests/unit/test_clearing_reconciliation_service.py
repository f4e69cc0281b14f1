"""A hospital's daily reconciliation sent to the settlement service (claims.v1, msg_type
"reconciliation"): answered like a claim — once, recorded, published — balanced when its totals
are the ledger's, and naming the settlement it lacks when one is missing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clearing_run import answers_of
from clearing_year import CHINA, enrolments, year_of_claims
from ledger.adapters.memory import MemoryLedger
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book

POLICIES = load_policy_book(Path(__file__).resolve().parents[2] / "policies")


async def one_month() -> tuple[SettlementService, list[dict]]:
    store = MemoryLedger(clock=lambda: datetime(2025, 2, 1, tzinfo=UTC))
    service = SettlementService(store, POLICIES, lambda: datetime(2025, 2, 1, tzinfo=UTC))
    for m in enrolments(20):
        await service.handle(m.raw, received_at=m.received_at)
    replies = [await service.handle(m.raw, received_at=m.received_at) for m in year_of_claims(20, 25, months=1)[0]]
    return service, [a for a in answers_of(replies) if a["msg_type"] == "settlement"]


def busiest_day(settled: list[dict]) -> tuple[str, date, list[dict]]:
    by: dict[tuple[str, date], list[dict]] = {}
    for a in settled:
        day = datetime.fromisoformat(a["occurred_at"]).astimezone(CHINA).date()
        if a["insutype"] == "390":
            by.setdefault((a["fixmedins_code"], day), []).append(a)
    (code, day), rows = max(by.items(), key=lambda kv: len(kv[1]))
    return code, day, rows


def request(code: str, day: date, rows: list[dict], request_id: str) -> bytes:
    def total(name: str) -> str:
        return str(sum(Decimal(a["setlinfo"][name]) for a in rows))

    inpatient = [a for a in rows if a["med_type"] == "21"]
    return json.dumps({
        "msg_type": "reconciliation", "schema_version": "claims.v2", "request_id": request_id,
        "sent_at": "2025-02-01T09:00:00+08:00",
        "fixmedins_code": code,
        "totals": [{"insutype": "390", "clr_type": "21", "setl_optins": "640000", "stmt_begndate": day.isoformat(),
                    "stmt_enddate": day.isoformat(), "medfee_sumamt": total("medfee_sumamt"),
                    "fund_pay_sumamt": total("fund_pay_sumamt"), "acct_pay": total("acct_pay"),
                    "fixmedins_setl_cnt": len(inpatient)}],
        "details": [{"psn_no": a["psn_no"], "mdtrt_id": a["mdtrt_id"], "setl_id": a["setl_id"],
                     **{n: a["setlinfo"][n] for n in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}}
                    for a in inpatient],
    }).encode()  # fmt: skip


async def test_a_days_totals_that_match_are_balanced() -> None:
    service, settled = await one_month()
    code, day, rows = busiest_day([a for a in settled if a["med_type"] == "21"])
    reply = await service.handle(request(code, day, rows, "REC-1"))
    answer = json.loads(reply.model_dump_json())
    assert answer["msg_type"] == "reconciliation_result"
    assert [s["stmt_rslt"] for s in answer["stmtinfo"]] == ["0"] and answer["differences"] == []


async def test_a_missing_settlement_is_a_mismatch_that_names_it_and_the_answer_is_given_once() -> None:
    service, settled = await one_month()
    code, day, rows = busiest_day([a for a in settled if a["med_type"] == "21"])
    assert len(rows) >= 2
    missing, kept = rows[0], rows[1:]
    reply = await service.handle(request(code, day, kept, "REC-2"))
    answer = json.loads(reply.model_dump_json())
    [info] = answer["stmtinfo"]
    assert info["stmt_rslt"] == "1" and f"count ledger {len(rows)} / institution {len(kept)}" in info["stmt_rslt_dscr"]
    assert [(d["setl_id"], d["memo"]) for d in answer["differences"]] == [
        (missing["setl_id"], "missing_at_institution")
    ]
    again = await service.handle(request(code, day, kept, "REC-2"))
    assert again == reply  # a retry gets the recorded answer
