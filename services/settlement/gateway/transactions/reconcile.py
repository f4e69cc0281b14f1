"""3201 医药机构费用结算对总账 / 3202 对明细账: a hospital's totals for a period compared with
the ledger's. Records nothing.

The national input is mapped into the clearing's reconciliation request
(contracts.reconciliation) and answered by the clearing's own ``answer`` — the comparison
(engine.clearing.reconcile) and the entries (the settlement service's clearing source) that
claims.v2's ``reconciliation`` message and the ledger service's HTTP route use, so the three
transports can never disagree (docs/clearing.md#reconciliation). Its result is rendered back in
the national layout: ``stmt_rslt`` "0" balanced, "1" not, with a sentence, both where openhis
reads it (``output.stmtinfo``) and where binzhe's model has it (``output``). 3202 takes its
detail rows inline (hsa-his's ``fsUploadIn[]``) and answers the settlements that differ in
``output.result.detail[]`` (binzhe's file-based 3202 — ``file_qury_no`` of an uploaded file —
is answered "-1": files are not served).

Read your writes: in the service, the source waits (bounded) until the clearing's follower has
applied every event committed before the request (ledger.clearing.source.CaughtUpSource); if it
cannot, the answer is "-1" saying so, never a count that misses a settlement made a moment ago.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.clearing.reconciliation import answer
from ledger.clearing.source import ClearingBehind
from pydantic import ValidationError

from contracts.money import format_yuan
from contracts.reconciliation import (
    LedgerSums,
    Reconciliation,
    ReconciliationResult,
    StatementDetail,
    StatementTotals,
    StmtDifference,
)
from engine.ids import event_id
from settlement.gateway.answers import yuan
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, Obj, day, fen, identifier, number, required_fen, rows, text

MAX_DETAIL = 10_000
SUMS = ("fixmedins_setl_cnt", "medfee_sumamt", "fund_pay_sumamt", "acct_pay")


def _refund_flag(obj: Obj, *names: str, default: str) -> str:
    """退费结算标志: "1" reversals counted (as rows of their own), "0" not. hsa-his sends it
    upper-case (``REFD_SETL_FLAG``) next to the national fields."""
    given = next((v for v in (text(obj, n, required=False) for n in names) if v), default)
    if given not in ("0", "1"):
        raise NationalRefusal(f'{names[0]} must be "0" or "1"; got {given[:20]!r}')
    return given


def _shared_code(data: Obj, detail: Sequence[Obj], name: str) -> str:
    """A code of the totals row; hsa-his's 3202 leaves ``insutype`` out of ``data`` and puts it on
    every detail row instead: the rows' code is taken when they all name the same one."""
    given = identifier(data, name, required=False)
    if given:
        return given
    named = {identifier(row, name, required=False) for row in detail} - {""}
    if len(named) == 1:
        return named.pop()
    raise NationalRefusal(f"{name} is required (in data, or the same on every fsUploadIn row)")


def _totals(data: Obj, detail: Sequence[Obj]) -> dict[str, Any]:
    period = {"stmt_begndate": day(data, "stmt_begndate"), "stmt_enddate": day(data, "stmt_enddate")}
    count = number(data, "fixmedins_setl_cnt", places=0)
    assert count is not None  # required
    return {
        **period,
        "insutype": _shared_code(data, detail, "insutype"),
        "clr_type": _shared_code(data, detail, "clr_type"),
        "setl_optins": identifier(data, "setl_optins"),
        "medfee_sumamt": format_yuan(required_fen(data, "medfee_sumamt")),
        "fund_pay_sumamt": format_yuan(required_fen(data, "fund_pay_sumamt")),
        "acct_pay": format_yuan(fen(data, "acct_pay", required=False) or 0),  # absent: none paid by account
        "fixmedins_setl_cnt": int(count),
        "refd_setl_flag": _refund_flag(data, "refd_setl_flag", "REFD_SETL_FLAG", default="1"),
    }


def _detail(index: int, row: Obj) -> dict[str, Any]:
    try:
        return {
            "psn_no": identifier(row, "psn_no"),
            "mdtrt_id": identifier(row, "mdtrt_id"),
            "setl_id": identifier(row, "setl_id"),
            "medfee_sumamt": format_yuan(required_fen(row, "medfee_sumamt")),
            "fund_pay_sumamt": format_yuan(required_fen(row, "fund_pay_sumamt")),
            "acct_pay": format_yuan(fen(row, "acct_pay", required=False) or 0),
            "refd_setl_flag": _refund_flag(row, "refd_setl_flag", default="0"),
        }
    except NationalRefusal as refused:
        raise NationalRefusal(f"fsUploadIn[{index}]: {refused.err_msg}") from None


def _request(context: Context, detail: Sequence[Obj]) -> Reconciliation:
    """The national input as the clearing's request: the msgid is its request_id, the envelope's
    institution its fixmedins_code (the one the caller may act for: Access.check)."""
    e, data = context.envelope, context.envelope.data()
    totals, details = _totals(data, detail), [_detail(i, row) for i, row in enumerate(detail)]
    try:
        return Reconciliation(
            request_id=e.msgid,
            sent_at=context.at,
            fixmedins_code=e.fixmedins_code,
            totals=(StatementTotals.model_validate(totals),),
            details=tuple(StatementDetail.model_validate(d) for d in details),
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        raise NationalRefusal(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


async def _answer(context: Context, request: Reconciliation) -> ReconciliationResult:
    key = context.envelope.idempotency_key
    try:
        return await answer(context.deps.service.clearing, request, event_id=event_id(key, 0), occurred_at=context.at)
    except ClearingBehind as behind:
        raise NationalRefusal(str(behind)) from None


def _figure(name: str, fen_or_count: int) -> str:
    return str(fen_or_count) if name == "fixmedins_setl_cnt" else format_yuan(fen_or_count)


def _sentence(row: StatementTotals, ledger: LedgerSums) -> str:
    """ "平" when balanced (the platform's word, openhis shows it); otherwise each figure that
    differs, the agency's (医保) next to the institution's (机构), amounts in yuan."""
    differ = [n for n in SUMS if getattr(ledger, n) != getattr(row, n)]
    if not differ:
        return "平"
    said = "; ".join(f"{n} 医保 {_figure(n, getattr(ledger, n))} / 机构 {_figure(n, getattr(row, n))}" for n in differ)
    return f"不平: {said}"


def _stmtinfo(request: Reconciliation, result: ReconciliationResult) -> dict[str, Any]:
    [row], [info] = request.totals, result.stmtinfo
    national = {"setl_optins": info.setl_optins, "stmt_rslt": info.stmt_rslt, "stmt_rslt_dscr": ""}
    national["stmt_rslt_dscr"] = _sentence(row, info.ledger)
    assert (info.stmt_rslt == "0") == (national["stmt_rslt_dscr"] == "平")  # one comparison, two renderings
    return {"stmtinfo": national, **national}


def _amounts(prefix: str, medfee: int | None, fund: int | None, acct: int | None) -> dict[str, Any]:
    if medfee is None or fund is None or acct is None:
        return {}
    return {
        f"{prefix}medfee_sumamt": yuan(medfee),
        f"{prefix}fund_pay_sumamt": yuan(fund),
        f"{prefix}acct_pay": yuan(acct),
    }


def _difference(d: StmtDifference) -> dict[str, Any]:
    """A 3202 result row: the ledger's amounts where it has the settlement, the institution's
    (``fixmedins_…``) where its row was sent — each side present only when it exists."""
    return {
        "psn_no": d.psn_no,
        "mdtrt_id": d.mdtrt_id,
        "setl_id": d.setl_id,
        "insutype": d.insutype,
        "clr_type": d.clr_type,
        "refd_setl_flag": d.refd_setl_flag,
        "stmt_rslt": d.stmt_rslt,
        "memo": d.memo,
        **_amounts("", d.medfee_sumamt, d.fund_pay_sumamt, d.acct_pay),
        **_amounts("fixmedins_", d.institution_medfee_sumamt, d.institution_fund_pay_sumamt, d.institution_acct_pay),
    }


async def reconcile_totals(context: Context) -> Done:
    request = _request(context, ())
    return Done(_stmtinfo(request, await _answer(context, request)))


async def reconcile_detail(context: Context) -> Done:
    if text(context.envelope.data(), "file_qury_no", required=False):
        raise NationalRefusal("3202 with an uploaded file (file_qury_no) is not served: send the rows as fsUploadIn")
    request = _request(context, rows(context.envelope.input, "fsUploadIn", limit=MAX_DETAIL, required=False))
    result = await _answer(context, request)
    detail = [_difference(d) for d in result.differences]
    return Done(
        {
            **_stmtinfo(request, result),
            "result": {"file_qury_no": "", "filename": "", "dld_endtime": "", "detail": detail},
        }
    )
