"""The visit the engine prices: the facts of one episode of care, in the national platform's
field names and codes (settlement transactions 2206/2207, 2303/2304, 2101/2102; the 结算清单's
diagnoses and procedures).

This is the engine's own input, not a wire message: the shell converts each message that asks
for a settlement (claims.v2, or the national interface's messages) into a ``Visit``, and the
ledger records it as priced. It holds what the institution *sent* — national codes as sent
(``med_type``, ``insutype``), each fee line's national code, price and count, and what the
institution claimed of class, ratio, cap and negotiated flag (``declared``) — never what the
payer decides: the catalogue terms, the institution's kind and level and the case-mix weights
come from the payer's data on the visit's day (docs/adr/0006-payer-data-and-national-codes.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contracts.codes import ChargeLevel, ExcludedCategory, FamilyRelation, PhysicianTitle

_NOTHING: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class DeclaredTerms:
    """What the institution said of a line's catalogue terms: recorded and compared with the
    payer's catalogue, never used for money (None: not sent)."""

    chrgitm_lv: ChargeLevel | None = None
    selfpay_prop: Decimal | None = None
    pric_uplmt_amt: Decimal | None = None  # yuan per unit
    hi_nego_drug_flag: bool | None = None


NOTHING_DECLARED = DeclaredTerms()


@dataclass(frozen=True)
class VisitItem:
    """One line of the fee list (费用明细). ``cnt`` and the amount are negative on a refund line,
    which names the line it refunds in ``init_feedetl_sn``."""

    feedetl_sn: str
    hilist_code: str  # med_list_codg: the national catalogue code
    medins_list_codg: str  # the institution's own code of the item ("" if not sent)
    hilist_name: str
    pric: Decimal  # unit price, yuan, up to 6 decimals
    cnt: Decimal  # quantity, up to 4 decimals
    det_item_fee_sumamt: int  # fen: pric × cnt rounded half up
    init_feedetl_sn: str | None  # the original line of a refund line
    excluded_category: ExcludedCategory | None  # an expense no fund pays, as the institution flags it
    declared: DeclaredTerms = NOTHING_DECLARED
    extra: Mapping[str, Any] = field(default_factory=lambda: _NOTHING)  # national fields not used

    @property
    def refund(self) -> bool:
        return self.init_feedetl_sn is not None


@dataclass(frozen=True)
class Diagnosis:
    diag_code: str  # ICD-10 national edition
    maindiag_flag: bool
    diag_type: str = "1"  # 1 西医, 2 中医主病, 3 中医主证 ("" when not recorded, e.g. upcast events)


@dataclass(frozen=True)
class Procedure:
    oprn_oprt_code: str  # ICD-9-CM-3 national edition
    main: bool  # oprn_oprt_type 1: the main procedure


@dataclass(frozen=True)
class Prescriber:
    """责任医师 of a negotiated-drug prescription; who they are is the payer's registry."""

    dr_code: str
    declared_title: PhysicianTitle | None = None  # as the institution said (recorded only)


@dataclass(frozen=True)
class Visit:
    psn_no: str
    insutype: str  # national insutype code, as sent (310, 390, …)
    mdtrt_id: str  # 就诊ID
    fixmedins_code: str
    med_type: str  # national (or the region's local) med_type code, as sent
    begndate: date
    enddate: date
    diagnoses: tuple[Diagnosis, ...]
    procedures: tuple[Procedure, ...]
    dise_codg: str | None  # the registered chronic / "两病" disease this visit treats
    extn_rx_flag: bool  # pharmacy purchase on a designated hospital's prescription
    drg_code: str | None  # the institution's DRG group (recorded; the weight is the payer's)
    dip_code: str | None  # the institution's DIP group (recorded; the fund groups the case)
    resp_physician: Prescriber | None
    acct_used_flag: bool
    acct_payer_psn_no: str | None  # 家庭共济: a relative's account pays
    acct_payer_relation: FamilyRelation | None
    items: tuple[VisitItem, ...]
    gend: str | None = None  # the patient's national gend (1 male, 2 female), for restrictions
    brdy: date | None = None  # the patient's birth date, when the enrolment does not give one
    # 就医地医保区划 as sent (the national envelope's mdtrtarea_admvs); None: the insured region
    # (engine/out_of_region.py)
    mdtrtarea_admvs: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _NOTHING)  # national fields not used

    @property
    def year(self) -> int:
        """The policy year: the end (discharge) date decides, so a stay over New Year is
        settled under the year it ends in."""
        return self.enddate.year

    @property
    def main_diagnosis(self) -> str | None:
        return next((d.diag_code for d in self.diagnoses if d.maindiag_flag), None)

    @property
    def main_procedure(self) -> str | None:
        return next((p.oprn_oprt_code for p in self.procedures if p.main), None)
