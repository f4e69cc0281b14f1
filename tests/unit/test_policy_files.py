"""The shipped policy files load, carry the seeds' numbers, resolve every lookup the engine makes,
and a bad file is refused with a message naming the file, the key and the problem.

Seeds: [000] Xinjiang long-term enrolment mechanism, [001] Anhui 2023 residents' notice,
[002] Siping city-level pooling, [003] Inner Mongolia staff outpatient mutual aid,
[004] Ningxia bulletin. Amounts inside the models are int fen (1 yuan = 100).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts.codes import (
    STAFF_PERSON_TYPES,
    ExcludedCategory,
    FamilyRelation,
    FundPayType,
    Insutype,
    PersonType,
    PhysicianTitle,
)
from engine.basic_fund import ratio_for
from engine.benefit_name import BenefitName
from engine.errors import PolicyGap, UnknownPolicy
from engine.policy import LEVEL_KEYS, Policy, by_level
from engine.policy_book import PolicyBook, content_hash
from engine.policy_files import PolicyFileError, load_policy_book, load_policy_file

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SHIPPED = sorted(p.name for p in POLICIES.glob("*.toml"))
ALL_EXCLUDED = set(ExcludedCategory)


def fen(yuan: int) -> int:
    return yuan * 100


def load(name: str) -> Policy:
    return load_policy_file(POLICIES / name)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book(POLICIES)


# --- every shipped file --------------------------------------------------------------------------


def test_the_folder_ships_one_file_per_region_scheme_and_year_the_seeds_describe() -> None:
    assert SHIPPED == [
        "150000-310-2025.toml",  # [003] Inner Mongolia staff
        "220300-310-2025.toml",  # [002] Siping staff
        "220300-390-2025.toml",  # [002] Siping residents
        "340000-390-2024.toml",  # [001] Anhui residents, cover year 2024
        "640000-310-2025.toml",  # [004] Ningxia staff
        "640000-390-2025.toml",  # [004] Ningxia residents
        "640500-310-2025.toml",  # [004] Zhongwei staff
        "640500-390-2025.toml",  # [004] Zhongwei residents
        "650000-310-2025.toml",  # [000] Xinjiang staff
        "650000-390-2025.toml",  # [000] Xinjiang residents
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_file_loads_validates_and_is_named_region_scheme_year(name: str) -> None:
    meta = load(name).policy
    version = "" if meta.version == 1 else f"-v{meta.version}"  # docs/policies.md: later versions
    assert name == f"{meta.region}-{meta.scheme.value}-{meta.year}{version}.toml"
    assert (meta.effective_from, meta.effective_to) == (date(meta.year, 1, 1), date(meta.year, 12, 31))


def test_the_whole_folder_loads_as_one_book_with_distinct_policy_ids(book: PolicyBook) -> None:
    assert len(book.policies) == len(SHIPPED)
    assert len({p.ref.policy_id for p in book.policies}) == len(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_seed_a_file_lists_is_cited_in_its_comments_and_every_cited_seed_is_listed(name: str) -> None:
    text = (POLICIES / name).read_text(encoding="utf-8")
    listed = {source[:3] for source in load(name).policy.sources}
    cited = set(re.findall(r"\[(\d{3})\]", text))
    assert listed == cited
    assert "ASSUMPTION" in text  # every file has numbers no seed gives, and says so


@pytest.mark.parametrize("name", SHIPPED)
def test_chronic_and_two_disease_codes_are_consistent(name: str) -> None:
    policy = load(name)
    assert set(policy.chronic.inpatient_rule_diseases) <= set(policy.chronic.diseases)
    assert bool(policy.two_diseases) == (policy.benefits.two_diseases is not None)


# --- the seeds' numbers, file by file ------------------------------------------------------------

NX_RES, NX_STAFF = "640000-390-2025.toml", "640000-310-2025.toml"
XJ_RES, XJ_STAFF = "650000-390-2025.toml", "650000-310-2025.toml"
IM_STAFF, AH_RES, SP_RES = "150000-310-2025.toml", "340000-390-2024.toml", "220300-390-2025.toml"
SP_STAFF = "220300-310-2025.toml"
ZW_RES, ZW_STAFF = "640500-390-2025.toml", "640500-310-2025.toml"

Getter = Callable[[Policy], Any]


def _dual(p: Policy) -> Any:
    assert p.benefits.dual_channel_outpatient is not None
    return p.benefits.dual_channel_outpatient


def _general(p: Policy) -> Any:
    assert p.benefits.general_outpatient is not None
    return p.benefits.general_outpatient


def _aid(p: Policy) -> Any:
    assert p.medical_aid is not None
    return p.medical_aid


def _ibi(p: Policy) -> Any:
    assert p.medical_aid is not None and p.medical_aid.impoverished_by_illness is not None
    return p.medical_aid.impoverished_by_illness


def _account(p: Policy) -> Any:
    assert p.personal_account is not None
    return p.personal_account


def _incentives(p: Policy) -> Any:
    assert p.major_illness.incentives is not None
    return p.major_illness.incentives


def _two(p: Policy) -> Any:
    assert p.benefits.two_diseases is not None
    return p.benefits.two_diseases


SPOT_CHECKS: list[Any] = [
    # Ningxia residents [004], [000]
    pytest.param(NX_RES, lambda p: p.annual_cap, fen(130_000), id="004 Ningxia residents annual cap 13万"),
    pytest.param(
        ZW_RES, lambda p: _general(p).yearly_cap, fen(330), id="004 Zhongwei residents general outpatient 330"
    ),
    pytest.param(NX_RES, lambda p: _dual(p).deductible["default"], (fen(500),), id="004 dual channel 500 a year"),
    pytest.param(NX_RES, lambda p: _dual(p).ratio["default"]["default"], Decimal("0.60"), id="004 residents dual 60%"),
    pytest.param(NX_RES, lambda p: _two(p).ratio["default"]["default"], Decimal("0.60"), id="000 两病 60% Ningxia"),
    pytest.param(NX_RES, lambda p: p.major_illness.cap, fen(300_000), id="000 resident major illness cap 30万"),
    pytest.param(NX_RES, lambda p: _aid(p).shared_yearly_cap, fen(50_000), id="004 aid shared limit 5万"),
    pytest.param(NX_RES, lambda p: _ibi(p).threshold, fen(20_000), id="004 impoverished-by-illness threshold 2万"),
    pytest.param(NX_RES, lambda p: _ibi(p).deductible, fen(5_000), id="004 impoverished-by-illness deductible 5千"),
    pytest.param(NX_RES, lambda p: _ibi(p).ratio, Decimal("0.70"), id="004 impoverished-by-illness 70%"),
    pytest.param(NX_RES, lambda p: _ibi(p).yearly_cap, fen(160_000), id="004 impoverished-by-illness cap 16万"),
    # Ningxia staff [004], [000], [003]
    pytest.param(NX_STAFF, lambda p: p.annual_cap, fen(400_000), id="004 Ningxia staff annual cap 40万"),
    pytest.param(NX_STAFF, lambda p: _dual(p).ratio["default"]["default"], Decimal("0.75"), id="004 staff dual 75%"),
    pytest.param(NX_STAFF, lambda p: _dual(p).deductible["default"], (fen(500),), id="004 staff dual 500 a year"),
    pytest.param(NX_STAFF, lambda p: _dual(p).counts_in_annual_cap, True, id="004 dual bundled with fund cap"),
    pytest.param(
        ZW_STAFF, lambda p: _general(p).yearly_cap, fen(1_200), id="004 Zhongwei staff general outpatient 1200"
    ),
    pytest.param(NX_STAFF, lambda p: p.major_illness.fund, FundPayType.STAFF_LARGE_AMOUNT, id="staff large 330100"),
    pytest.param(NX_STAFF, lambda p: p.major_illness.cap, fen(700_000), id="000 staff major illness cap 70万"),
    pytest.param(NX_STAFF, lambda p: p.major_illness.incentives, None, id="000 incentives are residents only"),
    pytest.param(NX_STAFF, lambda p: _ibi(p).threshold, fen(20_000), id="004 staff aid IBI threshold 2万"),
    pytest.param(NX_STAFF, lambda p: set(p.excluded_categories), ALL_EXCLUDED, id="004 seven excluded categories"),
    pytest.param(
        NX_STAFF,
        lambda p: set(p.dual_channel.qualified_titles),
        {PhysicianTitle.ATTENDING, PhysicianTitle.ASSOCIATE_CHIEF, PhysicianTitle.CHIEF},
        id="004 三定 attending or above",
    ),
    pytest.param(NX_STAFF, lambda p: _account(p).in_service_rate, Decimal("0.02"), id="003 in-service 2% NX"),
    pytest.param(NX_STAFF, lambda p: p.waiting.flexible_staff_months, 6, id="000 flexible staff wait 6 months NX"),
    # Xinjiang residents [000]
    pytest.param(XJ_RES, lambda p: _two(p).ratio["default"]["default"], Decimal("0.60"), id="000 两病 60% Xinjiang"),
    pytest.param(XJ_RES, lambda p: p.major_illness.cap, fen(300_000), id="000 Xinjiang resident cap 30万"),
    pytest.param(XJ_RES, lambda p: _incentives(p).continuous_years_before_reward, 4, id="000 reward after 4 years"),
    pytest.param(XJ_RES, lambda p: _incentives(p).per_continuous_year, fen(5_000), id="000 +5000 a continuous year"),
    pytest.param(XJ_RES, lambda p: _incentives(p).per_zero_claim_year, fen(5_000), id="000 +5000 a zero-claim year"),
    pytest.param(XJ_RES, lambda p: _incentives(p).max_share_of_cap, Decimal("0.20"), id="000 rewards at most 20%"),
    pytest.param(XJ_RES, lambda p: _incentives(p).rejoin_penalty, fen(5_000), id="000 rejoin lowers cap 5000"),
    pytest.param(XJ_RES, lambda p: p.waiting.fixed_months, 3, id="000 fixed wait 3 months"),
    pytest.param(XJ_RES, lambda p: p.waiting.variable_months_per_break_year, 1, id="000 +1 month a year of break"),
    pytest.param(XJ_RES, lambda p: p.waiting.long_break_years, 4, id="000 long break is 4 years"),
    pytest.param(XJ_RES, lambda p: p.waiting.long_break_min_months, 6, id="000 long break waits at least 6"),
    pytest.param(XJ_RES, lambda p: p.waiting.collection_start, (9, 1), id="000 collection from 1 September"),
    # Xinjiang staff [000]
    pytest.param(XJ_STAFF, lambda p: p.major_illness.cap, fen(700_000), id="000 Xinjiang staff cap 70万"),
    pytest.param(XJ_STAFF, lambda p: p.major_illness.fund, FundPayType.STAFF_LARGE_AMOUNT, id="000 XJ 330100"),
    pytest.param(XJ_STAFF, lambda p: p.waiting.flexible_staff_months, 6, id="000 flexible staff wait 6 months XJ"),
    pytest.param(XJ_STAFF, lambda p: p.benefits.two_diseases, None, id="000 两病 is a residents' benefit"),
    # Inner Mongolia staff [003]
    pytest.param(IM_STAFF, lambda p: _account(p).in_service_rate, Decimal("0.02"), id="003 in-service 2% of base"),
    pytest.param(
        IM_STAFF,
        lambda p: _account(p).retired_monthly,
        fen(3_000) * 2 // 100,  # 2% (from 2023) of the ASSUMPTION 2021 average pension 3,000 a month
        id="003 retirees 2% of the 2021 average pension",
    ),
    pytest.param(IM_STAFF, lambda p: _general(p).counts_in_annual_cap, True, id="003 outpatient inside the cap"),
    pytest.param(
        IM_STAFF,
        lambda p: p.benefits.chronic_outpatient is not None and p.benefits.chronic_outpatient.counts_in_annual_cap,
        True,
        id="003 chronic outpatient inside the cap",
    ),
    pytest.param(
        IM_STAFF,
        lambda p: set(_account(p).family_relations),
        {FamilyRelation.SPOUSE, FamilyRelation.PARENT, FamilyRelation.CHILD},
        id="003 family mutual aid spouse parent child",
    ),
    pytest.param(
        IM_STAFF,
        lambda p: (
            {ExcludedCategory.PUBLIC_HEALTH, ExcludedCategory.FITNESS, ExcludedCategory.WELLNESS}
            <= set(_account(p).excluded_categories)
        ),
        True,
        id="003 account never pays public health fitness wellness",
    ),
    pytest.param(
        IM_STAFF, lambda p: bool(p.chronic.inpatient_rule_diseases), True, id="003 special on inpatient rules"
    ),
    # Anhui residents 2024 [001]
    pytest.param(
        AH_RES,
        lambda p: (p.policy.effective_from, p.policy.effective_to),
        (date(2024, 1, 1), date(2024, 12, 31)),
        id="001 cover year 2024",
    ),
    pytest.param(AH_RES, lambda p: p.waiting.migrant_deadline, (2, 29), id="001 migrants until end of February 2024"),
    pytest.param(AH_RES, lambda p: p.waiting.newborn_grace_days, 90, id="001 newborns within 90 days"),
    pytest.param(AH_RES, lambda p: p.waiting.rejoin_grace_months, 3, id="001 rejoin within 3 months no wait"),
    pytest.param(AH_RES, lambda p: p.waiting.rejoin_late_wait_months, 3, id="001 rejoin later waits 3 months"),
    pytest.param(AH_RES, lambda p: p.waiting.variable_months_per_break_year, 0, id="000 variable wait only from 2025"),
    pytest.param(AH_RES, lambda p: p.major_illness.incentives, None, id="000 incentives only from 2025"),
    pytest.param(
        AH_RES,
        lambda p: Decimal("0.65") <= sum(p.benefits.inpatient.ratio["default"].values()) / 5 <= Decimal("0.75"),
        True,
        id="001 inpatient ratio about 70%",
    ),
    # Siping residents [002]
    pytest.param(SP_RES, lambda p: p.policy.region, "220300", id="002 pooled at city level"),
    pytest.param(SP_RES, lambda p: p.major_illness.fund, FundPayType.RESIDENT_MAJOR_ILLNESS, id="002 城乡居民大病保险"),
    pytest.param(SP_RES, lambda p: p.case_payment.dip_point_value, None, id="002 DRG, not DIP"),
    pytest.param(SP_RES, lambda p: bool(p.case_payment.drg_base_rate), True, id="002 DRG base rates"),
    # Siping staff [002]
    pytest.param(
        SP_STAFF, lambda p: (p.policy.region, p.policy.scheme), ("220300", Insutype.STAFF), id="002 staff city"
    ),
    pytest.param(
        SP_STAFF, lambda p: p.major_illness.fund, FundPayType.STAFF_LARGE_AMOUNT, id="002 职工大额补充医疗保险"
    ),
    pytest.param(SP_STAFF, lambda p: p.case_payment.dip_point_value, None, id="002 staff DRG, not DIP"),
]


@pytest.mark.parametrize(("name", "get", "expected"), SPOT_CHECKS)
def test_seed_number_is_in_the_policy_file(name: str, get: Getter, expected: Any) -> None:
    assert get(load(name)) == expected


def test_amounts_inside_the_model_are_int_fen_and_ratios_exact_decimals() -> None:
    policy = load(NX_RES)
    assert type(policy.annual_cap) is int and policy.annual_cap == 13_000_000  # [004] 13万元
    ratio = policy.benefits.inpatient.ratio["default"]["3"]
    assert isinstance(ratio, Decimal) and str(ratio) == "0.65"


# --- every lookup the engine makes resolves -----------------------------------------------------

HOSPITAL_LEVELS = ("primary", "1", "2", "3")
OUTPATIENT = (
    BenefitName.GENERAL_OUTPATIENT,
    BenefitName.CHRONIC_OUTPATIENT,
    BenefitName.TWO_DISEASES,
    BenefitName.DUAL_CHANNEL_OUTPATIENT,
)


def _lookup_gaps(policy: Policy) -> list[str]:
    """What the engine would look up for some valid claim and find missing (a claim then is refused)."""
    staff = policy.policy.scheme is Insutype.STAFF
    persons = [p for p in PersonType if (p in STAFF_PERSON_TYPES) == staff]
    gaps: list[str] = []

    def check(lookup: Callable[..., object], *args: Any) -> None:
        try:
            lookup(*args)
        except PolicyGap as gap:
            gaps.append(str(gap.args[0]))

    # a special treatment on the inpatient deductible (chronic.special_treatment) may be dispensed at a pharmacy
    special = policy.chronic.special_treatment.deductible == "inpatient_once_a_year"
    special_deductible = special and bool(policy.chronic.inpatient_rule_diseases)
    wanted: list[tuple[BenefitName, tuple[str, ...], tuple[str, ...]]] = [
        # inpatient stays happen at primary care and hospitals; a 门诊特殊治疗 priced with inpatient
        # ratios may also be dispensed at a pharmacy (med_type 14 at a pharmacy).
        (
            BenefitName.INPATIENT,
            HOSPITAL_LEVELS + (("pharmacy",) if special_deductible else ()),
            HOSPITAL_LEVELS + (("pharmacy",) if policy.chronic.inpatient_rule_diseases else ()),
        ),
        *((name, LEVEL_KEYS, LEVEL_KEYS) for name in OUTPATIENT),
    ]
    for name, deductible_levels, ratio_levels in wanted:
        benefit = getattr(policy.benefits, name.value)
        if benefit is None:
            continue
        if benefit.deductible_basis != "none":
            for level in deductible_levels:
                check(by_level, benefit.deductible, level, f"{name.value} deductible")
        for person in persons:
            for level in ratio_levels:
                check(ratio_for, benefit, name, person, level)
    rules = policy.case_payment
    for level in HOSPITAL_LEVELS:
        if rules.drg_base_rate:
            check(by_level, rules.drg_base_rate, level, "DRG base rate")
        if rules.dip_point_value is not None:
            check(by_level, rules.dip_hospital_coefficient, level, "DIP coefficient")
        if rules.drg_base_rate or rules.dip_point_value is not None:
            check(by_level, rules.drg_high_multiple, level, "DRG high multiple")
            check(by_level, rules.dip_high_multiple, level, "DIP high multiple")
    return sorted(set(gaps))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_level_and_person_type_the_engine_can_reach_has_a_rate(name: str) -> None:
    assert _lookup_gaps(load(name)) == []


def test_a_level_missing_from_a_table_without_default_raises_a_clear_policy_gap() -> None:
    table = {"3": Decimal("0.60")}
    with pytest.raises(PolicyGap, match=r"no general_outpatient ratio for institution level 'pharmacy'"):
        by_level(table, "pharmacy", "general_outpatient ratio")


def test_a_level_missing_from_a_table_falls_back_to_default() -> None:
    table = {"3": Decimal("0.60"), "default": Decimal("0.50")}
    assert by_level(table, "pharmacy", "general_outpatient ratio") == Decimal("0.50")
    assert by_level(table, "3", "general_outpatient ratio") == Decimal("0.60")


# --- which policy is in force ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "scheme", "on", "policy_id"),
    [
        ("640104", Insutype.RESIDENT, date(2025, 6, 1), "ningxia-resident-2025"),  # county → province
        ("640521", Insutype.RESIDENT, date(2025, 6, 1), "zhongwei-resident-2025"),  # 中宁县 → 中卫市 [004]
        ("640500", Insutype.STAFF, date(2025, 6, 1), "zhongwei-staff-2025"),
        ("640100", Insutype.STAFF, date(2025, 6, 1), "ningxia-staff-2025"),  # city → province
        ("220382", Insutype.RESIDENT, date(2025, 3, 1), "siping-resident-2025"),  # 双辽市 → 四平市 [002]
        ("220322", Insutype.STAFF, date(2025, 3, 1), "siping-staff-2025"),  # 梨树县 → 四平市 [002] staff
        ("341222", Insutype.RESIDENT, date(2024, 7, 1), "anhui-resident-2024"),  # 太和县 → 安徽省 [001]
        ("150102", Insutype.STAFF, date(2025, 12, 31), "inner-mongolia-staff-2025"),
        ("650000", Insutype.STAFF, date(2025, 1, 1), "xinjiang-staff-2025"),
    ],
)
def test_the_policy_in_force_falls_back_from_county_to_city_to_province(
    book: PolicyBook, region: str, scheme: Insutype, on: date, policy_id: str
) -> None:
    assert book.in_force(region, scheme, on).ref.policy_id == policy_id


@pytest.mark.parametrize(
    ("region", "scheme", "on"),
    [
        ("341222", Insutype.RESIDENT, date(2025, 1, 1)),  # Anhui ships only the 2024 cover year
        ("220300", Insutype.STAFF, date(2026, 1, 1)),  # Siping ships staff cover for 2025 only
        ("110000", Insutype.RESIDENT, date(2025, 1, 1)),  # no Beijing policy at all
    ],
)
def test_no_policy_in_force_is_an_unknown_policy_error_naming_region_scheme_and_date(
    book: PolicyBook, region: str, scheme: Insutype, on: date
) -> None:
    with pytest.raises(UnknownPolicy, match=rf"region {region}, scheme {scheme.value} on {on.isoformat()}"):
        book.in_force(region, scheme, on)


# --- bad files -----------------------------------------------------------------------------------

MINIMAL = """\
annual_cap = "100000"

[policy]
id = "test-resident-2025"
region = "999900"
region_name = "测试市"
scheme = "390"
year = 2025
version = 1
effective_from = 2025-01-01
effective_to = 2025-12-31

[benefits.inpatient]
deductible_basis = "admission"
deductible = { default = ["500"] }
ratio = { default = { "3" = "0.60", default = "0.70" } }

[major_illness]
fund = "390200"
bands = [{ above = "15000", ratio = "0.60" }, { above = "100000", ratio = "0.70" }]
cap = "300000"
"""


def _write(folder: Path, text: str, name: str = "999900-390-2025.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text, f"test setup: {old!r} not in the base file"
    return text.replace(old, new, 1)


def _refusal(path: Path) -> str:
    with pytest.raises(PolicyFileError) as refused:
        load_policy_file(path)
    message = str(refused.value)
    assert str(path) in message  # every refusal names the file
    return message


def test_the_minimal_base_file_used_below_is_valid(tmp_path: Path) -> None:
    policy = load_policy_file(_write(tmp_path, MINIMAL))
    assert policy.annual_cap == fen(100_000)


def test_invalid_toml_is_refused_naming_the_file_and_where_it_breaks(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit('cap = "300000"', "cap = 300000 yuan")))
    assert "not valid TOML" in message and "line 21" in message


def test_an_unknown_key_is_refused_naming_the_file_the_key_and_the_problem(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit("version = 1\n", 'version = 1\ncolour = "red"\n')))
    assert "key policy.colour: Extra inputs are not permitted" in message


def test_a_ratio_above_one_is_refused_naming_the_ratio_key(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit('"3" = "0.60"', '"3" = "1.5"')))
    assert "key benefits.inpatient.ratio.default.3: Input should be less than or equal to 1" in message


def test_major_illness_bands_out_of_order_are_refused(tmp_path: Path) -> None:
    text = _edit('{ above = "100000", ratio = "0.70" }', '{ above = "10000", ratio = "0.70" }')
    message = _refusal(_write(tmp_path, text))
    assert "key major_illness.bands: bands must be in ascending order of 'above'" in message


def test_a_staff_policy_without_personal_account_is_refused(tmp_path: Path) -> None:
    text = _edit('fund = "390200"', 'fund = "330100"', _edit('scheme = "390"', 'scheme = "310"'))
    message = _refusal(_write(tmp_path, text, "999900-310-2025.toml"))
    assert "key (top level): a staff policy needs [personal_account]" in message


def test_a_resident_policy_with_the_staff_large_amount_fund_is_refused(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit('fund = "390200"', 'fund = "330100"')))
    assert "major_illness.fund must be 390200 for scheme 390" in message


def test_an_amount_with_more_than_two_decimals_is_refused_naming_the_key(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit('annual_cap = "100000"', 'annual_cap = "100000.005"')))
    assert "key annual_cap:" in message and "at most two decimals" in message


def test_an_unknown_institution_level_is_refused(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, _edit('"3" = "0.60"', '"4" = "0.60"')))
    assert "key benefits.inpatient.ratio: unknown institution level ['4']" in message


def test_a_file_that_validates_may_still_lack_a_level_the_lookup_then_names_it(tmp_path: Path) -> None:
    policy = load_policy_file(_write(tmp_path, _edit(', default = "0.70"', "")))
    with pytest.raises(PolicyGap, match=r"no inpatient ratio for institution level '2'"):
        ratio_for(policy.benefits.inpatient, BenefitName.INPATIENT, PersonType.ADULT, "2")


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match=r"holds no \*\.toml policy files"):
        load_policy_book(tmp_path)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match=r"not a folder of policy files"):
        load_policy_book(tmp_path / "nowhere")


def test_one_bad_file_refuses_the_whole_folder(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL)
    bad = _write(tmp_path, _edit('"3" = "0.60"', '"3" = "1.5"'), "999900-390-2026.toml")
    with pytest.raises(PolicyFileError, match=re.escape(str(bad))):
        load_policy_book(tmp_path)


def test_the_same_id_and_version_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    first = _write(tmp_path, MINIMAL, "a.toml")
    second = _write(tmp_path, MINIMAL, "b.toml")
    with pytest.raises(PolicyFileError) as refused:
        load_policy_book(tmp_path)
    assert str(first) in str(refused.value) and str(second) in str(refused.value)
    assert "test-resident-2025 version 1" in str(refused.value)


# --- versions and content hash --------------------------------------------------------------------


def test_the_highest_version_in_force_wins_and_older_versions_stay_findable(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL, "999900-390-2025.toml")
    _write(
        tmp_path, _edit("version = 1", "version = 2", _edit('"3" = "0.60"', '"3" = "0.62"')), "999900-390-2025-v2.toml"
    )
    book = load_policy_book(tmp_path)
    current = book.in_force("999901", Insutype.RESIDENT, date(2025, 5, 1))
    assert current.ref.version == 2
    assert current.policy.benefits.inpatient.ratio["default"]["3"] == Decimal("0.62")
    old = book.by_id("test-resident-2025", 1)
    assert old is not None and old.ref.content_hash != current.ref.content_hash


def test_the_content_hash_depends_on_the_numbers_not_on_comments_or_layout(tmp_path: Path) -> None:
    plain = load_policy_file(_write(tmp_path, MINIMAL, "a.toml"))
    commented = "# a comment\n" + _edit('cap = "300000"', 'cap = "300000.00"  # same amount, other text')
    same = load_policy_file(_write(tmp_path, commented, "b.toml"))
    changed = load_policy_file(_write(tmp_path, _edit('cap = "300000"', 'cap = "300001"'), "c.toml"))
    assert content_hash(plain) == content_hash(same)
    assert content_hash(plain) != content_hash(changed)
