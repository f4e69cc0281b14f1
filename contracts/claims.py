"""claims.v2 — what a hospital or pharmacy sends: one self-contained visit to settle, or a reversal.

National names, types and code sets (settlement transactions 2206/2207, 2303/2304, 2101/2102,
fee lines as 2204/2301 carry them, diagnoses and procedures as the 结算清单 carries them;
reversals 2208, 2305, 2103). What the payer decides — the class, ratio, cap and negotiated flag
of an item, what kind and level an institution is, DRG weights and DIP scores — is **not** part
of a claim: the payer's catalogue and registry say it (docs/integrating.md). A fee line may
still carry the institution's ``chrgitm_lv``/``selfpay_prop``/``pric_uplmt_amt``/
``hi_nego_drug_flag``: they are recorded and compared, never used for money.

Strict on every field the service uses and on ids; tolerant of national fields it does not use
(kept with the visit as ``extra``, bounded). claims.v1 is recognised only to be refused
(``unsupported_schema_version``, docs/integrating.md#migrating-from-v1).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from contracts.codes import ChargeLevel, ExcludedCategory, FamilyRelation, PhysicianTitle
from contracts.money import Yuan
from contracts.national import (
    Flag,
    NationalDay,
    NationalRatio,
    NationalTime,
    Quantity,
    TolerantModel,
    UnitPrice,
    blank_is_none,
)

# Ids and codes become ledger keys, Kafka keys, stream names and log fields, so they are refused
# at the contract unless they are short runs of visible ASCII: no NUL, control or format
# characters, no blanks, no lone surrogates (docs/integrating.md, "Ids and codes").
PsnNo = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[0-9A-Za-z_-]+$")]
# A national code (catalogue, ICD-10, admin division, DRG/DIP group): printable ASCII, no space.
Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[!-~]+$")]
# The institution's code is half of every idempotency key ("fixmedins_code:request_id"), so it
# may not hold the ':' that separates the halves.
FixmedinsCode = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z._-]+$")]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._:-]+$")]
Ratio = NationalRatio
# An admin division code (医保区划): six digits, as the national envelope carries them.
Admdvs = Annotated[str, Field(pattern=r"^[0-9]{6}$")]


def _serial_text(value: Any) -> Any:
    """feedetl_sn as text: one hospital system counts its lines as JSON integers (Hunan)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Serial = Annotated[Code, BeforeValidator(_serial_text)]
# A national or regional code of a code set (policies/codes/): digits and letters, no meaning here.
SetCode = Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[0-9A-Za-z]+$")]
Optional = BeforeValidator(blank_is_none)

V1 = "claims.v1"
V2 = "claims.v2"


class FeeLine(TolerantModel):
    """One line of the fee list (费用明细, as 2204/2301 carry it)."""

    feedetl_sn: Serial  # the line's serial within the visit (text; an integer is read as its digits)
    init_feedetl_sn: Annotated[Serial | None, Optional] = None  # a refund line names the line it refunds
    med_list_codg: Code  # the national catalogue code (医保目录编码)
    medins_list_codg: Annotated[Code | None, Optional] = None  # the institution's own item code
    med_list_name: str = Field(default="", max_length=200)
    pric: UnitPrice  # unit price, yuan, up to 6 decimals
    cnt: Quantity  # quantity, up to 4 decimals; negative on a refund line
    det_item_fee_sumamt: Yuan  # line amount = pric × cnt rounded half up to the fen (negative on a refund)
    # What the institution believes of the item: recorded and compared with the payer's catalogue.
    chrgitm_lv: Annotated[ChargeLevel | None, Optional] = None
    selfpay_prop: Annotated[Ratio | None, Optional] = None
    pric_uplmt_amt: Annotated[UnitPrice | None, Optional] = None
    hi_nego_drug_flag: Annotated[Flag | None, Optional] = None
    excluded_category: Annotated[ExcludedCategory | None, Optional] = None  # an expense no fund pays

    @model_validator(mode="after")
    def _signs(self) -> FeeLine:
        if (self.cnt < 0) != (self.det_item_fee_sumamt < 0) and self.det_item_fee_sumamt != 0:
            raise ValueError("det_item_fee_sumamt and cnt must have the same sign")
        if (self.cnt < 0) != (self.init_feedetl_sn is not None):
            raise ValueError("a refund line has a negative cnt and names its original line in init_feedetl_sn")
        return self


class DiseInfo(TolerantModel):
    """A diagnosis (diseinfo of 2203/2401; diseinfo of the 结算清单)."""

    diag_type: SetCode = "1"  # 1 西医, 2 中医主病, 3 中医主证
    diag_code: Code  # ICD-10 national edition
    diag_name: str = Field(default="", max_length=200)
    maindiag_flag: Flag = False


class OprnInfo(TolerantModel):
    """A procedure (oprninfo of the 结算清单)."""

    oprn_oprt_type: Literal["1", "2"] = "2"  # 1 the main procedure, 2 another
    oprn_oprt_code: Code  # ICD-9-CM-3 national edition
    oprn_oprt_name: str = Field(default="", max_length=200)


class Physician(TolerantModel):
    """The responsible physician (责任医师) of a negotiated-drug prescription: who they are and
    their title are the payer's registry; a title sent here is recorded only."""

    dr_code: Code
    dr_name: str = Field(default="", max_length=50)
    dr_title: Annotated[PhysicianTitle | None, Optional] = None


class Claim(TolerantModel):
    """Settle (2207/2304/2102) or pre-settle (2206/2303/2101) one visit."""

    msg_type: Literal["claim"] = "claim"
    schema_version: Literal["claims.v2"]
    request_id: RequestId  # unique per sender; the idempotency key with fixmedins_code
    sent_at: NationalTime
    setl_mode: Literal["settle", "pre_settle"] = "settle"

    psn_no: PsnNo
    insutype: SetCode  # national insutype (310, 390, …), mapped by the region's policy
    mdtrt_id: Code  # the visit (就诊ID)
    fixmedins_code: FixmedinsCode
    fixmedins_name: str = Field(default="", max_length=200)
    med_type: SetCode  # national med_type (or the region's local code), mapped by the region's policy
    begntime: NationalDay  # 开始时间 (admission); the day is kept
    endtime: NationalDay  # 结束时间 (discharge); its year is the policy year
    diseinfo: tuple[DiseInfo, ...] = Field(default=(), max_length=50)
    oprninfo: tuple[OprnInfo, ...] = Field(default=(), max_length=50)
    dise_codg: Annotated[Code | None, Optional] = None  # the registered chronic / "两病" disease treated
    extn_rx_flag: Flag = False  # pharmacy purchase on a designated hospital's prescription (外配处方)
    drg_code: Annotated[Code | None, Optional] = None  # the institution's DRG group: recorded only
    dip_code: Annotated[Code | None, Optional] = None  # the institution's DIP group: recorded only
    resp_physician: Physician | None = None
    gend: Annotated[Literal["1", "2"] | None, Optional] = None  # the patient's national gend (restrictions)
    brdy: Annotated[NationalDay | None, Optional] = None  # the patient's birth date (restrictions)
    # 就医地医保区划: where the care took place (the national envelope's mdtrtarea_admvs, repeated in
    # 2303/2304). Outside the insured region's pool it is 异地就医: the insured region's policy, the
    # treating region's catalogue, the ratios of the person's filing (engine/out_of_region.py).
    # Not sent: the insured region (local care).
    mdtrtarea_admvs: Annotated[Admdvs | None, Optional] = None
    acct_used_flag: Flag = False  # the person asks the personal account to pay
    acct_payer_psn_no: Annotated[PsnNo | None, Optional] = None  # 家庭共济: a relative's account pays
    acct_payer_relation: Annotated[FamilyRelation | None, Optional] = None
    feedetail: tuple[FeeLine, ...] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> Claim:
        if self.endtime < self.begntime:
            raise ValueError("endtime is before begntime")
        if (self.acct_payer_psn_no is None) != (self.acct_payer_relation is None):
            raise ValueError("acct_payer_psn_no and acct_payer_relation go together")
        serials = [line.feedetl_sn for line in self.feedetail]
        if len(set(serials)) != len(serials):
            raise ValueError("feedetl_sn must be unique within a claim")
        if sum(1 for d in self.diseinfo if d.maindiag_flag) > 1:
            raise ValueError("at most one diagnosis has maindiag_flag 1")
        if sum(1 for o in self.oprninfo if o.oprn_oprt_type == "1") > 1:
            raise ValueError("at most one procedure has oprn_oprt_type 1 (the main one)")
        return self

    @property
    def idempotency_key(self) -> str:
        return f"{self.fixmedins_code}:{self.request_id}"


class Reversal(TolerantModel):
    """Cancel a settlement (2208 outpatient, 2305 inpatient, 2103 pharmacy)."""

    msg_type: Literal["reversal"] = "reversal"
    schema_version: Literal["claims.v2"]
    request_id: RequestId
    sent_at: NationalTime
    psn_no: PsnNo
    fixmedins_code: FixmedinsCode
    setl_id: Code  # the settlement to cancel
    mdtrt_id: Annotated[Code | None, Optional] = None  # 2208 carries it; recorded only
    reason: str = Field(default="", max_length=200)

    @property
    def idempotency_key(self) -> str:
        return f"{self.fixmedins_code}:{self.request_id}"


def visit_year(claim: Claim) -> int:
    """The policy year of a visit: the discharge / end day decides (a stay over New Year is
    settled under the year it ends in)."""
    return claim.endtime.year


__all__ = ["Claim", "DiseInfo", "FeeLine", "OprnInfo", "Physician", "Reversal"]
