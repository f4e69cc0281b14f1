"""What a settlement decided, as facts in fen: the visit's amounts (setlinfo) and what each fund
paid (setldetail), in the national platform's field names. The ledger records these; the
settlements.v1 answer is rendered from them at the edge."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal

from contracts.codes import FundPayType


@dataclass(frozen=True)
class SettlementAmounts:
    """结算信息 setlinfo, in fen (pool_prop_selfpay is a ratio)."""

    medfee_sumamt: int  # 医疗费总额
    fulamt_ownpay_amt: int  # 全自费金额
    overlmt_selfpay: int  # 超限价自费
    preselfpay_amt: int  # 先行自付
    inscp_scp_amt: int  # 符合政策范围金额
    act_pay_dedc: int  # 实际支付起付线
    hifp_pay: int  # 基本医疗保险统筹基金支出
    pool_prop_selfpay: Decimal  # the main benefit's ratio (0 when no benefit paid by its rules)
    cvlserv_pay: int  # 公务员医疗补助 (not run here: 0)
    hifes_pay: int  # 企业补充医疗保险 (not run here: 0)
    hifmi_pay: int  # 居民大病保险
    hifob_pay: int  # 职工大额医疗费用补助
    maf_pay: int  # 医疗救助
    oth_pay: int  # (not run here: 0)
    fund_pay_sumamt: int  # 基金支付总额
    psn_part_amt: int  # 个人负担总金额
    acct_pay: int  # 个人账户支出 (includes acct_mulaid_pay)
    acct_mulaid_pay: int  # 账户共济支付
    psn_cash_pay: int  # 现金支付
    balc: int  # 余额: the person's own account after this settlement

    def negated(self, balc: int) -> SettlementAmounts:
        """Every amount with its sign turned (a reversal), the ratio kept, the balance given."""
        amounts = {f.name: -getattr(self, f.name) for f in fields(self) if f.name not in ("pool_prop_selfpay", "balc")}
        return replace(self, **amounts, balc=balc)


@dataclass(frozen=True)
class FundPayment:
    """结算基金分项 setldetail: one fund that took part."""

    fund_pay_type: FundPayType
    inscp_scp_amt: int  # the amount this fund worked on
    crt_payb_lmt_amt: int  # what the fund could still pay before this settlement
    fund_payamt: int  # what it paid
    setl_proc_info: str  # how the figure came about, in one sentence
