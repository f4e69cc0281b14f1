"""A pooling region's policy for one scheme and year, as data (one TOML file each).

Every parameter of docs/domain.md (#pipeline to #case-payment) has a place here; the files under policies/ say,
key by key, which seed a number comes from and which numbers are assumptions.
Tables keyed by institution level or person type fall back to their "default" entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.codes import (
    AidCategory,
    ExcludedCategory,
    FamilyRelation,
    FundPayType,
    Insutype,
    PersonType,
    PhysicianTitle,
)
from contracts.money import Yuan
from engine.clearing.rules import CasePaymentRules, ClearingRules
from engine.errors import PolicyGap
from engine.national_codes import MedCategory

Ratio = Annotated[Decimal, Field(ge=0, le=1)]
Multiple = Annotated[Decimal, Field(gt=0, le=100)]
LEVEL_KEYS = ("primary", "1", "2", "3", "pharmacy")  # 基层, 一级, 二级, 三级, 药店
DEFAULT = "default"


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_keys(table: dict[str, object], allowed: set[str], what: str) -> None:
    unknown = set(table) - allowed - {DEFAULT}
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; use {sorted(allowed)} or {DEFAULT!r}")


class Benefit(Strict):
    """One benefit of the basic pooled fund (住院, 普通门诊, 门诊慢特病, 两病, 谈判药品门诊)."""

    # admission: each stay its own, by the stay's rank in the year; visit: each visit (按次) the
    # same amount; year: one amount a year, met across visits; none
    deductible_basis: Literal["admission", "visit", "year", "none"]
    # level → amounts; per admission the n-th amount applies to the n-th stay (the last repeats)
    deductible: dict[str, tuple[Yuan, ...]] = Field(default_factory=dict)
    ratio: dict[str, dict[str, Ratio]]  # person type → level → share the fund pays
    yearly_cap: Yuan | None = None  # its own smaller yearly limit, if any
    counts_in_annual_cap: bool = True  # spends the fund's shared 年度最高支付限额
    major_illness: bool = True  # its policy-range self-pay accumulates toward major illness
    medical_aid: bool = True  # medical aid applies to what is left

    @field_validator("deductible")
    @classmethod
    def _levels(cls, value: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        _check_keys(value, set(LEVEL_KEYS), "institution level")  # type: ignore[arg-type]
        if any(not amounts or min(amounts) < 0 for amounts in value.values()):
            raise ValueError("each deductible entry needs at least one amount, none negative")
        return value

    @field_validator("ratio")
    @classmethod
    def _persons(cls, value: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        _check_keys(value, {p.value for p in PersonType}, "person type")  # type: ignore[arg-type]
        for by_level in value.values():
            _check_keys(by_level, set(LEVEL_KEYS), "institution level")  # type: ignore[arg-type]
        return value

    @model_validator(mode="after")
    def _deductible_present(self) -> Benefit:
        if self.deductible_basis != "none" and not self.deductible:
            raise ValueError(f"deductible_basis is {self.deductible_basis!r} but no deductible is given")
        return self


class Benefits(Strict):
    inpatient: Benefit
    general_outpatient: Benefit | None = None
    chronic_outpatient: Benefit | None = None
    two_diseases: Benefit | None = None  # 高血压、糖尿病 "两病" outpatient drugs (000: 60%)
    dual_channel_outpatient: Benefit | None = None  # 谈判药品 in outpatient care (004)


class SpecialTreatment(Strict):
    """门诊特殊治疗 参照住院管理 (003 「可参照统筹地区住院政策进行管理」): which inpatient rules a special
    treatment takes besides the inpatient ratio. Each choice is the region's; the seeds give none."""

    # "chronic": the chronic benefit's yearly deductible; "inpatient_once_a_year": the deductible of
    # a first stay at the visit's level, met once a year by the person's chronic-outpatient care
    deductible: Literal["chronic", "inpatient_once_a_year"] = "chronic"
    # "chronic": the chronic benefit's own yearly cap too; "inpatient": only the fund's annual cap
    caps: Literal["chronic", "inpatient"] = "chronic"


class ChronicRules(Strict):
    diseases: dict[str, str] = Field(default_factory=dict)  # code → name of covered 慢特病
    inpatient_rule_diseases: tuple[str, ...] = ()  # 门诊特殊治疗 priced with inpatient ratios (003)
    special_treatment: SpecialTreatment = SpecialTreatment()


class DualChannelRules(Strict):
    """ "三定": 定医疗机构、定责任医师、定零售药店 (004)."""

    qualified_titles: tuple[PhysicianTitle, ...] = (
        PhysicianTitle.ATTENDING,
        PhysicianTitle.ASSOCIATE_CHIEF,
        PhysicianTitle.CHIEF,
    )
    require_designated_institution: bool = True
    # The lowest hospital level a designated dual-channel hospital may have (004: 二级及以上);
    # None: any level. Pharmacies have no level: their designation alone counts.
    min_hospital_level: int | None = Field(default=None, ge=1, le=3)
    # A negotiated drug outside "三定": "self_pay" (no fund pays it: 全自费, the project's reading
    # of 004), "ordinary_purchase" (priced like any other line of the visit), or "reject".
    undesignated: Literal["self_pay", "ordinary_purchase", "reject"] = "self_pay"


class Band(Strict):
    above: Yuan = Field(ge=0)  # accumulated qualifying self-pay above which this ratio applies
    ratio: Ratio


class Incentives(Strict):
    """Residents' major-illness incentives (000 四)."""

    continuous_years_before_reward: int = Field(ge=0)
    per_continuous_year: Yuan = Field(ge=0)
    per_zero_claim_year: Yuan = Field(ge=0)
    max_share_of_cap: Ratio
    rejoin_penalty: Yuan = Field(ge=0)


class HardshipTilt(Strict):
    """困难群众 in major illness: for 特困人员、低保对象、返贫致贫人口 the threshold halved, +5 points, no
    cap (national rule: 医保发〔2021〕19号, kept by 国办发〔2021〕42号; [000] 困难群众大病保险政策按相关规定执行)."""

    deductible_factor: Ratio = Decimal("0.5")  # the first band's threshold is multiplied by it
    ratio_bonus: Ratio = Decimal("0.05")  # added to every band's ratio (at most 1)
    cap_removed: bool = True


class MajorIllness(Strict):
    """居民大病保险 / 职工大额医疗费用补助 on the year's accumulated policy-range self-pay."""

    fund: FundPayType
    # What the bands work on: "self_pay" — the year's policy-range self-pay after the basic fund
    # (大病保险); "above_basic_cap" — the policy-range cost the basic fund could not pay because its
    # annual cap was spent (职工大额医疗费用补助 pays the part above the cap, by its own bands and cap).
    basis: Literal["self_pay", "above_basic_cap"] = "self_pay"
    bands: tuple[Band, ...] = Field(min_length=1)
    cap: Yuan = Field(ge=0)
    include_preselfpay: bool = False  # whether 先行自付 counts as qualifying self-pay
    incentives: Incentives | None = None
    hardship: dict[AidCategory, HardshipTilt] = Field(default_factory=dict)  # per aid category

    @field_validator("bands")
    @classmethod
    def _ascending(cls, bands: tuple[Band, ...]) -> tuple[Band, ...]:
        if any(b.above >= c.above for b, c in pairwise(bands)):
            raise ValueError("bands must be in ascending order of 'above'")
        return bands


class AidRule(Strict):
    """One aid category: a yearly deductible, then one ratio — or segments (分段, 002 优化分类分段救助政策):
    ``{ above, ratio }`` on the year's remaining compliant cost above the deductible."""

    deductible: Yuan = Field(ge=0)
    ratio: Ratio | None = None
    segments: tuple[Band, ...] = ()

    @model_validator(mode="after")
    def _one_way(self) -> AidRule:
        if (self.ratio is None) == (not self.segments):
            raise ValueError("give either ratio or segments")
        if any(b.above >= c.above for b, c in pairwise(self.segments)):
            raise ValueError("segments must be in ascending order of 'above'")
        return self


class IllnessPovertyRule(Strict):
    """因病返贫致贫 (004): qualifies once the year's remaining compliant cost reaches threshold."""

    threshold: Yuan = Field(ge=0)
    deductible: Yuan = Field(ge=0)
    ratio: Ratio
    yearly_cap: Yuan = Field(ge=0)


class MedicalAid(Strict):
    fund: FundPayType = FundPayType.MEDICAL_AID
    shared_yearly_cap: Yuan = Field(ge=0)  # outpatient chronic + inpatient share it (004)
    categories: dict[AidCategory, AidRule]
    impoverished_by_illness: IllnessPovertyRule | None = None

    @field_validator("categories")
    @classmethod
    def _not_ibi(cls, value: dict[AidCategory, AidRule]) -> dict[AidCategory, AidRule]:
        if AidCategory.IMPOVERISHED_BY_ILLNESS in value:
            raise ValueError("impoverished_by_illness has its own table [medical_aid.impoverished_by_illness]")
        return value


class PersonalAccount(Strict):
    """职工个人账户 (003)."""

    in_service_rate: Ratio  # share of the person's monthly contribution base credited
    retired_monthly: Yuan = Field(ge=0)  # fixed monthly credit for retirees
    flexible_rate: Ratio = Decimal(0)  # flexible-employment staff, share of their base
    # 配偶、父母、子女 (003, the national 14号 design); a region that allows 近亲属 (000) lists them
    family_relations: tuple[FamilyRelation, ...] = (FamilyRelation.SPOUSE, FamilyRelation.PARENT, FamilyRelation.CHILD)
    excluded_categories: tuple[ExcludedCategory, ...] = tuple(ExcludedCategory)


def _month_day(value: tuple[int, int] | None, what: str) -> None:
    if value is not None and not (1 <= value[0] <= 12 and 1 <= value[1] <= 31):
        raise ValueError(f"{what} must be [month, day] with month 1-12 and day 1-31, got {list(value)}")


class Waiting(Strict):
    """Enrolment and waiting-period rules (000 五, 001 2 and 8)."""

    collection_start: tuple[int, int] = (9, 1)  # month, day in the year before cover
    # In the cover year, until when migrant workers still count as on time; None (the default):
    # no extension. Only a region's own document gives one (001: Anhui, for its 2024 cover year).
    migrant_deadline: tuple[int, int] | None = None
    fixed_months: int = Field(default=3, ge=0)
    variable_months_per_break_year: int = Field(default=1, ge=0)
    long_break_years: int = Field(default=4, ge=1)
    long_break_min_months: int = Field(default=6, ge=0)
    flexible_staff_months: int = Field(default=6, ge=0)
    rejoin_grace_months: int = Field(default=3, ge=0)
    rejoin_late_wait_months: int = Field(default=3, ge=0)
    newborn_grace_days: int = Field(default=90, ge=0)

    @model_validator(mode="after")
    def _dates_exist(self) -> Waiting:
        _month_day(self.collection_start, "collection_start")
        _month_day(self.migrant_deadline, "migrant_deadline")
        return self


class SubsidyBound(Strict):
    """A share of the individual standard the medical-aid fund pays for an aid category (001 3)."""

    low: Ratio
    high: Ratio

    @model_validator(mode="after")
    def _ordered(self) -> SubsidyBound:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class Contributions(Strict):
    """筹资: what a person's contribution is and brings to the fund books (docs/domain.md#fund-books)."""

    individual: Yuan | None = None  # residents: 个人缴费标准, a person a year (001: 380)
    fiscal_subsidy: Yuan | None = None  # residents: 人均财政补助, booked with each contribution (001: ≥ 640)
    aid_subsidy: dict[AidCategory, SubsidyBound] = Field(default_factory=dict)  # 分类资助 (001 3)
    major_illness_per_person: Yuan | None = None  # residents: moved from 390100 to 390200 per person
    large_amount_yearly: Yuan | None = None  # staff: 大额 individual yearly contribution (002)


class OutOfRegion(Strict):
    """异地就医 (engine/out_of_region.py): how the insured region's ratios change for care elsewhere."""

    same_pool_is_local: bool = True  # care anywhere inside the pool is local (002)
    students_as_local: bool = False  # students paid as local where they study (001 8)
    ratio_reduction_temporary: Ratio = Decimal("0.10")  # 临时外出就医 (医保发〔2022〕22号: at most 10 points)
    ratio_reduction_unfiled: Ratio = Decimal("0.20")  # 未备案: the region's choice


NationalCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,8}$")]


class CodeMaps(Strict):
    """The region's mapping of national (and its own local) codes to the engine's categories
    (docs/policies.md, "National codes"). A code absent here is refused with a sentence."""

    med_type: dict[NationalCode, MedCategory] = Field(default_factory=dict)
    psn_type: dict[NationalCode, PersonType] = Field(default_factory=dict)
    insutype: dict[NationalCode, Insutype] = Field(default_factory=dict)


class PayerDataRef(Strict):
    """Where the payer's catalogue and registries are, relative to the policy file's folder."""

    dir: str = Field(min_length=1, pattern=r"^[0-9A-Za-z_./-]+$")

    @field_validator("dir")
    @classmethod
    def _inside(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("dir must be a folder inside the policies folder (no '/' at the start, no '..')")
        return value


class PolicyMeta(Strict):
    id: str = Field(min_length=1)
    region: str = Field(pattern=r"^[0-9]{6}$")  # admin division code of the pooling region
    region_name: str
    scheme: Insutype
    year: int = Field(ge=2000, le=2100)
    version: int = Field(ge=1)
    effective_from: date
    effective_to: date
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _dates(self) -> PolicyMeta:
        if not (self.effective_from <= self.effective_to and self.effective_from.year == self.year):
            raise ValueError("effective_from ≤ effective_to, starting in the policy year")
        return self


class Policy(Strict):
    policy: PolicyMeta
    annual_cap: Yuan = Field(ge=0)  # basic pooled fund 年度最高支付限额, shared by benefits
    deductible_yearly_cap: Yuan | None = None  # some regions cap the year's deductibles
    benefits: Benefits
    chronic: ChronicRules = ChronicRules()
    two_diseases: dict[str, str] = Field(default_factory=dict)  # disease code → name
    dual_channel: DualChannelRules = DualChannelRules()
    major_illness: MajorIllness
    medical_aid: MedicalAid | None = None
    personal_account: PersonalAccount | None = None
    waiting: Waiting = Waiting()
    excluded_categories: tuple[ExcludedCategory, ...] = tuple(ExcludedCategory)
    case_payment: CasePaymentRules = CasePaymentRules()  # docs/clearing.md#parameters
    clearing: ClearingRules = ClearingRules()
    codes: CodeMaps = CodeMaps()
    payer_data: PayerDataRef | None = None
    contributions: Contributions | None = None
    out_of_region: OutOfRegion = OutOfRegion()

    @model_validator(mode="after")
    def _scheme_rules(self) -> Policy:
        staff = self.policy.scheme is Insutype.STAFF
        if staff and self.personal_account is None:
            raise ValueError("a staff policy needs [personal_account]")
        if not staff and self.personal_account is not None:
            raise ValueError("residents' insurance has no personal account")
        expected = FundPayType.STAFF_LARGE_AMOUNT if staff else FundPayType.RESIDENT_MAJOR_ILLNESS
        if self.major_illness.fund is not expected:
            raise ValueError(f"major_illness.fund must be {expected.value} for scheme {self.policy.scheme.value}")
        return self

    @property
    def basic_fund(self) -> FundPayType:
        staff = self.policy.scheme is Insutype.STAFF
        return FundPayType.STAFF_POOLED if staff else FundPayType.RESIDENT_POOLED


T = TypeVar("T")


def by_level(table: Mapping[str, T], level: str, what: str) -> T:
    """Look a level up, falling back to "default"; a gap is a policy error, said plainly."""
    if level in table:
        return table[level]
    if DEFAULT in table:
        return table[DEFAULT]
    raise PolicyGap(f"the policy has no {what} for institution level {level!r}")
