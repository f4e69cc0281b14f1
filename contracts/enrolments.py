"""enrolments.v2 — the facts about a person the rules need, sent by the **enrolment system** (the
agency's register of the insured, 参保登记), never by a hospital system.

One ``Enrolment`` per person and year (a later one for the same person-year replaces the
earlier facts); ``AccountCredit`` once a month for staff personal accounts. ``insutype`` and
``psn_type`` are national codes (policies/codes/), mapped to the engine's schemes and person
types by the region's policy; the same facts as enrolments.v1 otherwise.

``enrol_date`` is **not** the national ``psn_insu_date``: the first is the day this year's
contribution was paid or cover registered, which decides the waiting period; the second is the
day the person first joined the scheme, often years ago (docs/integrating.md, "Enrolments").
enrolments.v1 is recognised only to be refused (docs/integrating.md#migrating-from-v1).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.claims import Admdvs, Code, Optional, PsnNo, RequestId, SetCode
from contracts.codes import AidCategory, FamilyRelation
from contracts.money import Yuan
from contracts.national import Flag, NationalDay, NationalTime, TolerantModel

V1 = "enrolments.v1"
V2 = "enrolments.v2"


class PriorCover(TolerantModel):
    """Cover the person left just before joining residents' insurance (001)."""

    left_scheme: Literal["staff", "army", "prison"]
    left_on: NationalDay  # last day of the earlier cover


class FamilyMember(TolerantModel):
    """A relative whose care this person's account may pay (家庭共济, 003)."""

    psn_no: PsnNo
    relation: FamilyRelation


class OutOfRegionFiling(TolerantModel):
    """异地就医备案 recorded by the insured region's agency: care in ``mdtrtarea_admvs`` (a county, a
    city xxxx00 or a province xx0000, holding the places under it) from ``begndate`` until
    ``enddate`` (open when not given). A claim carries no filing; the agency's record decides."""

    filing_type: Literal["resident", "referral", "temporary"] = Field(
        description="resident: 异地长期居住 (异地安置退休、常驻异地工作); referral: 转诊转院; "
        "temporary: 临时外出就医 (docs/integrating.md, enrolment)."
    )
    mdtrtarea_admvs: Admdvs  # 就医地 filed for
    begndate: NationalDay
    enddate: Annotated[NationalDay | None, Optional] = None

    @model_validator(mode="after")
    def _ordered(self) -> OutOfRegionFiling:
        if self.enddate is not None and self.enddate < self.begndate:
            raise ValueError("enddate is before begndate")
        return self


class Enrolment(TolerantModel):
    msg_type: Literal["enrolment"] = "enrolment"
    schema_version: Literal["enrolments.v2"]
    request_id: RequestId
    sent_at: NationalTime
    psn_no: PsnNo
    psn_name: str = Field(default="", max_length=50)
    insutype: SetCode = Field(description="National insutype code (310 staff, 390 residents, …).")
    psn_type: SetCode = Field(
        description="National psn_type code (1101 在职, 1201 退休, 1401 新生儿, 1501 普通居民 …), "
        "mapped to the engine's person type by the region's policy ([codes.psn_type])."
    )
    insuplc_admdvs: Code  # pooling region (admin division code) whose policy applies
    year: int = Field(ge=2000, le=2100)
    enrol_date: NationalDay = Field(
        description="The day this year's contribution was paid / cover registered; decides the waiting period. "
        "NOT psn_insu_date (the day the person first joined the scheme, years ago for most people)."
    )
    psn_insu_date: Annotated[NationalDay | None, Optional] = Field(
        default=None,
        description="个人参保日期 as the national platform keeps it: the first day ever insured. Accepted and "
        "never used: it is not enrol_date.",
    )
    # residents: paid inside 集中缴费期 (1 Sep – 31 Dec before the cover year). Derived from
    # enrol_date when omitted; when given it must agree with enrol_date (a contradiction is refused).
    in_collection_period: Annotated[Flag | None, Optional] = None
    migrant_worker: Flag = False  # 外出务工
    continuous_years: int = Field(default=1, ge=0, le=100)  # consecutive insured years incl. this
    break_years: int = Field(default=0, ge=0, le=100)  # years of the latest break in cover
    paid_back_years: int = Field(default=0, ge=0, le=100)  # break years repaired by back-payment
    first_enrolment: Flag = False  # flexible-employment staff: first time insured
    zero_claim_years: int = Field(default=0, ge=0, le=100)  # accumulated 零报销 years not yet reset
    rejoined_after_break: Flag = False  # residents: re-enrolled after a break (−5,000 major-illness cap)
    birth_date: Annotated[NationalDay | None, Optional] = None
    aid_category: Annotated[AidCategory | None, Optional] = None
    veteran_resettled: Flag = False  # 当年接收安置的退役军人及随迁家属: no waiting period
    prior_cover: PriorCover | None = None
    registered_diseases: tuple[Code, ...] = Field(default=(), max_length=50)  # 门诊慢特病 认定 (两病: by diagnosis)
    family_members: tuple[FamilyMember, ...] = Field(default=(), max_length=20)
    out_of_region_filings: tuple[OutOfRegionFiling, ...] = Field(default=(), max_length=20)  # 异地就医备案
    acct_opening_balance: Yuan = Field(default=0, ge=0)  # personal account carried from last year
    contribution_base: Annotated[Yuan | None, Optional] = Field(default=None, ge=0)  # in-service staff: monthly

    @property
    def idempotency_key(self) -> str:
        return f"enrolment:{self.request_id}"


class AccountCredit(TolerantModel):
    """Credit one month to a staff personal account (amount from the policy, 003)."""

    msg_type: Literal["account_credit"] = "account_credit"
    schema_version: Literal["enrolments.v2"]
    request_id: RequestId
    sent_at: NationalTime
    psn_no: PsnNo
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)

    @property
    def idempotency_key(self) -> str:
        return f"account_credit:{self.request_id}"


class Contribution(TolerantModel):
    """A contribution paid (筹资): a resident's for the year, or a staff member's for a month.

    Sent by the enrolment system (fed by the tax bureau's collection), after the person-year's
    enrolment. ``insutype`` is the national code of the scheme paid into; mapped by the region's
    policy ([codes.insutype]) it must be the scheme the person is enrolled in. Checked against the
    policy's [contributions] and the enrolment: a resident's individual + aid_subsidy is the
    individual standard (001: 380 in Anhui 2024), aid_subsidy within the share of the person's aid
    category (001 3), back_payment the years the enrolment repairs at this year's standard
    (000 五); a staff member's employer part goes to the pooled fund, the employee's to the
    accounts (003 二), large_amount once a year (002)."""

    msg_type: Literal["contribution"] = "contribution"
    schema_version: Literal["enrolments.v2"]
    request_id: RequestId
    sent_at: NationalTime
    psn_no: PsnNo
    insutype: SetCode = Field(description="National insutype code of the scheme paid into (310 staff, 390 residents).")
    year: int = Field(ge=2000, le=2100)
    month: Annotated[int | None, Optional] = Field(default=None, ge=1, le=12)  # staff: the month paid for
    individual: Yuan = Field(default=0, ge=0)  # residents: 个人缴费; staff: the employee's part
    aid_subsidy: Yuan = Field(default=0, ge=0)  # residents: 医疗救助基金资助 of the individual part
    back_payment: Yuan = Field(default=0, ge=0)  # residents: years of break repaired (000 五)
    employer: Yuan = Field(default=0, ge=0)  # staff: 单位缴费
    large_amount: Yuan = Field(default=0, ge=0)  # staff: 大额补充 individual yearly contribution (002)

    @property
    def idempotency_key(self) -> str:
        return f"contribution:{self.request_id}"
