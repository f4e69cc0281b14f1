"""Issue 12, items 6-13: mechanisms the seeds name that the engine lacked, each priced on the
shipped policy file of the region whose rule it is (or on a file with the parameter set, where no
shipped region uses it). Seeds (/work/shared/seeds/): [000] 新疆 实施意见(征求意见稿) 2024-09-05,
[001] 安徽 2023-09, [002] 四平市 2020-12-22, [003] 内蒙古 2021-12-15, [004] 宁夏医保局 工作简报 2021.
"""

from __future__ import annotations

from datetime import date

import pytest
from engine_builders import Book, claim, enrolment, family, fen, item, shipped

from contracts.codes import RejectionCode
from engine.errors import Rejected

NX_RES, NX_STAFF = "640000-390-2025.toml", "640000-310-2025.toml"
XJ_RES, XJ_STAFF = "650000-390-2025.toml", "650000-310-2025.toml"
IM_STAFF, SP_RES, SP_STAFF = "150000-310-2025.toml", "220300-390-2025.toml", "220300-310-2025.toml"
AH_RES = "340000-390-2024.toml"


# =========================================================================== item 10: other channels


@pytest.mark.parametrize("name", [NX_RES, NX_STAFF])
def test_an_expense_another_scheme_or_budget_pays_is_all_own_pay_004(name: str) -> None:
    """[004] 「以及有其他保障制度和经费渠道安排解决的医疗费用均属基金不予支付范围」 (Ningxia)."""
    staff = "310" in name
    book = Book(shipped(name))
    book.enrol(enrolment("P1", insutype="310" if staff else "390"))
    lines = [item("1", 10000), item("2", 2000, excluded="other_channel")]
    s = book.settle(claim("P1", lines, mdtrt_id="V1", level="2", insutype="310" if staff else "390"))
    info = s.result.setlinfo
    # the 2,000 line is 全自费 even as a 甲类 item; only the 10,000 line is policy-range
    assert (info.fulamt_ownpay_amt, info.inscp_scp_amt) == (fen(2000), fen(10000))
    # residents level 2: (10,000 − 600) × 0.75 = 7,050; staff in service: (10,000 − 500) × 0.88 = 8,360
    assert info.hifp_pay == fen(8360 if staff else 7050)


# =========================================================================== item 11: 近亲属


def _relative_pays(name: str, relation: str) -> Book:
    book = Book(shipped(name))
    payer = {"family_members": (family("R9", relation),), "acct_opening_balance": 1000}
    book.enrol(enrolment("S1", insutype="310", **payer))
    book.enrol(enrolment("R9", insutype="310"))
    c = claim(
        "R9",
        [item("1", 500)],
        mdtrt_id="V1",
        med_type="11",
        level="2",
        insutype="310",
        acct_used_flag=True,
        acct_payer_psn_no="S1",
        acct_payer_relation=relation,
    )
    book.settle(c)
    return book


@pytest.mark.parametrize("relation", ["sibling", "grandparent", "grandchild"])
def test_xinjiang_staff_accounts_pay_for_close_relatives_beyond_spouse_parents_children_000(relation: str) -> None:
    """[000] (二) 「支持职工医保个人账户用于支付…已参保的近亲属在定点医药机构就医购药发生的个人自付医药费用」:
    近亲属 as 民法典 第一千零四十五条 defines it. R9 (staff, no balance of its own) visits a level-2
    hospital for 500: general outpatient (500 − 200 yearly deductible) × 0.55 = 165.00 (XJ-S, in
    service); R9 owes 335.00, and S1's account (1,000) pays all of it."""
    book = _relative_pays(XJ_STAFF, relation)
    assert book.state("S1").account_balance == fen("665.00")
    assert book.state("R9").totals.acct_mulaid_received == fen("335.00")


def test_inner_mongolia_staff_accounts_pay_only_for_spouse_parents_and_children_003() -> None:
    """[003] 三 「本人及其配偶、父母、子女」: a sibling's care is refused."""
    with pytest.raises(Rejected) as refused:
        _relative_pays(IM_STAFF, "sibling")
    assert refused.value.code is RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED


# =========================================================================== item 13: 参照住院


def _im_chronic_visits(code: str, amounts: list[int]) -> list[tuple[int, int]]:
    """An in-service Inner Mongolia staff member's med_type 14 visits at a level-3 hospital:
    (deductible, basic fund) of each, in fen."""
    book = Book(shipped(IM_STAFF))
    book.enrol(enrolment("S1", insutype="310", registered_diseases=(code,)))
    out = []
    for n, amount in enumerate(amounts, start=1):
        c = claim("S1", [item("1", amount)], mdtrt_id=f"V{n}", med_type="14", level="3", insutype="310", dise_codg=code)
        info = book.settle(c).result.setlinfo
        out.append((info.act_pay_dedc, info.hifp_pay))
    return out


def test_a_special_treatment_takes_the_inpatient_deductible_ratio_and_caps_in_inner_mongolia_003() -> None:
    """[003] 一(二)1 「對部分適合在門診開展、比住院更經濟方便的特殊治療門診費用,納入統籌基金支付范圍,可參照
    統籌地區住院政策進行管理」. The file: dialysis (N18) takes a first stay's deductible at the level,
    once a year (1,000 at level 3), the inpatient ratio (85% in service at level 3) and only the
    fund's annual cap, not the 8,000 yearly cap of 门诊慢性病."""
    # visit 1: (20,000 − 1,000) × 0.85 = 19,000 × 0.85 = 16,150 (above 8,000: the chronic cap does not apply)
    # visit 2: deductible met: 20,000 × 0.85 = 17,000
    assert _im_chronic_visits("N18", [20000, 20000]) == [(fen(1000), fen(16150)), (0, fen(17000))]


def test_an_ordinary_chronic_disease_keeps_the_chronic_deductible_ratio_and_yearly_cap_in_inner_mongolia() -> None:
    # diabetes (E11), 门诊慢性病: (20,000 − 300) × 0.75 = 14,775 → the 8,000 yearly cap; then nothing
    assert _im_chronic_visits("E11", [20000, 5000]) == [(fen(300), fen(8000)), (0, 0)]


# =========================================================================== item 7: 职工大额 above the cap


def test_staff_large_amount_pays_the_part_above_the_basic_funds_annual_cap() -> None:
    """职工大额医疗费用补助 (330100) pays the policy-range cost above the basic fund's annual cap, by its
    own bands and cap ([002] 城镇职工大额补充医疗保险, [003] 职工大额医疗费用补助 name it; its terms are
    the Ningxia staff file's ASSUMPTIONs: 90% of the part above the 400,000 cap [004], up to 700,000)."""
    book = Book(shipped(NX_STAFF))
    book.enrol(enrolment("S1", insutype="310"))
    first = book.settle(claim("S1", [item("1", 600000)], mdtrt_id="V1", level="3", insutype="310")).result.setlinfo
    # deductible 800; base 599,200.00; × 0.85 = 509,320.00 > the annual cap: the fund pays 400,000.00,
    # which stands for 400,000 ÷ 0.85 = 470,588.2352… → 470,588.24 of the base; above the cap:
    # 599,200.00 − 470,588.24 = 128,611.76; 大额 90%: 115,750.584 → 115,750.58
    assert (first.act_pay_dedc, first.hifp_pay, first.hifob_pay) == (fen(800), fen(400000), fen("115750.58"))
    second = book.settle(claim("S1", [item("1", 100000)], mdtrt_id="V2", level="3", insutype="310")).result.setlinfo
    # 2nd stay deductible 400; base 99,600.00, the cap is spent: all of it is above; 90% = 89,640.00
    assert (second.act_pay_dedc, second.hifp_pay, second.hifob_pay) == (fen(400), 0, fen("89640.00"))


def test_xinjiang_staff_major_illness_works_on_the_years_self_pay_000() -> None:
    """[000] 「职工大病保险年度最高支付限额确定为70万元」: Xinjiang's file keeps the self-pay design."""
    book = Book(shipped(XJ_STAFF))
    book.enrol(enrolment("S1", insutype="310"))
    info = book.settle(claim("S1", [item("1", 100000)], mdtrt_id="V1", level="3", insutype="310")).result.setlinfo
    # XJ-S level 3: deductible 900, 84%: (100,000 − 900) × 0.84 = 83,244.00; self-pay 16,756.00 < 20,000:
    # nothing from the bands yet
    assert (info.act_pay_dedc, info.hifp_pay, info.hifob_pay) == (fen(900), fen("83244.00"), 0)


# =========================================================================== item 8: 困难群众, 分段救助


def test_major_illness_tilts_toward_the_poor_in_xinjiang_000() -> None:
    """[000] (三) 「困难群众大病保险政策按相关规定执行」: the national rule (医保发〔2021〕19号, kept by
    国办发〔2021〕42号) — for 特困、低保、返贫致贫 the threshold halved, ratios +5 points, no cap; each a
    parameter of the file. A 1,000,000 stay at level 3 (XJ-R: deductible 800, 60%, annual cap 180,000;
    major illness 60% above 15,000, 70% above 100,000, cap 300,000)."""
    book = Book(shipped(XJ_RES))
    book.enrol(enrolment("A1", insuplc_admdvs="650102", aid_category="min_living"))
    book.enrol(enrolment("N1", insuplc_admdvs="650102"))
    tilted = book.settle(claim("A1", [item("1", 1000000)], mdtrt_id="V1", level="3")).result.setlinfo
    plain = book.settle(claim("N1", [item("1", 1000000)], mdtrt_id="V2", level="3")).result.setlinfo
    # basic: (1,000,000 − 800) × 0.60 = 599,520 → the cap 180,000; self-pay 820,000
    assert tilted.hifp_pay == plain.hifp_pay == fen(180000)
    # plain: 0.60 × 85,000 + 0.70 × 720,000 = 51,000 + 504,000 = 555,000 → cap 300,000
    assert plain.hifmi_pay == fen(300000)
    # tilted: threshold 7,500; 0.65 × 92,500 + 0.75 × 720,000 = 60,125 + 540,000 = 600,125, no cap
    assert tilted.hifmi_pay == fen(600125)
    # aid (min_living 90%, XJ-R shared limit 60,000): (820,000 − 600,125) × 0.90 = 197,887.50 → 60,000
    assert tilted.maf_pay == fen(60000)


def test_siping_aid_is_by_category_and_by_segment_002() -> None:
    """[002] 「健全完善重特大疾病医疗救助制度,优化分类分段救助政策」. SP-R, a 低保 resident (segments of the
    year's remaining compliant cost: 75% to 10,000, 80% to 30,000, 85% above; ASSUMPTIONs), two
    stays at level 2 (deductible 400 then 200, 70%; major illness tilted: 65% above 7,000)."""
    book = Book(shipped(SP_RES))
    book.enrol(enrolment("A1", insuplc_admdvs="220302", aid_category="min_living"))
    v1 = book.settle(claim("A1", [item("1", 50000)], mdtrt_id="V1", level="2")).result.setlinfo
    # basic (50,000 − 400) × 0.70 = 34,720; self-pay 15,280; major illness (15,280 − 7,000) × 0.65 = 5,382
    # aid base 15,280 − 5,382 = 9,898, all in the first segment: 9,898 × 0.75 = 7,423.50
    assert (v1.hifp_pay, v1.hifmi_pay, v1.maf_pay) == (fen(34720), fen(5382), fen("7423.50"))
    v2 = book.settle(claim("A1", [item("1", 100000)], mdtrt_id="V2", level="2")).result.setlinfo
    # basic (100,000 − 200) × 0.70 = 69,860 (115,280 left of 150,000); self-pay 30,140
    # major illness on 45,420: (45,420 − 7,000) × 0.65 = 24,973 − 5,382 = 19,591
    # aid base 9,898 + (30,140 − 19,591) = 9,898 + 10,549 = 20,447:
    # 10,000 × 0.75 + 10,447 × 0.80 = 7,500 + 8,357.60 = 15,857.60 − 7,423.50 = 8,434.10
    assert (v2.hifp_pay, v2.hifmi_pay, v2.maf_pay) == (fen(69860), fen(19591), fen("8434.10"))


# =========================================================================== item 12: 异地就医


def _away(name: str, year: int, treating: str | None, filing: str = "none", **person: object) -> int:
    """A first stay of 10,000 at a level-2 hospital in ``treating`` (the claim's mdtrtarea_admvs;
    None: not sent, local care), the person holding a filing of type ``filing`` for the treating
    province from 1 January ("none": no filing); the basic fund."""
    filings = []
    if filing != "none" and treating is not None:
        filings = [{"filing_type": filing, "mdtrtarea_admvs": treating[:2] + "0000", "begndate": date(year, 1, 1)}]
    book = Book(shipped(name), year=year)
    book.enrol(enrolment("P1", year=year, enrol_date=date(year - 1, 11, 1), out_of_region_filings=filings, **person))
    stay = claim(
        "P1", [item("1", 10000)], mdtrt_id="V1", level="2", begndate=date(year, 5, 1), mdtrtarea_admvs=treating
    )
    return book.settle(stay).result.setlinfo.hifp_pay


def test_an_anhui_student_treated_where_they_study_is_paid_as_local_001() -> None:
    """[001] 8 「对大中小学学生在学籍地与户籍地、就业见习地、实习地发生的医疗费用,享受参保地规定的本地就医时的
    标准」. AH-R level 2: deductible 600, 75% → (10,000 − 600) × 0.75 = 7,050.00, in Nanjing too."""
    local = _away(AH_RES, 2024, None, psn_type="student", insuplc_admdvs="341222")
    nanjing = _away(AH_RES, 2024, "320102", psn_type="student", insuplc_admdvs="341222")
    assert local == nanjing == fen("7050.00")


@pytest.mark.parametrize(
    ("filing", "expected"),
    [
        ("resident", "7050.00"),  # 异地长期居住备案: the local 75%
        ("referral", "7050.00"),  # 转诊备案: the local 75%
        ("temporary", "6110.00"),  # 临时外出就医: 75% − 10 points = 65%: 9,400 × 0.65 = 6,110.00
        ("none", "5170.00"),  # 未备案: 75% − 20 points = 55%: 9,400 × 0.55 = 5,170.00
    ],
)
def test_an_anhui_adult_treated_in_another_province_keeps_the_insured_regions_rules_less_points_without_filing(
    filing: str, expected: str
) -> None:
    """参保地政策 (the insured region's deductible and ratios), lower without a filing (医保发〔2022〕22号:
    at most 10 points for a temporary stay; 20 without any filing is the file's ASSUMPTION)."""
    away = _away(AH_RES, 2024, "320102", filing, insuplc_admdvs="341222")
    assert away == fen(expected)


def test_care_in_another_county_of_siping_is_local_care_002() -> None:
    """[002] 「市级统筹区域内可自主就医,实现医疗费用直接结算」: a 双辽市 resident in a 四平 city hospital,
    without any filing. SP-R level 2: deductible 400, 70% → (10,000 − 400) × 0.70 = 6,720.00."""
    county = _away(SP_RES, 2025, "220302", insuplc_admdvs="220382")
    assert county == fen("6720.00")
    # in Changchun (吉林省 220100), outside the city pool, without a filing: 70% − 20 = 50% → 4,800.00
    assert _away(SP_RES, 2025, "220102", insuplc_admdvs="220382") == fen("4800.00")
