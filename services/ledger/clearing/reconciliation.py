"""A hospital's reconciliation request answered from the ledger's entries: the request in the
national field names (contracts.reconciliation), the comparison engine.clearing.reconcile's,
the entries the source's (the casemix tables, or the log). The settlement service answers it on
Kafka, the ledger service over HTTP, and the national gateway's 3201/3202 can call ``answer``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.reconciliation import (
    LedgerSums,
    Reconciliation,
    ReconciliationResult,
    StmtDifference,
    StmtInfo,
)
from engine.clearing.reconcile import DetailRow, RowResult, Sums, TotalsRow, reconcile
from ledger.clearing.source import ClearingSource


def totals_rows(request: Reconciliation) -> list[TotalsRow]:
    return [
        TotalsRow(t.insutype, t.clr_type, t.setl_optins, t.stmt_begndate, t.stmt_enddate, t.medfee_sumamt,
                  t.fund_pay_sumamt, t.acct_pay, t.fixmedins_setl_cnt, t.refd_setl_flag)
        for t in request.totals
    ]  # fmt: skip


def detail_rows(request: Reconciliation) -> list[DetailRow]:
    return [
        DetailRow(d.setl_id, d.mdtrt_id, d.psn_no, d.medfee_sumamt, d.fund_pay_sumamt, d.acct_pay, d.refd_setl_flag)
        for d in request.details
    ]


def _sums(s: Sums) -> LedgerSums:
    return LedgerSums(
        fixmedins_setl_cnt=s.count, medfee_sumamt=s.medfee_sumamt, fund_pay_sumamt=s.fund_pay_sumamt,
        acct_pay=s.acct_pay,
    )  # fmt: skip


def _info(r: RowResult) -> StmtInfo:
    row = r.row
    return StmtInfo(
        insutype=row.insutype, clr_type=row.clr_type, setl_optins=row.setl_optins, stmt_begndate=row.stmt_begndate,
        stmt_enddate=row.stmt_enddate, stmt_rslt=r.stmt_rslt, stmt_rslt_dscr=r.stmt_rslt_dscr, ledger=_sums(r.ledger),
    )  # fmt: skip


def _differences(r: RowResult) -> list[StmtDifference]:
    out = []
    for d in r.differences:
        ours, theirs = d.ledger, d.institution
        out.append(
            StmtDifference(
                insutype=r.row.insutype, clr_type=r.row.clr_type, psn_no=d.psn_no, mdtrt_id=d.mdtrt_id,
                setl_id=d.setl_id, stmt_rslt="1", refd_setl_flag=d.refd_setl_flag, memo=d.memo,
                medfee_sumamt=ours.medfee_sumamt if ours else None,
                fund_pay_sumamt=ours.fund_pay_sumamt if ours else None,
                acct_pay=ours.acct_pay if ours else None,
                institution_medfee_sumamt=theirs.medfee_sumamt if theirs else None,
                institution_fund_pay_sumamt=theirs.fund_pay_sumamt if theirs else None,
                institution_acct_pay=theirs.acct_pay if theirs else None,
            )
        )  # fmt: skip
    return out


async def answer(
    source: ClearingSource, request: Reconciliation, *, event_id: uuid.UUID, occurred_at: datetime
) -> ReconciliationResult:
    """Compare the request with the institution's entries of its periods, as far as the source
    reaches (``as_of_position``)."""
    reach = await source.reach()
    begin = min(t.stmt_begndate for t in request.totals)
    end = max(t.stmt_enddate for t in request.totals)
    entries = [e for e in await source.day_entries(request.fixmedins_code, begin, end) if e.position <= reach]
    results = reconcile(request.fixmedins_code, totals_rows(request), entries, detail_rows(request))
    return ReconciliationResult(
        event_id=event_id,
        occurred_at=occurred_at,
        request_id=request.request_id,
        fixmedins_code=request.fixmedins_code,
        as_of_position=reach,
        stmtinfo=tuple(_info(r) for r in results),
        differences=tuple(d for r in results for d in _differences(r)),
    )
