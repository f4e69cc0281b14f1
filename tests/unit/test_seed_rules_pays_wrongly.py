"""Issue 12, items 1-5: what the engine paid wrongly against the seeds, each test naming the
seed sentence it enforces and pricing the shipped policy file of the region the sentence
belongs to. Seeds (/work/shared/seeds/): [000] 新疆 实施意见(征求意见稿) 2024-09-05, [001] 安徽
关于做好2023年城乡居民基本医疗保障工作的通知 2023-09, [002] 四平市 市级统筹实施方案 2020-12-22,
[003] 内蒙古 职工医保门诊共济 2021-12-15, [004] 宁夏医保局 工作简报 2021.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from engine_builders import Book, claim, enrolled, enrolment, fen, item, resident_policy_dict, shipped

from contracts.codes import FundPayType, Insutype
from engine.benefit_name import BenefitName
from engine.policy import Policy
from engine.policy_files import load_policy_book

POLICIES = Path(__file__).resolve().parents[2] / "policies"

XJ_RES, NX_RES, SP_RES, AH_RES = (
    "650000-390-2025.toml",
    "640000-390-2025.toml",
    "220300-390-2025.toml",
    "340000-390-2024.toml",
)
REGION = {XJ_RES: "650100", NX_RES: "640100", SP_RES: "220302", AH_RES: "341222"}


def _cover_from(name: str, policy: Policy | None = None, **kw: object) -> date:
    e = enrolment("R1", insuplc_admdvs=REGION[name], **kw)
    return enrolled(e, policy or shipped(name)).coverage_from


# =========================================================================== item 1: migrants


@pytest.mark.parametrize("name", [XJ_RES, NX_RES, SP_RES])
def test_a_migrant_paying_in_february_2025_waits_3_months_like_anyone_late_000(name: str) -> None:
    """[000] (五) 「2025年起,除新生儿、医疗救助对象、当年接收安置的退役军人及其随调随迁的配偶和子女等特殊
    群体外,对未在居民医保集中缴费期内参保或未连续参保的人员,设置参保后固定待遇等待期3个月」: migrant workers
    (外出务工人员) are not among the exempt, and the collection period is 1 September – 31 December
    ([000] (七) 「每年91-1231日为居民医保集中征缴期」). Ningxia's and Siping's seeds say nothing of
    migrants, so the national rule of which [000] is Xinjiang's draft applies to them too."""
    # paid 2025-02-28, outside 2024-09-01 … 2024-12-31, no break: 3-month fixed wait,
    # 2025-02-28 + 3 months = 2025-05-28
    late = _cover_from(name, year=2025, enrol_date=date(2025, 2, 28), in_collection_period=False, migrant_worker=True)
    assert late == date(2025, 5, 28)


def test_anhui_2024_migrants_paying_by_29_february_are_covered_from_1_january_001() -> None:
    """[001] 2 「鉴于外出务工人员春节集中返乡的实际,该群体的筹资时间可延长到2024年2月底。」 — Anhui's
    rule for its 2024 cover year; 2024 is a leap year, so 2月底 is 29 February."""
    on_time = _cover_from(
        AH_RES, year=2024, enrol_date=date(2024, 2, 29), in_collection_period=False, migrant_worker=True
    )
    assert on_time == date(2024, 1, 1)
    # 1 March is after 2月底: late, and Anhui's file waits 3 months: 2024-03-01 + 3 months
    late = _cover_from(AH_RES, year=2024, enrol_date=date(2024, 3, 1), in_collection_period=False, migrant_worker=True)
    assert late == date(2024, 6, 1)
    # the extension is for migrants only: anyone else paying on 29 February waits 3 months
    other = _cover_from(AH_RES, year=2024, enrol_date=date(2024, 2, 29), in_collection_period=False)
    assert other == date(2024, 5, 29)


def test_a_policy_that_says_nothing_of_migrants_gives_them_no_extension() -> None:
    """The schema's default is "no migrant extension": only a region's own document gives one."""
    data = resident_policy_dict()
    data["waiting"].pop("migrant_deadline", None)
    policy = Policy.model_validate(data)
    assert policy.waiting.migrant_deadline is None
    late = _cover_from(
        NX_RES, policy, year=2025, enrol_date=date(2025, 2, 1), in_collection_period=False, migrant_worker=True
    )
    assert late == date(2025, 5, 1)  # 2025-02-01 + 3 months


def test_a_migrant_deadline_that_is_no_date_is_refused() -> None:
    data = resident_policy_dict()
    data["waiting"]["migrant_deadline"] = [2, 30 + 2]
    with pytest.raises(ValueError, match="migrant_deadline must be"):
        Policy.model_validate(data)


# =========================================================================== item 2: 门诊慢特病 I10/E11


def _chronic_hypertension_visit(name: str, year: int) -> int:
    """A registered chronic I10 patient's med_type 14 visit of 3,000 (one 甲类 line) at a level-2
    hospital, the first of the year: what the basic fund pays, in fen."""
    book = Book(shipped(name), year=year)
    book.enrol(
        enrolment(
            "R1", insuplc_admdvs=REGION[name], year=year, enrol_date=date(year - 1, 11, 1), registered_diseases=("I10",)
        )
    )
    c = claim(
        "R1", [item("1", 3000)], mdtrt_id="V1", med_type="14", level="2", dise_codg="I10", begndate=date(year, 3, 1)
    )
    settled = book.settle(c)
    assert {split.benefit for split in settled.facts.items} == {BenefitName.CHRONIC_OUTPATIENT}
    return settled.result.setlinfo.hifp_pay


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        (NX_RES, 2025, "1560.00"),  # (3,000 − 600) × 0.65 = 2,400 × 0.65 = 1,560.00 (was the 两病 cap, 400.00)
        (XJ_RES, 2025, "1755.00"),  # (3,000 − 300) × 0.65 = 2,700 × 0.65 = 1,755.00 (was 400.00)
        (SP_RES, 2025, "1560.00"),  # (3,000 − 400) × 0.60 = 2,600 × 0.60 = 1,560.00 (was 300.00)
        (AH_RES, 2024, "1625.00"),  # (3,000 − 500) × 0.65 = 2,500 × 0.65 = 1,625.00 (was 300.00)
    ],
)
def test_a_registered_chronic_hypertension_patient_gets_the_chronic_benefit_not_the_two_diseases_cover_004(
    name: str, year: int, expected: str
) -> None:
    """[004] (中卫) 「将高血压、糖尿病等30种慢性病列入门诊大病报销范围…政策范围内支付比例达到60%以上」:
    hypertension and diabetes registered as 门诊大病 take the chronic benefit; [001] 6 「做好普通门诊、
    “两病”门诊用药专项保障与慢特病门诊保障的政策衔接,避免重复报销、重复享受待遇」. Each file's chronic
    deductible and ratio are its own (ASSUMPTIONs, see the file)."""
    assert _chronic_hypertension_visit(name, year) == fen(expected)


def test_a_registered_chronic_diabetes_patient_gets_no_two_diseases_cover_on_a_general_outpatient_visit_001() -> None:
    """[001] 6 「避免重复报销、重复享受待遇」; 医保发〔2019〕54号: 已纳入门诊慢性病…保障范围“两病”患者的待遇,
    继续按现行政策执行. A general-outpatient visit of a registered chronic E11 patient is general
    outpatient, not “两病”; an unregistered resident treated for E11 gets the “两病” cover."""
    book = Book(shipped(NX_RES))
    book.enrol(enrolment("C1", registered_diseases=("E11",)))
    book.enrol(enrolment("T1"))
    chronic = book.settle(claim("C1", [item("1", 300)], mdtrt_id="V1", med_type="11", level="2", dise_codg="E11"))
    # general outpatient, level 2: (300 − 100 yearly deductible) × 0.50 = 100.00
    assert {s.benefit for s in chronic.facts.items} == {BenefitName.GENERAL_OUTPATIENT}
    assert chronic.result.setlinfo.hifp_pay == fen("100.00")
    two = book.settle(claim("T1", [item("1", 300)], mdtrt_id="V2", med_type="11", level="2", dise_codg="E11"))
    # “两病”: no deductible, 300 × 0.60 = 180.00
    assert {s.benefit for s in two.facts.items} == {BenefitName.TWO_DISEASES}
    assert two.result.setlinfo.hifp_pay == fen("180.00")


# =========================================================================== item 4: Siping staff

SP_STAFF = "220300-310-2025.toml"


def test_siping_staff_are_insured_under_the_city_policy_and_a_stay_is_paid_002() -> None:
    """[002] 一(二) 「2022年底前,城镇职工基本医疗保险和补充保险在市级统筹区域内政策制度统一、经办服务统一的
    基础上,实现基金市级统收统支」: a staff member insured in 梨树县 (220322) is priced under the
    city's staff policy, whose amounts are the file's ASSUMPTIONs."""
    book_of_policies = load_policy_book(POLICIES)
    in_force = book_of_policies.in_force("220322", Insutype.STAFF, date(2025, 5, 1))
    assert (in_force.ref.policy_id, in_force.policy.major_illness.fund) == (
        "siping-staff-2025",
        FundPayType.STAFF_LARGE_AMOUNT,
    )
    book = Book(in_force.policy)
    book.enrol(enrolment("S1", insutype="310", insuplc_admdvs="220322"))
    book.enrol(enrolment("S2", insutype="310", psn_type="retired", insuplc_admdvs="220322"))
    # in service, level 3, first stay of 20,000: deductible 800; (20,000 − 800) × 0.85 = 16,320.00
    s1 = book.settle(claim("S1", [item("1", 20000)], mdtrt_id="V1", insutype="310", level="3")).result.setlinfo
    assert (s1.act_pay_dedc, s1.hifp_pay) == (fen(800), fen("16320.00"))
    # retired, level 2, first stay of 10,000: deductible 500; (10,000 − 500) × 0.90 = 8,550.00
    s2 = book.settle(claim("S2", [item("1", 10000)], mdtrt_id="V2", insutype="310", level="2")).result.setlinfo
    assert (s2.act_pay_dedc, s2.hifp_pay) == (fen(500), fen("8550.00"))
