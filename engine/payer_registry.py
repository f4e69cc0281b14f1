"""The payer's registries: designated institutions (1201 定点医药机构 and the agency's own
designations) and the physicians "三定" names (docs/policies.md, "Payer data").

What an institution *is* — hospital or pharmacy, its level, its county, whether it is a
dual-channel or internet hospital, how its stays are paid (DRG, DIP or item by item) — is the
payer's record on the visit's day, never the institution's word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from contracts.codes import InstitutionKind, PhysicianTitle
from engine.dated import DatedIndex


class PaymentMethod(StrEnum):
    """How the fund pays an institution for its inpatient cases (a payment method, not a med_type)."""

    DRG = "drg"
    DIP = "dip"
    ITEM = "item"  # 按项目


class InstitutionType(StrEnum):
    """1201 fixmedins_type."""

    MEDICAL = "1"  # 定点医疗机构
    PHARMACY = "2"  # 定点零售药店


@dataclass(frozen=True)
class Institution:
    fixmedins_code: str
    fixmedins_name: str
    fixmedins_type: InstitutionType
    hosp_lv: int | None  # 1/2/3 for hospitals; None for pharmacies and unranked clinics
    primary_care: bool  # 基层医疗机构
    admdvs: str  # the county (or city district) it belongs to
    dual_channel: bool  # designated for negotiated drugs (双通道, 004)
    internet_hospital: bool
    inpatient_paymtd: PaymentMethod
    begndate: date
    enddate: date

    @property
    def kind(self) -> InstitutionKind:
        if self.fixmedins_type is InstitutionType.PHARMACY:
            return InstitutionKind.DUAL_CHANNEL_PHARMACY if self.dual_channel else InstitutionKind.RETAIL_PHARMACY
        if self.primary_care:
            return InstitutionKind.PRIMARY_CARE
        return InstitutionKind.INTERNET_HOSPITAL if self.internet_hospital else InstitutionKind.HOSPITAL

    @property
    def level_key(self) -> str:
        """The policy tables' level key: "primary", "1"/"2"/"3", "pharmacy"."""
        if self.fixmedins_type is InstitutionType.PHARMACY:
            return "pharmacy"
        if self.primary_care or self.hosp_lv is None:
            return "primary"
        return str(self.hosp_lv)


@dataclass(frozen=True)
class Physician:
    """A physician the payer knows ("三定": 定责任医师, 004)."""

    dr_code: str
    fixmedins_code: str  # where the physician practises
    dr_title: PhysicianTitle
    dual_channel_resp: bool  # designated responsible physician for negotiated drugs
    begndate: date
    enddate: date


@dataclass(frozen=True)
class Registry:
    institutions: DatedIndex[Institution] = field(default_factory=DatedIndex)
    physicians: DatedIndex[Physician] = field(default_factory=DatedIndex)

    def institution(self, fixmedins_code: str, day: date) -> Institution | None:
        return self.institutions.on(fixmedins_code, day)

    def physician(self, dr_code: str, day: date) -> Physician | None:
        return self.physicians.on(dr_code, day)
