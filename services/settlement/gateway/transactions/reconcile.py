"""3201 医药机构费用结算对总账 / 3202 对明细账: a hospital's totals for a period compared with
the ledger's. Records nothing.

The answer carries the result both where openhis reads it (``output.stmtinfo.stmt_rslt``) and
where binzhe's model has it (``output.stmt_rslt``): "0" balanced, "1" not, with a sentence.
3202 takes its detail rows inline (hsa-his's ``fsUploadIn[]``) and answers the rows that differ
in ``output.result.detail[]`` (binzhe's file-based 3202 — ``file_qury_no`` of an uploaded
file — is answered "-1": files are not served).

The comparison is a local one until the clearing's shared ``reconcile`` is wired in; the
ledger's side is every settlement and reversal the institution recorded in the period (China
days of the records), read from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.events import ClaimSettled, SettlementReversed
from engine.records import from_record
from settlement.gateway.answers import CHINA, yuan
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, Obj, day, fen, identifier, number, rows, text

PAGE = 1000
MAX_DETAIL = 10_000


@dataclass(frozen=True)
class Entry:
    """One settlement (or reversal, negative) as the ledger recorded it."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    clr_type: str
    day: date
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    reversal: bool


def clr_type_of(med_type: str) -> str:
    """11 outpatient, 21 inpatient (national med_type 2x), 41 pharmacy (41)."""
    return "41" if med_type == "41" else "21" if med_type.startswith("2") else "11"


async def ledger_entries(context: Context, fixmedins_code: str, first: date, last: date) -> list[Entry]:
    """The institution's settlements and reversals recorded from ``first`` to ``last`` (China
    days), read from the global log (a scan: the clearing's index replaces it)."""
    settled: dict[str, Entry] = {}
    found: list[Entry] = []
    after = 0
    while page := await context.deps.store.read_all(after, PAGE):
        after = page[-1].position
        for recorded in page:
            if recorded.event_type not in ("ClaimSettled", "SettlementReversed"):
                continue
            facts = from_record(recorded.event_type, recorded.data)
            if not isinstance(facts, ClaimSettled | SettlementReversed):
                continue
            on = recorded.occurred_at.astimezone(CHINA).date()
            entry = _entry(facts, on, settled)
            if entry is None:
                continue
            if isinstance(facts, ClaimSettled):
                settled[facts.setl_id] = entry
            if facts.fixmedins_code == fixmedins_code and first <= on <= last:
                found.append(entry)
    return found


def _entry(facts: ClaimSettled | SettlementReversed, on: date, settled: dict[str, Entry]) -> Entry | None:
    if isinstance(facts, ClaimSettled):
        a, v = facts.amounts, facts.visit
        med_type = str(v.med_type)
        return Entry(facts.setl_id, v.mdtrt_id, v.psn_no, str(v.insutype), clr_type_of(med_type), on,
                     a.medfee_sumamt, a.fund_pay_sumamt, a.acct_pay, False)  # fmt: skip
    if isinstance(facts, SettlementReversed) and facts.reversed_setl_id in settled:
        o, a = settled[facts.reversed_setl_id], facts.amounts
        return Entry(facts.setl_id, o.mdtrt_id, o.psn_no, o.insutype, o.clr_type, on,
                     a.medfee_sumamt, a.fund_pay_sumamt, a.acct_pay, True)  # fmt: skip
    return None


@dataclass(frozen=True)
class Totals:
    count: int
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int


def totals(entries: Sequence[Entry]) -> Totals:
    return Totals(
        len(entries),
        sum(e.medfee_sumamt for e in entries),
        sum(e.fund_pay_sumamt for e in entries),
        sum(e.acct_pay for e in entries),
    )


def _stated(data: Obj) -> Totals:
    count = number(data, "fixmedins_setl_cnt", places=0)
    assert count is not None
    return Totals(
        int(count),
        fen(data, "medfee_sumamt") or 0,
        fen(data, "fund_pay_sumamt") or 0,
        fen(data, "acct_pay", required=False) or 0,
    )


def _selected(entries: list[Entry], data: Obj) -> list[Entry]:
    insutype, clr_type = text(data, "insutype", required=False), text(data, "clr_type", required=False)
    return [e for e in entries if (not insutype or e.insutype == insutype) and (not clr_type or e.clr_type == clr_type)]


def _sentence(ours: Totals, theirs: Totals) -> str:
    if ours == theirs:
        return "平"
    names = [
        n for n in ("count", "medfee_sumamt", "fund_pay_sumamt", "acct_pay") if getattr(ours, n) != getattr(theirs, n)
    ]
    return "不平: " + "; ".join(f"{n} 医保 {getattr(ours, n)} / 机构 {getattr(theirs, n)}" for n in names) + " (分)"


async def _compare(context: Context) -> tuple[Obj, list[Entry], dict[str, Any]]:
    data = context.envelope.data()
    first, last = day(data, "stmt_begndate"), day(data, "stmt_enddate")
    if last < first or (last - first).days > 31:
        raise NationalRefusal("stmt_begndate to stmt_enddate must be a period of at most 31 days")
    ours = _selected(await ledger_entries(context, context.envelope.fixmedins_code, first, last), data)
    mine, theirs = totals(ours), _stated(data)
    result = "0" if mine == theirs else "1"
    optins = identifier(data, "setl_optins", required=False)
    info = {"setl_optins": optins, "stmt_rslt": result, "stmt_rslt_dscr": _sentence(mine, theirs)}
    return data, ours, {"stmtinfo": info, **info}


async def reconcile_totals(context: Context) -> Done:
    _, _, output = await _compare(context)
    return Done(output)


def _row(entry: Entry) -> dict[str, Any]:
    return {
        "setl_id": entry.setl_id,
        "mdtrt_id": entry.mdtrt_id,
        "psn_no": entry.psn_no,
        "medfee_sumamt": yuan(entry.medfee_sumamt),
        "fund_pay_sumamt": yuan(entry.fund_pay_sumamt),
        "acct_pay": yuan(entry.acct_pay),
        "refd_setl_flag": "1" if entry.reversal else "0",
    }


async def reconcile_detail(context: Context) -> Done:
    if text(context.envelope.data(), "file_qury_no", required=False):
        raise NationalRefusal("3202 with an uploaded file (file_qury_no) is not served: send the rows as fsUploadIn")
    detail = rows(context.envelope.input, "fsUploadIn", limit=MAX_DETAIL, required=False)
    _, ours, output = await _compare(context)
    sent = {(identifier(r, "setl_id"), text(r, "refd_setl_flag", required=False) or "0"): r for r in detail}
    differ = []
    for entry in ours:
        row = sent.pop((entry.setl_id, "1" if entry.reversal else "0"), None)
        if row is None or fen(row, "medfee_sumamt") != entry.medfee_sumamt:
            differ.append({**_row(entry), "memo": "missing_at_institution" if row is None else "amounts_differ"})
    differ += [{"setl_id": k[0], "refd_setl_flag": k[1], "memo": "missing_in_ledger"} for k in sent]
    result = {"file_qury_no": "", "filename": "", "dld_endtime": "", "detail": differ}
    return Done({**output, "result": result})
