"""The visit the engine prices: the facts of one episode of care, in fen, in the national
platform's field names (settlement transactions 2206/2207, 2303/2304, 2101/2102).

This is the engine's own input, not a wire message: the shell converts each message that
asks for a settlement (claims.v1 today; the national interface's messages or a claims.v2
tomorrow) into a ``Visit``, and the ledger records the ``Visit`` as priced. The catalogue
terms of an item (``chrgitm_lv``, ``selfpay_prop``, ``pric_uplmt_amt``) are what the
institution declared; the item-pricing stage takes them as an input it is given
(engine.items.CatalogueTerms), so that the payer's own catalogue can replace them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contracts.codes import (
    INPATIENT_MED_TYPES,
    ChargeLevel,
    ExcludedCategory,
    FamilyRelation,
    HospitalLevel,
    InstitutionKind,
    Insutype,
    MedType,
    PhysicianTitle,
)


@dataclass(frozen=True)
class VisitItem:
    """One line of the fee list (费用明细); amounts in fen."""

    feedetl_sn: str
    hilist_code: str  # national catalogue code
    hilist_name: str
    chrgitm_lv: ChargeLevel  # as declared by the institution
    selfpay_prop: Decimal  # 先行自付比例, as declared
    pric: int
    cnt: Decimal
    det_item_fee_sumamt: int
    pric_uplmt_amt: int | None  # the catalogue unit price cap, as declared
    hi_nego_drug_flag: bool  # 国家谈判药品 (dual channel)
    excluded_category: ExcludedCategory | None  # an expense no fund pays


@dataclass(frozen=True)
class Diagnosis:
    diag_code: str  # ICD-10 national edition
    maindiag_flag: bool


@dataclass(frozen=True)
class Prescriber:
    """责任医师 of a negotiated-drug prescription ("三定": attending or above)."""

    dr_code: str
    dr_title: PhysicianTitle


@dataclass(frozen=True)
class Visit:
    psn_no: str
    insutype: Insutype
    mdtrt_id: str  # 就诊ID
    fixmedins_code: str
    fixmedins_kind: InstitutionKind
    fixmedins_level: HospitalLevel | None
    dual_channel_designated: bool
    med_type: MedType
    begndate: date
    enddate: date
    diagnoses: tuple[Diagnosis, ...]
    dise_codg: str | None  # the registered chronic / "两病" disease this visit treats
    extn_rx_flag: bool  # pharmacy purchase on a designated hospital's prescription
    drg_code: str | None
    drg_weight: Decimal | None
    dip_code: str | None
    dip_score: Decimal | None
    resp_physician: Prescriber | None
    acct_used_flag: bool
    acct_payer_psn_no: str | None  # 家庭共济: a relative's account pays
    acct_payer_relation: FamilyRelation | None
    items: tuple[VisitItem, ...]

    @property
    def year(self) -> int:
        """The policy year: the end (discharge) date decides, so a stay over New Year is
        settled under the year it ends in."""
        return self.enddate.year

    @property
    def inpatient(self) -> bool:
        return self.med_type in INPATIENT_MED_TYPES
