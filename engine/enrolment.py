"""The enrolment facts of a person-year that the rules read (enrolments.v1 carries them).

A domain fact, recorded in ``PersonEnrolled``: it holds what eligibility, ratios, caps and
accounts depend on, in fen, and nothing of the message around it (no request id, no name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from contracts.codes import AidCategory, FamilyRelation, Insutype, PersonType


@dataclass(frozen=True)
class PriorCover:
    """Cover the person left just before joining residents' insurance (001)."""

    left_scheme: Literal["staff", "army", "prison"]
    left_on: date  # last day of the earlier cover


@dataclass(frozen=True)
class Relative:
    """A relative whose care this person's account may pay (家庭共济, 003)."""

    psn_no: str
    relation: FamilyRelation


FilingType = Literal["resident", "referral", "temporary"]


@dataclass(frozen=True)
class OutOfRegionFiling:
    """异地就医备案 as the insured region's agency records it: for care in ``mdtrtarea_admvs``
    (a county, a city xxxx00 or a province xx0000, holding the places under it) from
    ``begndate`` until ``enddate`` (None: open). ``resident``: 异地长期居住 (异地安置退休、常驻异地
    工作); ``referral``: 转诊转院; ``temporary``: 临时外出就医 (docs/domain.md#out-of-region)."""

    filing_type: FilingType
    mdtrtarea_admvs: str
    begndate: date
    enddate: date | None


@dataclass(frozen=True)
class EnrolmentFacts:
    psn_no: str
    insutype: Insutype
    psn_type: PersonType
    insuplc_admdvs: str  # pooling region whose policy applies
    year: int
    enrol_date: date
    in_collection_period: bool | None  # as stated; None: enrol_date decides
    migrant_worker: bool
    continuous_years: int
    break_years: int
    paid_back_years: int
    first_enrolment: bool
    zero_claim_years: int
    rejoined_after_break: bool
    birth_date: date | None
    aid_category: AidCategory | None
    veteran_resettled: bool
    prior_cover: PriorCover | None
    registered_diseases: tuple[str, ...]  # 门诊慢特病 认定 (the “两病” cover goes by diagnosis)
    family_members: tuple[Relative, ...]
    acct_opening_balance: int  # fen carried over from last year
    contribution_base: int | None  # fen a month (in-service staff)
    out_of_region_filings: tuple[OutOfRegionFiling, ...] = ()  # 异地就医备案 in force this year
