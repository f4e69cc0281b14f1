"""enrolments.v1 — the facts about a person the rules need, sent by the enrolment system.

One ``Enrolment`` per person and year (a later one for the same person-year replaces the
earlier facts); ``AccountCredit`` once a month for staff personal accounts.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.claims import Code, PsnNo, RequestId
from contracts.codes import STAFF_PERSON_TYPES, AidCategory, FamilyRelation, Insutype, PersonType
from contracts.money import Yuan
from contracts.wire import WireModel


class PriorCover(WireModel):
    """Cover the person left just before joining residents' insurance (001)."""

    left_scheme: Literal["staff", "army", "prison"]
    left_on: date  # last day of the earlier cover


class FamilyMember(WireModel):
    """A relative whose care this person's account may pay (家庭共济, 003)."""

    psn_no: PsnNo
    relation: FamilyRelation


class Enrolment(WireModel):
    msg_type: Literal["enrolment"] = "enrolment"
    schema_version: Literal["enrolments.v1"] = "enrolments.v1"
    request_id: RequestId
    sent_at: AwareDatetime
    psn_no: PsnNo
    psn_name: str = Field(default="", max_length=50)
    insutype: Insutype
    psn_type: PersonType
    insuplc_admdvs: Code  # pooling region (admin division code) whose policy applies
    year: int = Field(ge=2000, le=2100)
    enrol_date: date  # the day contributions for this year were paid / cover was registered
    # residents: paid inside 集中缴费期 (1 Sep – 31 Dec before the cover year). Derived from
    # enrol_date when omitted; when given it must agree with enrol_date (a contradiction is refused).
    in_collection_period: bool | None = None
    migrant_worker: bool = False  # 外出务工: may pay until end of February (001)
    continuous_years: int = Field(default=1, ge=0, le=100)  # consecutive insured years incl. this
    break_years: int = Field(default=0, ge=0, le=100)  # years of the latest break in cover
    paid_back_years: int = Field(default=0, ge=0, le=100)  # break years repaired by back-payment
    first_enrolment: bool = False  # flexible-employment staff: first time insured
    zero_claim_years: int = Field(default=0, ge=0, le=100)  # accumulated 零报销 years not yet reset
    rejoined_after_break: bool = False  # residents: re-enrolled after a break (−5,000 major-illness cap)
    birth_date: date | None = None
    aid_category: AidCategory | None = None
    veteran_resettled: bool = False  # 当年接收安置的退役军人及随迁家属: no waiting period
    prior_cover: PriorCover | None = None
    registered_diseases: tuple[Code, ...] = Field(default=(), max_length=50)  # 门诊慢特病 / 两病 认定
    family_members: tuple[FamilyMember, ...] = Field(default=(), max_length=20)
    acct_opening_balance: Yuan = Field(default=0, ge=0)  # personal account carried from last year
    contribution_base: Yuan | None = Field(default=None, ge=0)  # in-service staff: monthly base

    @model_validator(mode="after")
    def _coherent(self) -> Enrolment:
        staff = self.insutype is Insutype.STAFF
        if staff != (self.psn_type in STAFF_PERSON_TYPES):
            raise ValueError(f"psn_type {self.psn_type.value} does not belong to insutype {self.insutype.value}")
        if self.psn_type is PersonType.NEWBORN and self.birth_date is None:
            raise ValueError("birth_date is required for a newborn")
        if self.psn_type is PersonType.IN_SERVICE and self.contribution_base is None:
            raise ValueError("contribution_base is required for in-service staff")
        if not staff and self.acct_opening_balance:
            raise ValueError("only staff insurance has a personal account")
        return self

    @property
    def idempotency_key(self) -> str:
        return f"enrolment:{self.request_id}"


class AccountCredit(WireModel):
    """Credit one month to a staff personal account (amount from the policy, 003)."""

    msg_type: Literal["account_credit"] = "account_credit"
    schema_version: Literal["enrolments.v1"] = "enrolments.v1"
    request_id: RequestId
    sent_at: AwareDatetime
    psn_no: PsnNo
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)

    @property
    def idempotency_key(self) -> str:
        return f"account_credit:{self.request_id}"
