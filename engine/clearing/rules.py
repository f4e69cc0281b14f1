"""The policy's ``[case_payment]`` and ``[clearing]`` sections (docs/clearing.md#parameters).

Every number of the clearing is here, with the default issue 13 gives it; where the national
technical specifications differ, the spec's way is a choice of the same key (documented in
docs/clearing.md). Levels are the policy tables' keys ("primary", "1", "2", "3") with a
"default" fallback, as in the rest of the policy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.money import Yuan

Ratio = Annotated[Decimal, Field(ge=0, le=1)]
Multiple = Annotated[Decimal, Field(gt=0, le=100)]
PointValue = Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=6)]  # yuan per point
DEFAULT = "default"
MAX_DEPOSIT_RATIO = Decimal("0.05")  # 按病种付费医疗保障经办管理规程(2025版) 第二十六条: 不超过5%


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _levels(table: dict[str, object]) -> None:
    unknown = set(table) - {"primary", "1", "2", "3", DEFAULT}
    if unknown:
        raise ValueError(f"unknown institution level {sorted(unknown)}; use primary, 1, 2, 3 or {DEFAULT!r}")


class CasePaymentRules(_Strict):
    """How one inpatient case is valued when it is settled (issue 13 §2)."""

    # DRG (CHS-DRG 分组与付费技术规范): standard = relative weight × base rate of the level.
    drg_base_rate: dict[str, Yuan] = Field(default_factory=dict)  # level → yuan per weight 1.0
    drg_high_multiple: dict[str, Multiple] = Field(
        default_factory=lambda: {"3": Decimal(3), DEFAULT: Decimal(2)}
    )  # 费用极高病例: cost > n × standard
    drg_low_multiple: Multiple = Decimal("0.4")  # 费用极低病例: cost < n × standard
    # DIP (DIP 技术规范): points = score × the level's coefficient, valued at the point value.
    dip_point_value: PointValue | None = None  # provisional 预算点值, yuan per point
    dip_hospital_coefficient: dict[str, Multiple] = Field(default_factory=dict)  # 医疗机构等级系数
    dip_low_multiple: Multiple = Decimal("0.5")  # 费用超低病例
    dip_high_multiple: dict[str, Multiple] = Field(default_factory=lambda: {DEFAULT: Decimal(2)})  # 费用超高病例
    dip_extreme_multiple: Multiple | None = None  # 极端异常病例 → special review (the spec: 5)
    # The outliers' reference cost: the issue's points × provisional point value, or the spec's
    # last year's average cost of the group (catalogue column avg_cost; points × value without it).
    dip_reference: Literal["points_x_provisional", "group_average_cost"] = "points_x_provisional"
    points_places: int = Field(default=4, ge=0, le=8)  # decimals kept of a case's points (half up)

    @model_validator(mode="after")
    def _level_tables(self) -> CasePaymentRules:
        for table in (self.drg_base_rate, self.drg_high_multiple, self.dip_hospital_coefficient):
            _levels(table)  # type: ignore[arg-type]
        _levels(self.dip_high_multiple)  # type: ignore[arg-type]
        if self.dip_point_value is not None and not self.dip_hospital_coefficient:
            raise ValueError("dip_point_value needs dip_hospital_coefficient (use default = 1 for none)")
        return self


def _review_caps() -> dict[Literal["drg", "dip"], Decimal]:
    return {"drg": Decimal("0.05"), "dip": Decimal("0.005")}


class RiskSharing(_Strict):
    """Between the city and each county (002: 市管理、分级清算; 风险责任…市和县(市)共同承担).
    002 leaves the shares to a separate rule (具体办法另行制订): these are the region's."""

    county_overspend_share: Ratio = Decimal("0.5")  # of spending above the county's budget
    county_surplus_share: Ratio = Decimal("0.5")  # of what is left below it, kept by the county


class ClearingRules(_Strict):
    """Monthly pre-payment, year end, deposit, special review (issue 13 §2)."""

    prepay_ratio: Ratio = Decimal("0.9")  # 按月预拨: × the month's item-level basic-fund payments
    # The year-end point value: (budget + what others paid for the DIP cases) ÷ points (issue),
    # or (budget ÷ the planned reimbursement ratio) ÷ points (DIP 技术规范 结算点值).
    point_value_method: Literal["actual_non_fund", "reimbursement_ratio"] = "actual_non_fund"
    reimbursement_ratio: Ratio | None = None
    point_value_floor: Multiple | None = None  # × the provisional point value, at least
    point_value_ceiling: Multiple | None = None  # × the provisional point value, at most
    budget_reserve_ratio: Ratio = Decimal(0)  # 调剂金 kept off the budget before the point value
    drg_year_end: Literal["standard", "budget"] = "standard"  # budget: base rates scaled to the DRG budget
    deposit_ratio: Ratio = Decimal(0)  # 质量保证金, withheld from the year-end amount
    special_review_cap: dict[Literal["drg", "dip"], Ratio] = Field(
        default_factory=_review_caps
    )  # 特例单议: share of discharges (2024 national notice on DRG/DIP 2.0), reported, not enforced
    risk_sharing: RiskSharing = RiskSharing()

    @model_validator(mode="after")
    def _coherent(self) -> ClearingRules:
        if self.deposit_ratio > MAX_DEPOSIT_RATIO:
            raise ValueError(f"deposit_ratio may not exceed {MAX_DEPOSIT_RATIO} (经办管理规程 2025: 不超过5%)")
        if self.point_value_method == "reimbursement_ratio" and not self.reimbursement_ratio:
            raise ValueError("point_value_method 'reimbursement_ratio' needs reimbursement_ratio > 0")
        floor, ceiling = self.point_value_floor, self.point_value_ceiling
        if floor is not None and ceiling is not None and floor > ceiling:
            raise ValueError("point_value_floor is above point_value_ceiling")
        return self
