"""Daily reconciliation (对账) as the national platform's 3201/3202 shape it: a hospital sends its
totals for a period (3201 ``data`` rows, per insutype and clr_type) and optionally its detail
rows (3202), on the claims topic (claims.v2, ``msg_type: "reconciliation"``) or over HTTP; the answer
(settlements.v1 ``reconciliation_result``) says per row whether it balances (``stmt_rslt``
"0") or not ("1"), with ``stmt_rslt_dscr``, and lists the settlements that differ
(docs/clearing.md#reconciliation, docs/integrating.md)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.claims import Code, PsnNo, RequestId
from contracts.money import Amount, Yuan
from contracts.wire import WireModel

Flag = Literal["0", "1"]


class StatementTotals(WireModel):
    """One 3201 ``data`` row: the hospital's totals of one insurance and clearing type."""

    insutype: Code  # 险种类型: 310, 390, …
    clr_type: Literal["11", "21", "41", "99"]  # 清算类别: 门诊, 住院, 药店购药, 其他
    setl_optins: Code  # 结算经办机构: the agency's admdvs
    stmt_begndate: date  # 对账开始日期 (China time)
    stmt_enddate: date
    medfee_sumamt: Yuan  # 医疗费总额 (reversals count negatively when refd_setl_flag is "1")
    fund_pay_sumamt: Yuan  # 基金支付总额
    acct_pay: Yuan  # 个人账户支付金额
    fixmedins_setl_cnt: int = Field(ge=0, le=10**9)  # 定点医药机构结算笔数 (reversals are rows too)
    refd_setl_flag: Flag = "1"  # 退费结算标志: "1" reversals included, "0" excluded

    @model_validator(mode="after")
    def _period(self) -> StatementTotals:
        if self.stmt_enddate < self.stmt_begndate:
            raise ValueError("stmt_enddate is before stmt_begndate")
        if (self.stmt_enddate - self.stmt_begndate).days > 92:
            raise ValueError("a reconciliation period is at most 92 days")
        return self


class StatementDetail(WireModel):
    """One 3202 detail row: a settlement as the hospital recorded it (a reversal: its own row,
    refd_setl_flag "1", negative amounts)."""

    psn_no: PsnNo
    mdtrt_id: Code
    setl_id: Code
    medfee_sumamt: Yuan
    fund_pay_sumamt: Yuan
    acct_pay: Yuan
    refd_setl_flag: Flag = "0"


class Reconciliation(WireModel):
    msg_type: Literal["reconciliation"] = "reconciliation"
    schema_version: Literal["claims.v2"] = "claims.v2"
    request_id: RequestId
    sent_at: AwareDatetime
    fixmedins_code: Code
    totals: tuple[StatementTotals, ...] = Field(min_length=1, max_length=50)
    details: tuple[StatementDetail, ...] = Field(default=(), max_length=20_000)

    @property
    def idempotency_key(self) -> str:
        return f"{self.fixmedins_code}:{self.request_id}"

    @property
    def psn_no(self) -> None:
        """A reconciliation is about an institution, not a person (answers are keyed by institution)."""
        return None


class LedgerSums(WireModel):
    fixmedins_setl_cnt: int
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount


class StmtInfo(WireModel):
    """3201 ``stmtinfo``, one per totals row sent."""

    insutype: str
    clr_type: str
    setl_optins: str
    stmt_begndate: date
    stmt_enddate: date
    stmt_rslt: Flag  # 对账结果: "0" balanced, "1" not balanced
    stmt_rslt_dscr: str  # 对账结果说明
    ledger: LedgerSums  # what the ledger counts for the row


class StmtDifference(WireModel):
    """A settlement whose state differs (a 3202 result-file row, inline)."""

    insutype: str
    clr_type: str
    psn_no: str
    mdtrt_id: str
    setl_id: str
    stmt_rslt: Flag
    refd_setl_flag: Flag
    memo: Literal["missing_in_ledger", "missing_at_institution", "amounts_differ", "listed"]
    medfee_sumamt: Amount | None  # the ledger's (null: the ledger has no such settlement)
    fund_pay_sumamt: Amount | None
    acct_pay: Amount | None
    institution_medfee_sumamt: Amount | None = None  # the hospital's, from its detail row
    institution_fund_pay_sumamt: Amount | None = None
    institution_acct_pay: Amount | None = None


class ReconciliationResult(WireModel):
    msg_type: Literal["reconciliation_result"] = "reconciliation_result"
    schema_version: Literal["settlements.v1"] = "settlements.v1"
    event_id: uuid.UUID
    occurred_at: AwareDatetime
    request_id: str
    fixmedins_code: str
    as_of_position: int  # the ledger log position the comparison counted up to
    stmtinfo: tuple[StmtInfo, ...]
    differences: tuple[StmtDifference, ...] = ()

    @property
    def psn_no(self) -> None:
        return None
