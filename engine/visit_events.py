"""A visit's own stream (``visit/<mdtrt_id>``): each step of the national flow as a fact.

The national interface settles a visit in steps — registration (2201 / 2401, or a pharmacy
purchase 2102), visit information (2203), fee lines uploaded (2204 / 2301) or withdrawn
(2205 / 2302), discharge (2402), settlement (2207 / 2304 / 2102), reversal (2208 / 2305 / 2103)
— and the platform issues the visit id (``mdtrt_id``). Each step is recorded here, so a
settlement is auditable down to the fee lines it settled: ``VisitSettled`` names them, and
the money is in the person-year stream's ``ClaimSettled`` of the same ``setl_id``, appended in
the same commit (docs/adr/0004-event-schema.md for how events are written and read).

No personal names or certificate numbers are recorded (the rules never read them); every fact
names the national message that caused it (``infno`` + ``msgid``), so the hospital's own copy
of the message can be matched to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Source:
    """The national message a fact comes from."""

    infno: str  # the transaction, e.g. "2204"
    msgid: str  # the sender's message id (the idempotency key with fixmedins_code)


@dataclass(frozen=True)
class VisitDiagnosis:
    diag_type: str  # 1 西医, 2 中医主病, 3 中医主证
    diag_code: str
    maindiag_flag: bool


@dataclass(frozen=True)
class DeclaredTerms:
    """What the hospital said of a line's catalogue class, ratio, cap and flag (recorded and
    compared, never used for money); None where it said nothing (hsa-his sends "")."""

    chrgitm_lv: str | None
    selfpay_prop: Decimal | None
    pric_uplmt_amt: Decimal | None  # yuan per unit, as sent
    hi_nego_drug_flag: bool | None


@dataclass(frozen=True)
class LinePricing:
    """How the payer's catalogue priced a line on the day (the 2204/2301 answer row), in fen."""

    chrgitm_lv: str  # 01 甲 / 02 乙 / 03 丙 (a code not in the catalogue: 03, 全自费)
    med_chrgitm_type: str
    selfpay_prop: Decimal
    pric_uplmt_amt: Decimal | None  # yuan per unit (1318 caps may have more than two places)
    hi_nego_drug_flag: bool
    lmt_used_flag: bool
    fulamt_ownpay_amt: int
    overlmt_amt: int
    preselfpay_amt: int
    inscp_scp_amt: int
    memo: str  # why, in a few words (e.g. "not in the catalogue")
    disagreements: tuple[str, ...]  # what the hospital declared differently, one sentence each


@dataclass(frozen=True)
class FeeLine:
    feedetl_sn: str  # the hospital's line id, echoed as received (text)
    init_feedetl_sn: str | None  # a refund line names the line it refunds
    chrg_bchno: str  # the batch a settlement names ("" for inpatient lines)
    med_list_codg: str  # national catalogue code
    medins_list_codg: str  # the hospital's own code
    fee_ocur_time: datetime
    pric: Decimal  # unit price in yuan, as sent (up to 6 places)
    cnt: Decimal  # negative on a refund line
    det_item_fee_sumamt: int  # fen
    hosp_appr_flag: str
    declared: DeclaredTerms
    priced: LinePricing


@dataclass(frozen=True)
class VisitRegistered:
    mdtrt_id: str
    psn_no: str
    insutype: str
    fixmedins_code: str
    setting: str  # "outpatient" (2201), "inpatient" (2401) or "pharmacy" (2102)
    med_type: str | None  # 2201 carries none; 2203 or the settlement says it
    begntime: datetime  # China time, as the hospital sent it
    ipt_otp_no: str  # the hospital's own visit number
    diagnoses: tuple[VisitDiagnosis, ...]
    source: Source


@dataclass(frozen=True)
class VisitInfoRecorded:
    med_type: str
    diagnoses: tuple[VisitDiagnosis, ...]
    dise_codg: str | None  # the registered chronic disease this visit treats
    source: Source


@dataclass(frozen=True)
class FeesUploaded:
    lines: tuple[FeeLine, ...]
    source: Source


@dataclass(frozen=True)
class FeesWithdrawn:
    feedetl_sns: tuple[str, ...]  # every line named, also when the hospital sent "0000" (all)
    source: Source


@dataclass(frozen=True)
class VisitDischarged:
    endtime: datetime
    dscg_way: str
    diagnoses: tuple[VisitDiagnosis, ...]
    source: Source


@dataclass(frozen=True)
class VisitSettled:
    """The visit settled: which lines, for how much, and where the money is recorded (the
    ``ClaimSettled`` of ``setl_id`` in the person-year stream ``<psn_no>/<year>``)."""

    setl_id: str
    psn_no: str
    year: int
    med_type: str
    feedetl_sns: tuple[str, ...]
    medfee_sumamt: int  # fen, the sum of those lines
    source: Source


@dataclass(frozen=True)
class VisitSettlementReversed:
    setl_id: str  # the reversal's own id
    reversed_setl_id: str
    source: Source


@dataclass(frozen=True)
class VisitCancelled:
    """Registration withdrawn (2202, or 2601 of a 2201 / 2401): nothing more may be recorded."""

    source: Source


VisitEvent = (
    VisitRegistered
    | VisitInfoRecorded
    | FeesUploaded
    | FeesWithdrawn
    | VisitDischarged
    | VisitSettled
    | VisitSettlementReversed
    | VisitCancelled
)
VISIT_STREAM_PREFIX = "visit/"


def visit_stream_id(mdtrt_id: str) -> str:
    return VISIT_STREAM_PREFIX + mdtrt_id
