"""claims.v1 — what a hospital or pharmacy sends: a claim to settle, or a reversal.

Field names are the national platform's (settlement transactions 2206/2207, 2303/2304,
2101/2102; reversals 2208, 2305, 2103), so a hospital system maps its existing payload.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.codes import (
    ChargeLevel,
    ExcludedCategory,
    FamilyRelation,
    HospitalLevel,
    InstitutionKind,
    Insutype,
    MedType,
    PhysicianTitle,
)
from contracts.money import Yuan
from contracts.wire import WireModel

PsnNo = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[0-9A-Za-z_-]+$")]
Code = Annotated[str, Field(min_length=1, max_length=50)]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._:-]+$")]
Ratio = Annotated[Decimal, Field(ge=0, le=1, max_digits=6, decimal_places=4)]


class Diagnosis(WireModel):
    diag_code: Code  # ICD-10 national edition
    diag_name: str = Field(default="", max_length=200)
    maindiag_flag: bool = False


class ClaimItem(WireModel):
    """One line of the fee list (费用明细)."""

    feedetl_sn: Code  # serial of the line within the visit
    hilist_code: Code  # national catalogue code
    hilist_name: str = Field(default="", max_length=200)
    chrgitm_lv: ChargeLevel
    selfpay_prop: Ratio = Decimal(0)  # 先行自付比例, for 乙类 (02) items
    pric: Yuan = Field(ge=0)  # unit price
    cnt: Decimal = Field(gt=0, max_digits=12, decimal_places=4)  # quantity
    det_item_fee_sumamt: Yuan = Field(ge=0)  # line amount; must equal pric × cnt rounded half up
    pric_uplmt_amt: Yuan | None = Field(default=None, ge=0)  # catalogue unit price cap
    hi_nego_drug_flag: bool = False  # 国家谈判药品 (dual channel)
    excluded_category: ExcludedCategory | None = None  # an expense no fund pays


class DualChannelPhysician(WireModel):
    """责任医师 of a negotiated drug prescription ("三定": attending or above)."""

    dr_code: Code
    dr_name: str = Field(default="", max_length=50)
    dr_title: PhysicianTitle


class Claim(WireModel):
    """Settle (2207/2304/2102) or pre-settle (2206/2303/2101) one visit."""

    msg_type: Literal["claim"] = "claim"
    schema_version: Literal["claims.v1"] = "claims.v1"
    request_id: RequestId  # unique per sender; the idempotency key with fixmedins_code
    sent_at: AwareDatetime
    setl_mode: Literal["settle", "pre_settle"] = "settle"

    psn_no: PsnNo
    insutype: Insutype
    mdtrt_id: Code  # the visit (就诊ID)
    fixmedins_code: Code
    fixmedins_name: str = Field(default="", max_length=200)
    fixmedins_kind: InstitutionKind
    fixmedins_level: HospitalLevel | None = None  # required for hospitals and internet hospitals
    dual_channel_designated: bool = False  # the institution is a 谈判药品定点 hospital/pharmacy
    med_type: MedType
    begndate: date
    enddate: date
    diagnoses: tuple[Diagnosis, ...] = Field(default=(), max_length=50)
    dise_codg: Code | None = None  # the registered chronic / "两病" disease this visit treats
    extn_rx_flag: bool = False  # pharmacy purchase on a designated hospital's prescription (外配处方)
    drg_code: Code | None = None
    drg_weight: Decimal | None = Field(default=None, gt=0, max_digits=8, decimal_places=4)
    dip_code: Code | None = None
    dip_score: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=4)
    resp_physician: DualChannelPhysician | None = None
    acct_used_flag: bool = False  # the person asks the personal account to pay
    acct_payer_psn_no: PsnNo | None = None  # 家庭共济: a family member's account pays
    acct_payer_relation: FamilyRelation | None = None
    items: tuple[ClaimItem, ...] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> Claim:
        if self.enddate < self.begndate:
            raise ValueError("enddate is before begndate")
        hospital = self.fixmedins_kind in (InstitutionKind.HOSPITAL, InstitutionKind.INTERNET_HOSPITAL)
        if hospital and self.fixmedins_level is None:
            raise ValueError("fixmedins_level is required for a hospital")
        if (self.acct_payer_psn_no is None) != (self.acct_payer_relation is None):
            raise ValueError("acct_payer_psn_no and acct_payer_relation go together")
        if self.drg_code is not None and self.drg_weight is None:
            raise ValueError("drg_weight is required with drg_code")
        if self.dip_code is not None and self.dip_score is None:
            raise ValueError("dip_score is required with dip_code")
        serials = [item.feedetl_sn for item in self.items]
        if len(set(serials)) != len(serials):
            raise ValueError("feedetl_sn must be unique within a claim")
        return self

    @property
    def idempotency_key(self) -> str:
        return f"{self.fixmedins_code}:{self.request_id}"


class Reversal(WireModel):
    """Cancel a settlement (2208 outpatient, 2305 inpatient, 2103 pharmacy)."""

    msg_type: Literal["reversal"] = "reversal"
    schema_version: Literal["claims.v1"] = "claims.v1"
    request_id: RequestId
    sent_at: AwareDatetime
    psn_no: PsnNo
    fixmedins_code: Code
    setl_id: Code  # the settlement to cancel
    reason: str = Field(default="", max_length=200)

    @property
    def idempotency_key(self) -> str:
        return f"{self.fixmedins_code}:{self.request_id}"


def visit_year(claim: Claim) -> int:
    """The policy year of a visit: the discharge / end date decides (a stay over New Year
    is settled under the year it ends in)."""
    return claim.enddate.year


def settlement_date(claim: Claim) -> date:
    return claim.enddate


__all__ = ["Claim", "ClaimItem", "Diagnosis", "DualChannelPhysician", "Reversal", "datetime"]
