"""settlements.v1 and rejections.v1 — what goes back to the sender."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from contracts.claims import Code, PsnNo
from contracts.codes import ExcludedCategory, FundPayType, RejectionCode
from contracts.money import Amount
from contracts.wire import WireModel


class SetlInfo(WireModel):
    """结算信息 setlinfo. All amounts yuan on the wire."""

    medfee_sumamt: Amount  # 医疗费总额
    fulamt_ownpay_amt: Amount  # 全自费金额
    overlmt_selfpay: Amount  # 超限价自费
    preselfpay_amt: Amount  # 先行自付
    inscp_scp_amt: Amount  # 符合政策范围金额
    act_pay_dedc: Amount  # 实际支付起付线
    hifp_pay: Amount  # 基本医疗保险统筹基金支出
    pool_prop_selfpay: Decimal  # 基本统筹基金支付比例 of the visit's main benefit
    cvlserv_pay: Amount = 0  # 公务员医疗补助 (not run here)
    hifes_pay: Amount = 0  # 企业补充医疗保险 (not run here)
    hifmi_pay: Amount  # 居民大病保险
    hifob_pay: Amount  # 职工大额医疗费用补助
    maf_pay: Amount  # 医疗救助
    oth_pay: Amount = 0
    fund_pay_sumamt: Amount  # 基金支付总额
    psn_part_amt: Amount  # 个人负担总金额
    acct_pay: Amount  # 个人账户支出 (includes acct_mulaid_pay)
    acct_mulaid_pay: Amount  # 账户共济支付
    psn_cash_pay: Amount  # 现金支付
    balc: Amount  # 余额: the paying own account after this settlement

    @model_validator(mode="after")
    def _parts_add_up(self) -> SetlInfo:
        if self.medfee_sumamt != (
            self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt
        ):
            raise ValueError("medfee_sumamt ≠ fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt")
        funds = self.hifp_pay + self.cvlserv_pay + self.hifes_pay + self.hifmi_pay + self.hifob_pay
        if self.fund_pay_sumamt != funds + self.maf_pay + self.oth_pay:
            raise ValueError("fund_pay_sumamt ≠ the sum of the funds")
        if self.psn_part_amt != self.medfee_sumamt - self.fund_pay_sumamt:
            raise ValueError("psn_part_amt ≠ medfee_sumamt − fund_pay_sumamt")
        if self.psn_part_amt != self.acct_pay + self.psn_cash_pay:
            raise ValueError("psn_part_amt ≠ acct_pay + psn_cash_pay")
        return self


class SetlDetail(WireModel):
    """结算基金分项 setldetail: one row per fund that took part."""

    fund_pay_type: FundPayType
    fund_pay_type_name: str
    inscp_scp_amt: Amount  # the amount this fund worked on
    crt_payb_lmt_amt: Amount  # what the fund could still pay before this settlement
    fund_payamt: Amount
    setl_proc_info: str = ""  # how the figure came about, in one sentence


class Disagreement(WireModel):
    """The institution sent one value of a line's catalogue terms, the payer's catalogue says
    another: the catalogue's priced the line."""

    field: str  # chrgitm_lv, selfpay_prop, pric_uplmt_amt, hi_nego_drug_flag
    sent: str
    catalogue: str  # "" when the catalogue has none (the item is not listed, or has no cap)


# Detail a settlement priced from the payer's catalogue carries; a settlement recorded before
# (ledger events of version 2 and older) renders without it, so its answer stays byte for byte.
_CATALOGUE_DETAIL = ("chrgitm_lv", "selfpay_prop", "pric_uplmt_amt", "hi_nego_drug_flag", "reason")


class ItemSplit(WireModel):
    feedetl_sn: str
    det_item_fee_sumamt: Amount  # net of the refund lines netted into it
    fulamt_ownpay_amt: Amount
    overlmt_selfpay: Amount
    preselfpay_amt: Amount
    inscp_scp_amt: Amount
    benefit: str  # which benefit's rules priced it (inpatient, general_outpatient, …, none)
    excluded_category: ExcludedCategory | None = None
    # The payer's catalogue terms that priced the line (absent: not in the catalogue).
    chrgitm_lv: str | None = None
    selfpay_prop: Decimal | None = None
    pric_uplmt_amt: Decimal | None = None
    hi_nego_drug_flag: bool | None = None
    reason: str | None = None  # why the line is 全自费: not_in_catalogue, class_c, restricted_*, …
    disagreements: tuple[Disagreement, ...] = ()
    refund_sns: tuple[str, ...] = ()  # refund lines netted into this line before it was split

    @model_serializer(mode="wrap")
    def _without_empty_detail(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _CATALOGUE_DETAIL:
            if data.get(name) is None:
                data.pop(name, None)
        for name in ("disagreements", "refund_sns"):
            if not data.get(name):
                data.pop(name, None)
        return data


class PolicyRef(WireModel):
    policy_id: str
    version: int
    content_hash: str  # sha256 of the policy's canonical content; replay checks it


class TrailStep(WireModel):
    rule: str  # e.g. "deductible", "major_illness.bands"
    source: str  # the seed or policy key the rule comes from
    text: str  # a sentence a person can check


class CasePayment(WireModel):
    """DRG / DIP: what the basic fund owes the institution for an inpatient case, as the fund
    grouped and valued it from its own catalogue (docs/clearing.md#case-valuation). DIP amounts
    are provisional until the year's point value is set."""

    method: Literal["drg", "dip"]
    group_code: str | None  # the fund's group; null: ungrouped, cleared item by item
    weight_or_score: Decimal | None  # the catalogue's DRG weight or DIP score
    payment_standard: Amount | None  # DRG: weight × base rate; DIP: points × provisional point value
    points: Decimal | None = None  # DIP: score × level coefficient, after the outlier rule
    outlier: Literal["high", "low"] | None = None
    basic_fund_due: Amount  # what the basic fund owes the institution for the case (DIP: provisional)
    difference_to_itemised: Amount  # basic_fund_due − hifp_pay (the institution's gain or loss)
    declared_code: str | None = None  # the institution's own dip_code / drg_code, as sent
    disagreement: bool = False  # the institution's code or weight/score differs: the fund's stands
    special_review: bool = False  # queued for 特病单议
    ungrouped: bool = False


class SettlementResult(WireModel):
    msg_type: Literal["settlement"] = "settlement"
    schema_version: Literal["settlements.v1"] = "settlements.v1"
    event_id: uuid.UUID
    occurred_at: AwareDatetime
    request_id: str
    setl_mode: Literal["settle", "pre_settle"]
    setl_id: str
    psn_no: PsnNo
    mdtrt_id: str
    fixmedins_code: str
    med_type: str
    insutype: str
    year: int
    setlinfo: SetlInfo
    setldetail: tuple[SetlDetail, ...]
    items: tuple[ItemSplit, ...]
    case_payment: CasePayment | None = None
    policy: PolicyRef
    trail: tuple[TrailStep, ...]


class ReversalResult(WireModel):
    """The reversal of a settlement: the original's figures with the sign turned."""

    msg_type: Literal["reversal_result"] = "reversal_result"
    schema_version: Literal["settlements.v1"] = "settlements.v1"
    event_id: uuid.UUID
    occurred_at: AwareDatetime
    request_id: str
    setl_id: str  # the reversal's own id
    reversed_setl_id: str
    psn_no: PsnNo
    fixmedins_code: str
    year: int
    setlinfo: SetlInfo  # every amount negated
    policy: PolicyRef


class EnrolmentAccepted(WireModel):
    msg_type: Literal["enrolment_accepted"] = "enrolment_accepted"
    schema_version: Literal["settlements.v1"] = "settlements.v1"
    event_id: uuid.UUID
    occurred_at: AwareDatetime
    request_id: str
    psn_no: PsnNo
    year: int
    coverage_from: str | None = None  # first day any fund pays (waiting periods), ISO date
    acct_credit: Amount | None = None  # for an account credit: the amount credited
    balc: Amount | None = None  # for an account credit: the balance after it


class Rejection(WireModel):
    msg_type: Literal["rejection"] = "rejection"
    schema_version: Literal["rejections.v1"] = "rejections.v1"
    event_id: uuid.UUID
    occurred_at: AwareDatetime
    code: RejectionCode
    message: str = Field(min_length=1)  # a sentence saying what is wrong and what to do
    field: str | None = None  # dotted path of the offending field, when one is to blame
    request_id: str | None = None
    fixmedins_code: Code | None = None
    psn_no: str | None = None
    source: str | None = None  # where the message came from: "topic/partition/offset" or "file:line"


class AnnualTotals(WireModel):
    """A person's year: what was paid and what is left of each cap and deductible."""

    msg_type: Literal["annual_totals"] = "annual_totals"
    schema_version: Literal["settlements.v1"] = "settlements.v1"
    psn_no: PsnNo
    year: int
    insutype: str | None
    policy_id: str | None
    coverage_from: str | None
    settlements: int
    admissions: int
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    hifp_pay: Amount
    major_illness_pay: Amount  # hifmi_pay (residents) or hifob_pay (staff)
    maf_pay: Amount
    acct_pay: Amount  # own account on own care, plus relatives' accounts (acct_mulaid_pay)
    acct_paid_for_family: Amount
    psn_cash_pay: Amount
    deductible_used: dict[str, Amount]
    annual_cap_left: Amount | None
    benefit_caps_left: dict[str, Amount]
    major_illness_base: Amount
    major_illness_cap_left: Amount | None
    medical_aid_base: Amount
    medical_aid_cap_left: Amount | None
    balc: Amount  # personal account balance
