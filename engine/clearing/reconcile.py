"""Daily reconciliation (对账) of a hospital's own totals with the ledger's, as the national
platform's 3201 (医药机构费用结算对总账) and 3202 (…对明细账) transactions do it.

The hospital sends, for a period (usually one day, by settlement time in China time), per
insurance type (insutype) and clearing type (clr_type: 11 outpatient, 21 inpatient, 41
pharmacy), its count of settlements and its sums of medfee_sumamt, fund_pay_sumamt and
acct_pay; optionally (3202) its detail rows. Each totals row is answered ``stmt_rslt`` "0"
(balanced) or "1" (not balanced) with a sentence. On a mismatch the settlements that differ
are listed: from the detail rows when sent (missing on either side, or amounts that differ),
otherwise every ledger settlement of the row, for the hospital to compare (the 3202 result
file, inline). Reversals count on the day they are recorded, negatively (refd_setl_flag "1",
the default); with refd_setl_flag "0" only forward settlements count.

Pure: the gateway's 3201/3202 and the ledger service's reconciliation both call ``reconcile``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from engine.clearing.entries import Entry

BALANCED, NOT_BALANCED = "0", "1"
RefundFlag = Literal["0", "1"]


@dataclass(frozen=True)
class TotalsRow:
    """One 3201 data row, amounts in fen."""

    insutype: str
    clr_type: str
    setl_optins: str  # the clearing agency's admdvs
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    fixmedins_setl_cnt: int
    refd_setl_flag: RefundFlag = "1"


@dataclass(frozen=True)
class DetailRow:
    """One 3202 detail row (the hospital's), amounts in fen; a reversal is its own row with
    refd_setl_flag "1" and its own setl_id."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    refd_setl_flag: RefundFlag = "0"


@dataclass(frozen=True)
class Sums:
    count: int = 0
    medfee_sumamt: int = 0
    fund_pay_sumamt: int = 0
    acct_pay: int = 0


@dataclass(frozen=True)
class Difference:
    """A settlement whose state differs (a 3202 result row)."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    refd_setl_flag: RefundFlag
    memo: str  # missing_in_ledger | missing_at_institution | amounts_differ | listed
    ledger: Sums | None
    institution: Sums | None


@dataclass(frozen=True)
class RowResult:
    row: TotalsRow
    stmt_rslt: str
    stmt_rslt_dscr: str
    ledger: Sums
    differences: tuple[Difference, ...] = field(default=())


def _in_row(entry: Entry, row: TotalsRow) -> bool:
    return (
        entry.insutype == row.insutype
        and entry.clr_type == row.clr_type
        and row.stmt_begndate <= entry.day <= row.stmt_enddate
        and (row.refd_setl_flag == "1" or not entry.reversal)
    )


def _sums(entry: Entry) -> Sums:
    return Sums(1, entry.medfee, entry.fund_pay_sumamt, entry.acct_pay)


def _total(parts: Iterable[Sums]) -> Sums:
    total = Sums()
    for p in parts:
        total = Sums(
            total.count + p.count,
            total.medfee_sumamt + p.medfee_sumamt,
            total.fund_pay_sumamt + p.fund_pay_sumamt,
            total.acct_pay + p.acct_pay,
        )
    return total


def _detail_sums(row: DetailRow) -> Sums:
    return Sums(1, row.medfee_sumamt, row.fund_pay_sumamt, row.acct_pay)


def _flag(entry: Entry) -> RefundFlag:
    return "1" if entry.reversal else "0"


def _detail_differences(ours: Sequence[Entry], theirs: Sequence[DetailRow]) -> list[Difference]:
    mine = {(e.entry_id, _flag(e)): e for e in ours}
    sent = {(d.setl_id, d.refd_setl_flag): d for d in theirs}
    found = []
    for key in sorted(set(mine) | set(sent)):
        e, d = mine.get(key), sent.get(key)
        ledger, institution = (_sums(e) if e else None), (_detail_sums(d) if d else None)
        if e is not None and d is not None and ledger == institution:
            continue
        memo = "missing_in_ledger" if e is None else "missing_at_institution" if d is None else "amounts_differ"
        where = e or d
        assert where is not None
        mdtrt_id, psn_no = (e.mdtrt_id, e.psn_no) if e else (d.mdtrt_id, d.psn_no)  # type: ignore[union-attr]
        found.append(Difference(key[0], mdtrt_id, psn_no, key[1], memo, ledger, institution))
    return found


def _sentence(row: TotalsRow, ours: Sums) -> str:
    theirs = Sums(row.fixmedins_setl_cnt, row.medfee_sumamt, row.fund_pay_sumamt, row.acct_pay)
    if ours == theirs:
        return f"balanced: {ours.count} settlement(s)"
    differ = [name for name in ("count", "medfee_sumamt", "fund_pay_sumamt", "acct_pay")
              if getattr(ours, name) != getattr(theirs, name)]  # fmt: skip
    said = ", ".join(f"{n} ledger {getattr(ours, n)} / institution {getattr(theirs, n)}" for n in differ)
    return f"not balanced ({said}; amounts in fen)"


def reconcile(
    fixmedins_code: str, rows: Sequence[TotalsRow], entries: Iterable[Entry], details: Sequence[DetailRow] = ()
) -> list[RowResult]:
    """Each totals row compared with the institution's ledger entries (settlements and
    reversals); ``details``: the hospital's detail rows over the same rows, if sent."""
    mine = [e for e in entries if e.fixmedins_code == fixmedins_code]
    results = []
    for row in rows:
        ours = [e for e in mine if _in_row(e, row)]
        sums = _total(_sums(e) for e in ours)
        theirs = Sums(row.fixmedins_setl_cnt, row.medfee_sumamt, row.fund_pay_sumamt, row.acct_pay)
        if sums == theirs:
            results.append(RowResult(row, BALANCED, _sentence(row, sums), sums))
            continue
        ids = {e.entry_id for e in ours}
        if details:
            relevant = [d for d in details if d.setl_id in ids or d.setl_id not in {e.entry_id for e in mine}]
            diffs = _detail_differences(ours, relevant)
        else:
            diffs = [Difference(e.entry_id, e.mdtrt_id, e.psn_no, _flag(e), "listed", _sums(e), None) for e in ours]
        results.append(RowResult(row, NOT_BALANCED, _sentence(row, sums), sums, tuple(diffs)))
    return results
