"""Worked examples: each figure is computed by hand in a comment from the Ningxia residents'
2025 policy (policies/640000-390-2025.toml, "the policy") and the seeds it cites, then
checked against the engine. Seeds: [000] 000_1302d70b50620e88.txt, [001] 001_4db0d6c391c65aa2.txt,
[003] 003_bdab4b4c86aef73d.txt, [004] 004_f404f87cf5c020e5.txt (in /work/shared/seeds/).

Policy figures used below (residents, 390):
  inpatient deductible per stay: level 3: 900 / 450 / 225; level 2: 600 / 300 / 150
  inpatient ratio: primary 90%, level 1 85%, level 2 75%, level 3 65%
  general outpatient: yearly deductible 100 (0 at primary care), 50% (60% primary), cap 400 (ASSUMPTION;
  [004]'s 330 is Zhongwei's, tests/unit/test_zhongwei.py)
  chronic outpatient: yearly deductible 600, 65% (N18, C50 at inpatient ratios)
  两病 I10/E11: no deductible, 60% [000], yearly cap 400
  dual-channel outpatient: yearly deductible 500, 60% [004]
  annual cap 130,000 [004]; major illness 60% above 15,000, 70% above 100,000, cap 300,000 [000]
  medical aid: destitute 100%, min_living 90%, returned 85% above 500, monitored 80% above
  1,000, shared limit 50,000 [004]; impoverished by illness from 20,000, 70% above 5,000 [004]
Staff figures come from engine_builders.staff_policy_dict (annual cap 400,000 [004],
general outpatient cap 1,200 ([004], Zhongwei's figure), dual channel 75% [004], large-amount cap 700,000 [000],
account 2% of the base / 60 a month for retirees [003]).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from engine_builders import (
    Book,
    Settled,
    claim,
    enrolled,
    enrolment,
    family,
    fen,
    item,
    physician,
    prior_cover,
    resident_policy,
    resident_policy_dict,
    settle,
    staff_policy,
)

from contracts.claims import Claim
from contracts.claims import FeeLine as ClaimItem
from contracts.codes import FundPayType, RejectionCode
from contracts.results import SetlDetail
from engine.benefit_name import BenefitName
from engine.errors import Rejected
from engine.events import ClaimSettled, FamilyAccountDebited, FamilyAccountRefunded
from engine.person import PersonYear, stream_id
from engine.policy import Policy, Waiting
from engine.totals import ZERO

RESIDENT = resident_policy()
STAFF = staff_policy()


def resident_book(psn_no: str = "R1", **enrol: object) -> Book:
    book = Book(RESIDENT)
    book.enrol(enrolment(psn_no, **enrol))
    return book


def stay(psn_no: str, amount: int | str, visit: str, *, level: str = "3", month: int = 3, **kw: Any) -> Claim:
    """An inpatient stay whose only line is a 甲类 item of ``amount`` yuan."""
    return claim(psn_no, [item("1", amount)], mdtrt_id=visit, level=level, begndate=date(2025, month, 1), **kw)


def row(settled: Settled, fund: FundPayType) -> SetlDetail:
    rows = [d for d in settled.result.setldetail if d.fund_pay_type is fund]
    assert len(rows) == 1, f"expected one {fund.value} row, got {len(rows)}"
    return rows[0]


# =========================================================================== inpatient basics


def test_level3_stay_pays_65_percent_of_what_is_above_the_900_deductible() -> None:
    """Policy: level-3 inpatient deductible 900 (1st stay), ratio 65%."""
    book = resident_book()
    s = book.settle(stay("R1", 10000, "V1"))
    info = s.result.setlinfo
    # hifp = (10,000 − 900) × 0.65 = 9,100 × 0.65 = 5,915.00
    assert info.medfee_sumamt == fen(10000)
    assert info.inscp_scp_amt == fen(10000)
    assert info.act_pay_dedc == fen(900)
    assert info.hifp_pay == fen(5915)
    assert info.pool_prop_selfpay == Decimal("0.65")
    # self-pay 4,085 < major-illness deductible 15,000 → nothing from 390200
    assert info.hifmi_pay == 0
    assert info.psn_part_amt == fen(4085)
    assert info.psn_cash_pay == fen(4085)
    basic = row(s, FundPayType.RESIDENT_POOLED)
    assert (basic.crt_payb_lmt_amt, basic.fund_payamt) == (fen(130000), fen(5915))
    assert row(s, FundPayType.RESIDENT_MAJOR_ILLNESS).inscp_scp_amt == fen(4085)
    assert book.state("R1").totals.admissions == 1


def test_later_stays_of_the_year_get_the_lower_deductible_and_the_last_entry_repeats() -> None:
    """Policy (ASSUMPTION in the file): the 2nd stay pays half the deductible, the 3rd+ a quarter."""
    book = resident_book()
    book.settle(stay("R1", 10000, "V1"))
    # 2nd stay, level 3: deductible 450; (10,000 − 450) × 0.65 = 9,550 × 0.65 = 6,207.50
    second = book.settle(stay("R1", 10000, "V2", month=4)).result.setlinfo
    assert (second.act_pay_dedc, second.hifp_pay) == (fen(450), fen("6207.50"))
    # 3rd stay, level 2: third entry 150; (10,000 − 150) × 0.75 = 9,850 × 0.75 = 7,387.50
    third = book.settle(stay("R1", 10000, "V3", level="2", month=5)).result.setlinfo
    assert (third.act_pay_dedc, third.hifp_pay) == (fen(150), fen("7387.50"))
    # 4th stay, level 3: the last entry (225) repeats; (10,000 − 225) × 0.65 = 6,353.75
    fourth = book.settle(stay("R1", 10000, "V4", month=6)).result.setlinfo
    assert (fourth.act_pay_dedc, fourth.hifp_pay) == (fen(225), fen("6353.75"))


def test_a_stay_smaller_than_the_deductible_is_all_deductible_and_the_fund_pays_nothing() -> None:
    s = resident_book().settle(stay("R1", 700, "V1")).result.setlinfo
    # 700 < 900: the deductible taken is 700, the fund pays (700 − 700) × 0.65 = 0
    assert (s.act_pay_dedc, s.hifp_pay, s.psn_cash_pay) == (fen(700), 0, fen(700))


def test_a_yearly_cap_on_deductibles_limits_the_second_stays_deductible() -> None:
    """docs/domain.md#deductible "Some regions cap the yearly total of deductibles" (policy variant: 1,000)."""
    data = resident_policy_dict()
    data["deductible_yearly_cap"] = "1000"
    book = Book(Policy.model_validate(data))
    book.enrol(enrolment("R1"))
    book.settle(stay("R1", 10000, "V1"))  # deductible 900
    s = book.settle(stay("R1", 10000, "V2", month=4)).result.setlinfo
    # due 450, but only 1,000 − 900 = 100 is left under the cap
    # (10,000 − 100) × 0.65 = 9,900 × 0.65 = 6,435
    assert (s.act_pay_dedc, s.hifp_pay) == (fen(100), fen(6435))


def test_a_per_visit_outpatient_deductible_is_due_again_at_every_visit_and_still_under_the_yearly_cap() -> None:
    """Issue 12 item 6 (按次起付, policy variant: general outpatient 30 a visit at level 2, the
    policy's 50% and 400 cap; no shipped region has one: docs/policies.md#per-visit-deductible)."""
    data = resident_policy_dict()
    general = data["benefits"]["general_outpatient"]
    general["deductible_basis"], general["deductible"] = "visit", {"default": ["30"]}
    data["deductible_yearly_cap"] = "50"
    book = Book(Policy.model_validate(data))
    book.enrol(enrolment("R1"))
    first = book.settle(claim("R1", [item("1", 100)], mdtrt_id="V1", med_type="11", level="2")).result.setlinfo
    # visit 1: deductible 30; (100 − 30) × 0.50 = 35
    assert (first.act_pay_dedc, first.hifp_pay) == (fen(30), fen(35))
    second = book.settle(claim("R1", [item("1", 100)], mdtrt_id="V2", med_type="11", level="2")).result.setlinfo
    # visit 2: 30 again, but the year's deductibles are capped at 50: 50 − 30 = 20 left;
    # (100 − 20) × 0.50 = 40  (a yearly basis would have taken nothing more: 30 already met of 30)
    assert (second.act_pay_dedc, second.hifp_pay) == (fen(20), fen(40))
    third = book.settle(claim("R1", [item("1", 100)], mdtrt_id="V3", med_type="11", level="2")).result.setlinfo
    # visit 3: the cap is reached, no deductible: 100 × 0.50 = 50
    assert (third.act_pay_dedc, third.hifp_pay) == (0, fen(50))


# =========================================================================== the item split


def test_item_split_full_ownpay_over_limit_preselfpay_and_policy_range_docs_domain_2() -> None:
    """docs/domain.md#items, priced as general outpatient at a level-2 hospital."""
    items = [
        item("A", 50, cnt=4),  # 甲: 200 all policy-range
        item("B", 120, lv="02", selfpay_prop="0.10"),  # 乙 10%: 先行自付 12, policy-range 108
        # 乙 20% above the price cap: 600 = 超限价 (300 − 250) × 2 = 100; of the 500 left,
        # 先行自付 500 × 0.2 = 100, policy-range 400
        item("C", 300, cnt=2, lv="02", selfpay_prop="0.20", cap=250),
        item("D", 80, lv="03"),  # 丙: 80 全自费
    ]
    s = resident_book().settle(claim("R1", items, mdtrt_id="V1", med_type="11", level="2"))
    info = s.result.setlinfo
    # total 200 + 120 + 600 + 80 = 1,000 = 80 + 100 + (12 + 100) + (200 + 108 + 400)
    assert info.medfee_sumamt == fen(1000)
    assert info.fulamt_ownpay_amt == fen(80)
    assert info.overlmt_selfpay == fen(100)
    assert info.preselfpay_amt == fen(112)
    assert info.inscp_scp_amt == fen(708)
    # general outpatient: (708 − 100) × 0.50 = 304 (under the 400 cap)
    assert (info.act_pay_dedc, info.hifp_pay) == (fen(100), fen(304))
    assert info.psn_part_amt == fen(696)
    split = {i.feedetl_sn: i for i in s.result.items}
    assert (split["B"].preselfpay_amt, split["B"].inscp_scp_amt) == (fen(12), fen(108))
    assert (split["C"].overlmt_selfpay, split["C"].preselfpay_amt, split["C"].inscp_scp_amt) == (
        fen(100),
        fen(100),
        fen(400),
    )
    assert (split["D"].fulamt_ownpay_amt, split["D"].inscp_scp_amt) == (fen(80), 0)


def test_preselfpay_of_a_class_b_line_rounds_half_up_to_the_fen() -> None:
    """docs/money.md: 先行自付 = line × selfpay_prop, rounded half up once."""
    # 0.25 × 0.10 = 0.025 yuan = 2.5 fen → 3 fen; policy-range 25 − 3 = 22 fen
    s = resident_book().settle(claim("R1", [item("1", "0.25", lv="02", selfpay_prop="0.1")], mdtrt_id="V1"))
    assert (s.result.setlinfo.preselfpay_amt, s.result.setlinfo.inscp_scp_amt) == (3, 22)


@pytest.mark.parametrize(
    "category", ["work_injury", "third_party", "public_health", "overseas", "fitness", "wellness", "health_checkup"]
)
def test_an_excluded_expense_is_all_full_ownpay_even_as_a_class_a_item_004(category: str) -> None:
    """[004] 应当从工伤保险基金中支付、应当由第三人负担、应当由公共卫生负担、在境外就医 …
    体育健身、养生保健消费、健康体检等费用 … 均属基金不予支付范围."""
    items = [item("X", 500, excluded=category), item("A", 200)]
    s = resident_book().settle(claim("R1", items, mdtrt_id="V1", med_type="11", level="2"))
    info = s.result.setlinfo
    # the 500 is 全自费; only the 200 is policy-range: (200 − 100) × 0.50 = 50
    assert (info.fulamt_ownpay_amt, info.inscp_scp_amt, info.hifp_pay) == (fen(500), fen(200), fen(50))
    assert s.result.items[0].excluded_category.value == category


def test_a_line_amount_that_is_not_price_times_quantity_is_rejected() -> None:
    bad = item("1", 10, cnt=3, amount="31.00")  # 10 × 3 = 30.00
    with pytest.raises(Rejected) as refused:
        resident_book().settle(claim("R1", [bad], mdtrt_id="V1"))
    assert refused.value.code is RejectionCode.ITEM_AMOUNT_MISMATCH


# =========================================================================== general outpatient


def test_general_outpatient_stops_at_its_yearly_cap() -> None:
    """The Ningxia-wide cap is the file's ASSUMPTION 400 ([004]'s 330 is Zhongwei's: test_zhongwei)."""
    book = resident_book()
    # visit 1, level 2: (500 − 100) × 0.50 = 200
    v1 = book.settle(claim("R1", [item("1", 500)], mdtrt_id="V1", med_type="11", level="2")).result.setlinfo
    assert (v1.act_pay_dedc, v1.hifp_pay) == (fen(100), fen(200))
    # visit 2: deductible met; 500 × 0.50 = 250, but only 400 − 200 = 200 is left
    v2 = book.price(claim("R1", [item("1", 500)], mdtrt_id="V2", med_type="11", level="2"))
    assert (v2.result.setlinfo.act_pay_dedc, v2.result.setlinfo.hifp_pay) == (0, fen(200))
    book.append(v2.events)
    # visit 3: nothing left
    v3 = book.settle(claim("R1", [item("1", 500)], mdtrt_id="V3", med_type="11", level="2")).result.setlinfo
    assert v3.hifp_pay == 0
    assert book.state("R1").totals.hifp[BenefitName.GENERAL_OUTPATIENT] == fen(400)


def test_general_outpatient_at_primary_care_has_no_deductible_and_pays_60_percent() -> None:
    s = resident_book().settle(claim("R1", [item("1", 100)], mdtrt_id="V1", med_type="11", kind="primary_care"))
    # 100 × 0.60 = 60, no deductible at primary care
    assert (s.result.setlinfo.act_pay_dedc, s.result.setlinfo.hifp_pay) == (0, fen(60))


def test_internet_hospital_follow_up_is_priced_as_general_outpatient_004() -> None:
    c = claim("R1", [item("1", 300)], mdtrt_id="V1", med_type="11", kind="internet_hospital", level="3")
    # (300 − 100) × 0.50 = 100
    assert resident_book().settle(c).result.setlinfo.hifp_pay == fen(100)


def test_pharmacy_purchase_pays_from_no_fund_without_a_prescription_and_as_outpatient_with_one_003() -> None:
    book = resident_book()
    plain = book.settle(claim("R1", [item("1", 300)], mdtrt_id="V1", med_type="41", kind="retail_pharmacy"))
    assert plain.result.setlinfo.fund_pay_sumamt == 0
    # 外配处方 from a designated hospital: general outpatient at the pharmacy ratio 50%,
    # yearly deductible 100 (the default entry): (300 − 100) × 0.50 = 100
    rx = book.settle(
        claim("R1", [item("1", 300)], mdtrt_id="V2", med_type="41", kind="retail_pharmacy", extn_rx_flag=True)
    )
    assert rx.result.setlinfo.hifp_pay == fen(100)


# =========================================================================== 两病 and chronic


def test_two_diseases_hypertension_drugs_pay_60_percent_with_no_deductible_000() -> None:
    """[000] “两病”报销比例提升到60%; policy: two_diseases has no deductible. The cover goes by the
    diagnosis of a resident not registered for it as a 门诊慢特病 (医保发〔2019〕54号)."""
    book = resident_book()
    c = claim("R1", [item("1", 200)], mdtrt_id="V1", med_type="11", level="2", dise_codg="I10")
    s = book.settle(c)
    # 200 × 0.60 = 120
    assert (s.result.setlinfo.act_pay_dedc, s.result.setlinfo.hifp_pay) == (0, fen(120))
    assert s.delta.hifp[BenefitName.TWO_DISEASES] == fen(120)
    assert s.delta.mi_base == 0  # the policy keeps 两病 out of major illness


def test_a_chronic_visit_for_hypertension_not_registered_as_chronic_is_rejected_pointing_to_two_diseases() -> None:
    book = resident_book(registered_diseases=("E11",))
    c = claim("R1", [item("1", 200)], mdtrt_id="V1", med_type="14", level="2", dise_codg="I10")
    with pytest.raises(Rejected) as refused:
        book.settle(c)
    assert refused.value.code is RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED
    assert "settled as a general-outpatient visit with dise_codg I10" in refused.value.message


def test_chronic_outpatient_yearly_600_deductible_then_65_percent() -> None:
    book = resident_book(registered_diseases=("B18",))
    c = claim("R1", [item("1", 5000)], mdtrt_id="V1", med_type="14", level="2", dise_codg="B18")
    s = book.settle(c).result.setlinfo
    # (5,000 − 600) × 0.65 = 4,400 × 0.65 = 2,860
    assert (s.act_pay_dedc, s.hifp_pay) == (fen(600), fen(2860))


def test_chronic_special_treatment_uses_inpatient_ratios_003() -> None:
    """[003] 门诊特殊治疗 … 可参照统筹地区住院政策; policy: N18 uses the inpatient ratio table."""
    book = resident_book(registered_diseases=("N18",))
    c = claim("R1", [item("1", 5000)], mdtrt_id="V1", med_type="14", level="2", dise_codg="N18")
    s = book.settle(c).result.setlinfo
    # chronic yearly deductible 600, inpatient level-2 ratio 75%: 4,400 × 0.75 = 3,300
    assert (s.act_pay_dedc, s.hifp_pay, s.pool_prop_selfpay) == (fen(600), fen(3300), Decimal("0.75"))


def test_chronic_visit_for_an_unregistered_disease_is_rejected() -> None:
    c = claim("R1", [item("1", 500)], mdtrt_id="V1", med_type="14", level="2", dise_codg="B18")
    with pytest.raises(Rejected) as refused:
        resident_book().settle(c)
    assert refused.value.code is RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED


def test_negotiated_drug_in_a_chronic_visit_is_paid_once_as_dual_channel_004() -> None:
    """[004] 已纳入门诊大病用药范围的谈判药品优先按照双通道管理政策执行,不重复享受门诊大病政策."""
    book = resident_book(registered_diseases=("B18",))
    items = [item("1", 2000), item("2", 3000, lv="02", nego=True)]
    c = claim(
        "R1",
        items,
        mdtrt_id="V1",
        med_type="14",
        level="2",
        dise_codg="B18",
        dual_channel_designated=True,
        resp_physician=physician("attending"),
    )
    s = book.settle(c)
    # chronic: (2,000 − 600) × 0.65 = 910; dual channel: (3,000 − 500) × 0.60 = 1,500
    assert s.delta.hifp[BenefitName.CHRONIC_OUTPATIENT] == fen(910)
    assert s.delta.hifp[BenefitName.DUAL_CHANNEL_OUTPATIENT] == fen(1500)
    assert s.result.setlinfo.hifp_pay == fen(2410)
    assert s.result.setlinfo.act_pay_dedc == fen(1100)


# =========================================================================== dual channel


def dual_channel_purchase(
    visit: str, title: str = "attending", designated: bool = True, psn_no: str = "R1", insutype: str = "390"
) -> Claim:
    # a negotiated 乙类 drug of 3,000 with 先行自付 10% bought at a dual-channel pharmacy
    return claim(
        psn_no,
        [item("1", 3000, lv="02", selfpay_prop="0.10", nego=True)],
        insutype=insutype,
        mdtrt_id=visit,
        med_type="41",
        kind="dual_channel_pharmacy",
        dual_channel_designated=designated,
        resp_physician=physician(title),
    )


def test_dual_channel_drug_at_a_designated_pharmacy_yearly_500_deductible_then_60_percent_004() -> None:
    """[004] 按照谈判药品先行自付比例扣除自付费用后的费用,参保患者门诊使用谈判药品起付线为500元/年,
    职工医保和居民医保分别按照75%和60%比例支付."""
    book = resident_book()
    first = book.settle(dual_channel_purchase("V1"))
    info = first.result.setlinfo
    # 先行自付 3,000 × 0.10 = 300; policy-range 2,700; (2,700 − 500) × 0.60 = 1,320
    assert (info.preselfpay_amt, info.inscp_scp_amt) == (fen(300), fen(2700))
    assert (info.act_pay_dedc, info.hifp_pay) == (fen(500), fen(1320))
    assert info.pool_prop_selfpay == Decimal("0.60")
    # the deductible is yearly: the second purchase pays 2,700 × 0.60 = 1,620
    second = book.settle(dual_channel_purchase("V2")).result.setlinfo
    assert (second.act_pay_dedc, second.hifp_pay) == (0, fen(1620))


def test_dual_channel_staff_ratio_is_75_percent_004() -> None:
    book = Book(STAFF)
    book.enrol(enrolment("R1", insutype="310"))
    c = dual_channel_purchase("V1", psn_no="R1", insutype="310")
    # (2,700 − 500) × 0.75 = 1,650
    assert book.settle(c).result.setlinfo.hifp_pay == fen(1650)


def test_dual_channel_drug_prescribed_by_a_resident_physician_is_not_payable_004() -> None:
    """[004] 三定: 由治疗相应疾病的主治及以上临床医师担任责任医师."""
    s = resident_book().settle(dual_channel_purchase("V1", title="resident")).result.setlinfo
    assert s.fund_pay_sumamt == 0
    assert s.fulamt_ownpay_amt == fen(3000)


def test_dual_channel_drug_at_a_non_designated_pharmacy_is_not_payable_004() -> None:
    s = resident_book().settle(dual_channel_purchase("V1", designated=False)).result.setlinfo
    assert (s.fund_pay_sumamt, s.fulamt_ownpay_amt) == (0, fen(3000))


@pytest.mark.parametrize("title", ["attending", "associate_chief", "chief"])
def test_dual_channel_accepts_attending_and_above(title: str) -> None:
    assert resident_book().settle(dual_channel_purchase("V1", title=title)).result.setlinfo.hifp_pay == fen(1320)


def test_negotiated_drug_during_a_stay_follows_inpatient_rules_with_no_extra_deductible_004() -> None:
    """[004] 参保患者住院使用谈判药品时,不另设起付线,按照住院医保支付政策予以报销."""
    items = [item("1", 8000), item("2", 2000, lv="02", nego=True)]
    s = resident_book().settle(claim("R1", items, mdtrt_id="V1"))
    # one inpatient deductible only: (10,000 − 900) × 0.65 = 5,915
    assert (s.result.setlinfo.act_pay_dedc, s.result.setlinfo.hifp_pay) == (fen(900), fen(5915))
    assert s.delta.dedc[BenefitName.DUAL_CHANNEL_OUTPATIENT] == 0
    assert s.delta.hifp[BenefitName.INPATIENT] == fen(5915)


# =========================================================================== annual cap


def test_annual_cap_130000_is_shared_and_the_excess_counts_toward_major_illness_004() -> None:
    """[004] 谈判药品年度最高支付限额与基金年度最高支付限额捆绑使用 … 居民医保 13万元;
    docs/domain.md#major-illness: amounts above the basic cap count toward major illness."""
    book = resident_book()
    first = book.settle(stay("R1", 180000, "V1")).result.setlinfo
    # (180,000 − 900) × 0.65 = 179,100 × 0.65 = 116,415; self-pay 63,585
    # major illness (63,585 − 15,000) × 0.60 = 48,585 × 0.60 = 29,151
    assert (first.hifp_pay, first.hifmi_pay) == (fen(116415), fen(29151))
    second = book.settle(stay("R1", 50000, "V2", month=5))
    # (50,000 − 450) × 0.65 = 32,207.50, but only 130,000 − 116,415 = 13,585 is left
    assert second.result.setlinfo.hifp_pay == fen(13585)
    assert row(second, FundPayType.RESIDENT_POOLED).crt_payb_lmt_amt == fen(13585)
    # self-pay 50,000 − 13,585 = 36,415 (includes the 18,622.50 the cap withheld);
    # year base 63,585 + 36,415 = 100,000 → (100,000 − 15,000) × 0.60 = 51,000;
    # this stay gets 51,000 − 29,151 = 21,849
    assert second.delta.mi_base == fen(36415)
    assert second.result.setlinfo.hifmi_pay == fen(21849)
    # the cap is shared with general outpatient: nothing left for it either
    out = book.settle(claim("R1", [item("1", 500)], mdtrt_id="V3", med_type="11", level="2"))
    assert out.result.setlinfo.hifp_pay == 0
    assert book.state("R1").totals.hifp_in_annual_cap == fen(130000)


def test_staff_annual_cap_is_400000_004() -> None:
    book = Book(STAFF)
    book.enrol(enrolment("S1", insutype="310"))
    s = book.settle(stay("S1", 600000, "V1", insutype="310")).result.setlinfo
    # test policy: in-service level 3 at 80%: (600,000 − 900) × 0.80 = 479,280 → cap 400,000
    assert s.hifp_pay == fen(400000)
    # staff large-amount (330100), not resident major illness: self-pay 200,000 →
    # 0.60 × 85,000 + 0.70 × 100,000 = 51,000 + 70,000 = 121,000
    assert (s.hifob_pay, s.hifmi_pay) == (fen(121000), 0)


def test_staff_retiree_ratio_comes_from_their_person_type_row() -> None:
    book = Book(STAFF)
    book.enrol(enrolment("S1", insutype="310", psn_type="retired"))
    s = book.settle(stay("S1", 100000, "V1", insutype="310")).result.setlinfo
    # retired level 3 at 85%: (100,000 − 900) × 0.85 = 84,235
    assert s.hifp_pay == fen(84235)


# =========================================================================== major illness


def test_major_illness_a_later_visit_triggers_what_an_earlier_did_not_and_bands_60_70_000() -> None:
    """docs/domain.md#major-illness on the year's accumulation; bands 60% above 15,000, 70% above 100,000."""
    book = resident_book()
    v1 = book.settle(stay("R1", 30000, "V1"))
    # (30,000 − 900) × 0.65 = 18,915; self-pay 11,085 < 15,000 → nothing
    assert (v1.result.setlinfo.hifp_pay, v1.result.setlinfo.hifmi_pay) == (fen(18915), 0)
    v2 = book.settle(stay("R1", 20000, "V2", month=4))
    # (20,000 − 450) × 0.65 = 12,707.50; self-pay 7,292.50; year 18,377.50
    # → (18,377.50 − 15,000) × 0.60 = 2,026.50
    assert (v2.result.setlinfo.hifp_pay, v2.result.setlinfo.hifmi_pay) == (fen("12707.50"), fen("2026.50"))
    v3 = book.settle(stay("R1", 250000, "V3", month=5))
    # (250,000 − 225) × 0.65 = 162,353.75 > left 130,000 − 18,915 − 12,707.50 = 98,377.50
    # self-pay 250,000 − 98,377.50 = 151,622.50; year 170,000
    # → 0.60 × 85,000 + 0.70 × 70,000 = 51,000 + 49,000 = 100,000; this visit 100,000 − 2,026.50
    assert v3.result.setlinfo.hifp_pay == fen("98377.50")
    assert v3.result.setlinfo.hifmi_pay == fen("97973.50")
    assert book.state("R1").totals.mi_paid == fen(100000)


@pytest.mark.parametrize(
    ("continuous", "zero_claim", "rejoined", "cap"),
    [
        (1, 0, False, 300000),  # the original cap [000]
        (4, 0, False, 300000),  # 满4年: the reward starts with the year after
        (5, 0, False, 305000),  # 之后每连续参保1年 +5,000
        (6, 0, False, 310000),  # 6 years: 2 × 5,000
        (1, 2, False, 310000),  # two zero-claim years, 2 × 5,000
        (6, 1, False, 315000),  # both kinds add up
        (10, 3, False, 345000),  # 6 × 5,000 + 3 × 5,000 = 45,000
        (12, 4, False, 360000),  # 40,000 + 20,000 = 60,000 = 20% of 300,000
        (20, 0, False, 360000),  # 16 × 5,000 = 80,000, at most 20% × 300,000 = 60,000
        (13, 4, False, 360000),  # 45,000 + 20,000 = 65,000 → 60,000
        (1, 0, True, 295000),  # 断保人员再参保的 … 降低5000元 (a 1-year break)
        (1, 2, True, 305000),  # the zero-claim reward outlives a break: 300,000 + 10,000 − 5,000
    ],
)
def test_major_illness_cap_with_resident_incentives_000(
    continuous: int, zero_claim: int, rejoined: bool, cap: int
) -> None:
    """[000] 四、完善两个激励机制."""
    book = resident_book(
        continuous_years=continuous,
        zero_claim_years=zero_claim,
        rejoined_after_break=rejoined,
        break_years=int(rejoined),
    )
    s = book.settle(stay("R1", 700000, "V1", month=6))  # June: after a 1-year break's 4-month wait
    # basic fund: (700,000 − 900) × 0.65 > 130,000 → 130,000; self-pay 570,000
    # bands: 0.60 × 85,000 + 0.70 × 470,000 = 51,000 + 329,000 = 380,000 > every cap here
    assert s.result.setlinfo.hifp_pay == fen(130000)
    assert s.result.setlinfo.hifmi_pay == fen(cap)
    assert row(s, FundPayType.RESIDENT_MAJOR_ILLNESS).crt_payb_lmt_amt == fen(cap)


def test_staff_large_amount_has_no_resident_incentives_and_its_cap_is_700000_000() -> None:
    book = Book(STAFF)
    book.enrol(enrolment("S1", insutype="310", continuous_years=20, zero_claim_years=5))
    s = book.settle(stay("S1", 1500000, "V1", insutype="310")).result.setlinfo
    # basic 400,000 (cap); self-pay 1,100,000 → 51,000 + 0.70 × 1,000,000 = 751,000 > 700,000
    assert (s.hifp_pay, s.hifob_pay) == (fen(400000), fen(700000))


# =========================================================================== medical aid


@pytest.mark.parametrize(
    ("category", "aid"),
    [
        ("destitute", "4085"),  # 100%: 4,085
        ("min_living", "3676.50"),  # 4,085 × 0.90 = 3,676.50
        ("returned_to_poverty", "3047.25"),  # (4,085 − 500) × 0.85 = 3,047.25
        ("monitored", "2468"),  # (4,085 − 1,000) × 0.80 = 2,468
    ],
)
def test_medical_aid_by_category_on_what_basic_and_major_illness_left_004(category: str, aid: str) -> None:
    """[004] 80%-100% by category (the split by category is the policy's ASSUMPTION)."""
    book = resident_book(aid_category=category)
    # a 100-yuan 丙类 line is 全自费: aid never pays it
    c = claim("R1", [item("1", 10000), item("2", 100, lv="03")], mdtrt_id="V1")
    s = book.settle(c)
    info = s.result.setlinfo
    # basic: (10,000 − 900) × 0.65 = 5,915; policy-range self-pay 4,085 < 15,000, no major illness
    assert (info.hifp_pay, info.hifmi_pay) == (fen(5915), 0)
    assert info.maf_pay == fen(aid)
    assert info.psn_cash_pay == fen(10100) - fen(5915) - fen(aid)
    assert row(s, FundPayType.MEDICAL_AID).inscp_scp_amt == fen(4085)


def test_medical_aid_shared_yearly_limit_50000_004() -> None:
    """[004] 门诊慢特病和住院救助共用5万元的年度救助限额. A destitute person also gets the 困难群众 tilt
    in major illness (national rule: threshold 15,000 → 7,500, +5 points, no cap)."""
    book = resident_book(aid_category="destitute")
    v1 = book.settle(stay("R1", 200000, "V1")).result.setlinfo
    # basic (200,000 − 900) × 0.65 = 129,415; self-pay 70,585
    # major illness (70,585 − 7,500) × 0.65 = 41,005.25; aid 70,585 − 41,005.25 = 29,579.75 (100%)
    assert (v1.hifp_pay, v1.hifmi_pay, v1.maf_pay) == (fen(129415), fen("41005.25"), fen("29579.75"))
    v2 = book.settle(stay("R1", 100000, "V2", month=4))
    info = v2.result.setlinfo
    # basic: only 130,000 − 129,415 = 585 left; self-pay 99,415; year base 170,000
    # major illness 0.65 × 92,500 + 0.75 × 70,000 = 60,125 + 52,500 = 112,625 − 41,005.25 = 71,619.75
    # aid would be 99,415 − 71,619.75 = 27,795.25, but only 50,000 − 29,579.75 = 20,420.25 is left
    assert (info.hifp_pay, info.hifmi_pay, info.maf_pay) == (fen(585), fen("71619.75"), fen("20420.25"))
    assert row(v2, FundPayType.MEDICAL_AID).crt_payb_lmt_amt == fen("20420.25")
    assert info.psn_cash_pay == fen(7375)  # 100,000 − 585 − 71,619.75 − 20,420.25


def test_medical_aid_does_not_apply_to_general_outpatient() -> None:
    """[004] aid covers 门诊慢特病和住院; the policy marks general_outpatient medical_aid = false."""
    book = resident_book(aid_category="destitute")
    s = book.settle(claim("R1", [item("1", 500)], mdtrt_id="V1", med_type="11", level="2")).result.setlinfo
    # (500 − 100) × 0.50 = 200; aid 0; cash 300
    assert (s.hifp_pay, s.maf_pay, s.psn_cash_pay) == (fen(200), 0, fen(300))


def test_impoverished_by_illness_nothing_below_20000_then_70_percent_above_5000_004() -> None:
    """[004] 剩余合规费用达到2万元及以上,即可纳入 … 超过5千元起付线以上的合规费用,按照70%比例给予救助."""
    book = resident_book(aid_category="impoverished_by_illness")
    v1 = book.settle(stay("R1", 40000, "V1"))
    # basic (40,000 − 900) × 0.65 = 25,415; self-pay 14,585 (no major illness below 15,000)
    # remaining compliant cost 14,585: above 5,000 but below 20,000 → no aid yet
    assert (v1.result.setlinfo.hifp_pay, v1.result.setlinfo.maf_pay) == (fen(25415), 0)
    assert book.state("R1").totals.aid_base == fen(14585)
    v2 = book.settle(stay("R1", 160000, "V2", month=4)).result.setlinfo
    # basic (160,000 − 450) × 0.65 = 103,707.50 (left 104,585); self-pay 56,292.50
    # major illness: year 70,877.50 → (70,877.50 − 15,000) × 0.60 = 33,526.50
    # remaining 56,292.50 − 33,526.50 = 22,766; year 14,585 + 22,766 = 37,351 ≥ 20,000
    # → (37,351 − 5,000) × 0.70 = 22,645.70
    assert (v2.hifp_pay, v2.hifmi_pay, v2.maf_pay) == (fen("103707.50"), fen("33526.50"), fen("22645.70"))
    assert v2.psn_cash_pay == fen("120.30")


def test_impoverished_by_illness_aid_owed_on_earlier_cost_is_paid_only_up_to_each_visits_self_pay() -> None:
    """engine/medical_aid.py: a visit is never paid more than its own remaining self-pay; what the
    qualifying visit cannot absorb of the year's aid is paid by later visits (arrears)."""
    book = resident_book(aid_category="impoverished_by_illness")
    book.settle(stay("R1", 40000, "V1"))  # year's remaining cost 14,585, no aid
    v2 = book.settle(stay("R1", 50000, "V2", month=4)).result.setlinfo
    # basic (50,000 − 450) × 0.65 = 32,207.50; self-pay 17,792.50; year 32,377.50
    # major illness (32,377.50 − 15,000) × 0.60 = 10,426.50; left for aid 17,792.50 − 10,426.50 = 7,366
    # year 14,585 + 7,366 = 21,951 ≥ 20,000: the year's aid is (21,951 − 5,000) × 0.70 = 11,865.70,
    # but this visit leaves only 7,366 to the person: aid 7,366, cash 0, 4,499.70 owed
    assert (v2.hifp_pay, v2.hifmi_pay, v2.maf_pay, v2.psn_cash_pay) == (
        fen("32207.50"),
        fen("10426.50"),
        fen(7366),
        0,
    )
    v3 = book.settle(stay("R1", 10000, "V3", month=5)).result.setlinfo
    # 3rd stay: (10,000 − 225) × 0.65 = 6,353.75; self-pay 3,646.25; year 36,023.75
    # major illness (36,023.75 − 15,000) × 0.60 = 12,614.25 − 10,426.50 paid = 2,187.75
    # left for aid 3,646.25 − 2,187.75 = 1,458.50; year 23,409.50 → (23,409.50 − 5,000) × 0.70
    # = 12,886.65, of which 7,366 paid: 5,520.65 owed, limited to this visit's 1,458.50
    assert (v3.hifp_pay, v3.hifmi_pay, v3.maf_pay, v3.psn_cash_pay) == (
        fen("6353.75"),
        fen("2187.75"),
        fen("1458.50"),
        0,
    )


# =========================================================================== eligibility


def covered_from(**kw: object) -> date:
    e = enrolment("R1", **kw)
    return enrolled(e, RESIDENT).coverage_from


def test_enrolled_in_the_collection_period_without_a_break_is_covered_from_1_january_001() -> None:
    assert covered_from() == date(2025, 1, 1)


def test_enrolled_outside_the_collection_period_waits_3_months_000() -> None:
    """[000] 对未在居民医保集中缴费期内参保 … 设置参保后固定待遇等待期3个月."""
    assert covered_from(enrol_date=date(2025, 3, 15), in_collection_period=False) == date(2025, 6, 15)


@pytest.mark.parametrize(
    ("break_years", "paid_back", "months"),
    [
        # the code's documented reading of 每多断保1年…增加1个月: +1 month per year of break
        (1, 0, 4),  # 3 + 1
        (2, 0, 5),  # 3 + 2
        (2, 1, 4),  # one year paid back removes one month of the variable part
        (2, 2, 3),  # never below the fixed 3
        (3, 3, 3),  # the 6-month floor is for breaks of 4 years or more
        (4, 0, 7),  # 3 + 4
        (4, 2, 6),  # 3 + 2 = 5 → at least 6 after a 4-year break
        (4, 4, 6),  # 3 + 0 → at least 6
        (6, 6, 6),
        (6, 0, 9),  # 3 + 6
    ],
)
def test_break_in_cover_waiting_period_000(break_years: int, paid_back: int, months: int) -> None:
    """[000] 每多断保1年 … 增加变动待遇等待期1个月 … 每多缴纳1年可减少1个月 … 连续断缴4年及以上的,
    修复后固定待遇等待期和变动待遇等待期之和不少于6个月."""
    start = covered_from(
        enrol_date=date(2025, 1, 10), in_collection_period=False, break_years=break_years, paid_back_years=paid_back
    )
    assert start == date(2025, 1 + months, 10)


def test_break_in_cover_waits_even_when_paid_in_the_collection_period_000() -> None:
    # paid 2024-11-01 for 2025 after a 2-year break: the wait counts from 1 January: 3 + 2 = 5 months
    assert covered_from(break_years=2) == date(2025, 6, 1)


@pytest.mark.parametrize("exempt", [{"aid_category": "min_living"}, {"veteran_resettled": True}])
def test_aid_recipients_and_resettled_veterans_wait_no_period_000(exempt: dict[str, object]) -> None:
    assert covered_from(enrol_date=date(2025, 4, 2), in_collection_period=False, break_years=3, **exempt) == date(
        2025, 4, 2
    )


def _with_migrant_deadline() -> Policy:
    """The Ningxia file with Anhui's kind of extension ([001] 2: until the end of February);
    Ningxia's own file gives none (test_seed_rules_pays_wrongly)."""
    data = resident_policy_dict()
    data["waiting"]["migrant_deadline"] = [2, 29]
    return Policy.model_validate(data)


def test_migrant_worker_paying_by_the_end_of_february_is_covered_all_year_001() -> None:
    """[001] 外出务工人员 … 筹资时间可延长到 … 2月底 (where a region's file says so)."""
    policy = _with_migrant_deadline()
    e = enrolment("R1", enrol_date=date(2025, 2, 28), in_collection_period=False, migrant_worker=True)
    assert enrolled(e, policy).coverage_from == date(2025, 1, 1)
    # a day later: outside, 3-month wait
    e = enrolment("R1", enrol_date=date(2025, 3, 1), in_collection_period=False, migrant_worker=True)
    assert enrolled(e, policy).coverage_from == date(2025, 6, 1)


def test_migrant_worker_paying_on_29_february_of_a_leap_year_is_on_time_001() -> None:
    """[001] 2月底 is the end of February, the 29th in a leap year (2024 itself was one); the
    file's [2, 29] is clamped to 28 February in other years."""
    e = enrolment("R1", year=2028, enrol_date=date(2028, 2, 29), in_collection_period=False, migrant_worker=True)
    assert enrolled(e, _with_migrant_deadline()).coverage_from == date(2028, 1, 1)


@pytest.mark.parametrize(
    ("enrol_day", "expected"),
    [
        (date(2025, 5, 20), date(2025, 4, 10)),  # 40 days after birth: from birth
        (date(2025, 7, 9), date(2025, 4, 10)),  # day 90 (10 April + 90 days): still from birth
        (date(2025, 7, 10), date(2025, 7, 10)),  # day 91: from enrolment, but newborns never wait
    ],
)
def test_newborn_enrolled_within_90_days_is_covered_from_birth_001(enrol_day: date, expected: date) -> None:
    """[001] 出生90天内参保缴费的,自出生之日起享受医保待遇; [000] newborns are exempt from waiting."""
    start = covered_from(
        psn_type="newborn", birth_date=date(2025, 4, 10), enrol_date=enrol_day, in_collection_period=False
    )
    assert start == expected


def test_rejoining_from_staff_within_3_months_is_retroactive_and_later_waits_3_months_001() -> None:
    """[001] 3个月内接续参加居民医保的,不设待遇享受等待期 … 中断期间的待遇可按规定追溯享受;
    超过3个月接续参加居民医保的,设置3个月待遇享受等待期."""
    left = prior_cover("staff", date(2025, 2, 28))
    # joined 20 May, within 3 months of 28 Feb (28 May): cover from the day after leaving
    assert covered_from(enrol_date=date(2025, 5, 20), in_collection_period=False, prior_cover=left) == date(2025, 3, 1)
    # joined 10 June: 3-month wait from joining
    assert covered_from(enrol_date=date(2025, 6, 10), in_collection_period=False, prior_cover=left) == date(2025, 9, 10)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"first_enrolment": True, "enrol_date": date(2025, 1, 15)}, date(2025, 7, 15)),
        ({"break_years": 1, "enrol_date": date(2025, 2, 1)}, date(2025, 8, 1)),
        ({"enrol_date": date(2024, 12, 1)}, date(2025, 1, 1)),  # continuing: no wait
    ],
)
def test_flexible_employment_staff_wait_6_months_on_first_enrolment_or_after_a_break_000(
    kw: dict[str, object], expected: date
) -> None:
    """[000] 以灵活就业人员身份参加职工医保人员,首次参保或断保后重新参保的待遇等待期统一调整为6个月."""
    e = enrolment("S1", insutype="310", psn_type="flexible", **kw)
    assert enrolled(e, STAFF).coverage_from == expected


def test_an_enrolment_dated_inside_the_cover_year_is_not_in_the_collection_period_000() -> None:
    """[000] 每年9月1日-12月31日为居民医保集中征缴期: paying on 1 May 2025 is outside it → 3-month wait."""
    assert covered_from(enrol_date=date(2025, 5, 1)) == date(2025, 8, 1)


@pytest.mark.parametrize(
    "who",
    [
        {"aid_category": "destitute", "prior_cover": prior_cover("staff", date(2025, 1, 31))},
        {"veteran_resettled": True, "prior_cover": prior_cover("army", date(2025, 1, 31))},
    ],
)
def test_exempt_people_rejoining_late_wait_no_period_000(who: dict[str, object]) -> None:
    """[000] 除新生儿、医疗救助对象、当年接收安置的退役军人 … 等特殊群体外 … 设置 … 等待期
    (docs/domain.md#eligibility)."""
    assert covered_from(enrol_date=date(2025, 7, 1), in_collection_period=False, **who) == date(2025, 7, 1)


def test_no_fund_pays_for_care_inside_the_waiting_period_000() -> None:
    book = resident_book(enrol_date=date(2025, 3, 15), in_collection_period=False)  # covered from 15 June
    inside = book.settle(stay("R1", 10000, "V1", month=5)).result.setlinfo
    assert (inside.fund_pay_sumamt, inside.psn_cash_pay) == (0, fen(10000))
    after = book.settle(claim("R1", [item("1", 10000)], mdtrt_id="V2", begndate=date(2025, 6, 15)))
    # the first *covered* stay: deductible 900 → (10,000 − 900) × 0.65 = 5,915
    assert after.result.setlinfo.hifp_pay == fen(5915)


def test_a_stay_over_new_year_of_a_continuously_insured_person_is_paid_under_the_new_year() -> None:
    """contracts.claims.visit_year: a stay over New Year is settled under the year it ends in."""
    book = resident_book(continuous_years=5)
    c = claim("R1", [item("1", 10000)], mdtrt_id="V1", begndate=date(2024, 12, 28), enddate=date(2025, 1, 3))
    # settled under 2025 as its first stay: (10,000 − 900) × 0.65 = 5,915
    assert book.settle(c).result.setlinfo.hifp_pay == fen(5915)


def test_a_stay_over_new_year_is_not_paid_when_this_years_cover_starts_later() -> None:
    book = resident_book(enrol_date=date(2025, 1, 10), in_collection_period=False)  # covered from 10 April
    c = claim("R1", [item("1", 10000)], mdtrt_id="V1", begndate=date(2024, 12, 28), enddate=date(2025, 1, 3))
    assert book.settle(c).result.setlinfo.fund_pay_sumamt == 0


# =========================================================================== refusals before pricing


def test_claims_are_refused_for_unknown_people_wrong_scheme_settled_visits_and_other_years() -> None:
    c = stay("R1", 100, "V1")
    with pytest.raises(Rejected) as refused:
        settle(c, PersonYear(psn_no="R1", year=2025), RESIDENT)
    assert refused.value.code is RejectionCode.UNKNOWN_PERSON

    book = resident_book()
    with pytest.raises(Rejected) as refused:
        book.settle(stay("R1", 100, "V1", insutype="310"))
    assert refused.value.code is RejectionCode.SCHEME_MISMATCH

    book.settle(c)
    with pytest.raises(Rejected) as refused:
        book.settle(claim("R1", [item("1", 100)], mdtrt_id="V1", request_id="OTHER"))
    assert refused.value.code is RejectionCode.VISIT_ALREADY_SETTLED

    late = claim("R1", [item("1", 100)], mdtrt_id="V9", begndate=date(2026, 1, 5))
    with pytest.raises(Rejected) as refused:
        book.settle(late)
    assert refused.value.code is RejectionCode.OUTSIDE_POLICY_YEAR


# =========================================================================== personal account


def staff_book(balance: int | str = 1200, **kw: object) -> Book:
    book = Book(STAFF)
    book.enrol(enrolment("S1", insutype="310", acct_opening_balance=balance, **kw))
    return book


def pharmacy(psn_no: str, items: list[ClaimItem], visit: str = "V1", insutype: str = "310", **kw: Any) -> Claim:
    return claim(psn_no, items, mdtrt_id=visit, med_type="41", kind="retail_pharmacy", insutype=insutype, **kw)


def test_staff_account_pays_only_when_asked_003() -> None:
    book = staff_book()
    s = book.settle(pharmacy("S1", [item("1", 80)])).result.setlinfo
    # no acct_used_flag: 80 in cash, balance unchanged at 1,200
    assert (s.acct_pay, s.psn_cash_pay, s.balc) == (0, fen(80), fen(1200))


def test_staff_account_pays_up_to_its_balance_and_never_an_excluded_category_003() -> None:
    """[003] 个人账户不得用于公共卫生费用、体育健身或养生保健消费等 … 支出."""
    book = staff_book()
    s = book.settle(pharmacy("S1", [item("1", 80), item("2", 50, excluded="wellness")], acct_used_flag=True))
    info = s.result.setlinfo
    # no fund at a pharmacy without prescription; person owes 130, of which the account may pay 80
    assert (info.psn_part_amt, info.acct_pay, info.psn_cash_pay, info.balc) == (fen(130), fen(80), fen(50), fen(1120))
    acct = row(s, FundPayType.STAFF_ACCOUNT)
    assert (acct.fund_payamt, acct.crt_payb_lmt_amt) == (fen(80), fen(1200))
    assert book.state("S1").account_balance == fen(1120)

    low = staff_book(balance=60)
    t = low.settle(pharmacy("S1", [item("1", 80)], acct_used_flag=True)).result.setlinfo
    # balance 60 < 80: the account pays 60, cash 20, balance 0
    assert (t.acct_pay, t.psn_cash_pay, t.balc) == (fen(60), fen(20), 0)


@pytest.mark.parametrize("category", ["public_health", "fitness", "wellness"])
def test_staff_account_never_pays_public_health_fitness_or_wellness_003(category: str) -> None:
    s = staff_book().settle(pharmacy("S1", [item("1", 50, excluded=category)], acct_used_flag=True)).result.setlinfo
    assert (s.acct_pay, s.psn_cash_pay) == (0, fen(50))


def test_staff_account_pays_the_self_pay_left_after_the_pooled_fund() -> None:
    book = staff_book()
    c = claim("S1", [item("1", 500)], mdtrt_id="V1", med_type="11", level="2", insutype="310", acct_used_flag=True)
    s = book.settle(c).result.setlinfo
    # staff general outpatient (test policy 60%, yearly deductible 100): (500 − 100) × 0.60 = 240
    # the person owes 260; the account pays all of it, balance 1,200 − 260 = 940
    assert (s.hifp_pay, s.acct_pay, s.psn_cash_pay, s.balc) == (fen(240), fen(260), 0, fen(940))


def test_staff_general_outpatient_yearly_cap_is_1200_in_the_test_staff_policy_004() -> None:
    book = staff_book()
    c = claim("S1", [item("1", 3000)], mdtrt_id="V1", med_type="11", level="2", insutype="310")
    # (3,000 − 100) × 0.60 = 1,740 → the staff general outpatient cap 1,200
    assert book.settle(c).result.setlinfo.hifp_pay == fen(1200)


def family_book(**payer: object) -> Book:
    """Parent S1 (staff, balance 1,200) has registered resident child R9 for 家庭共济."""
    book = Book(RESIDENT)
    values: dict[str, object] = {"family_members": (family("R9", "child"),)}
    values.update(payer)
    book.enrol(enrolment("S1", insutype="310", acct_opening_balance=1200, **values), STAFF)
    book.enrol(enrolment("R9", psn_type="student"))
    return book


def test_family_mutual_aid_parents_account_pays_for_a_resident_child_003() -> None:
    """[003] 个人账户可以用于支付参保人员本人及其配偶、父母、子女 … 由个人负担的医疗费用."""
    book = family_book()
    c = claim(
        "R9",
        [item("1", 500)],
        mdtrt_id="V1",
        med_type="11",
        level="2",
        acct_used_flag=True,
        acct_payer_psn_no="S1",
        acct_payer_relation="child",
    )
    s = book.settle(c)
    info = s.result.setlinfo
    # resident general outpatient: (500 − 100) × 0.50 = 200; the child owes 300, all from the parent
    assert (info.hifp_pay, info.psn_part_amt) == (fen(200), fen(300))
    assert (info.acct_pay, info.acct_mulaid_pay, info.psn_cash_pay) == (fen(300), fen(300), 0)
    # the debit is recorded in the parent's stream, the settlement in the child's
    (child_stream, settled), (parent_stream, debit) = s.events
    assert child_stream == stream_id("R9", 2025) and isinstance(settled, ClaimSettled)
    assert parent_stream == stream_id("S1", 2025) and isinstance(debit, FamilyAccountDebited)
    assert (debit.beneficiary_psn_no, debit.amount) == ("R9", fen(300))
    assert book.state("S1").account_balance == fen(900)
    assert book.state("S1").totals.acct_paid_for_family == fen(300)
    assert book.state("R9").totals.acct_mulaid_received == fen(300)


@pytest.mark.parametrize(
    ("registered", "claimed_relation"),
    [
        ((), "child"),  # nobody registered
        ((family("R9", "spouse"),), "child"),  # registered under another relation
        ((family("R8", "child"),), "child"),  # another child registered
    ],
)
def test_family_account_for_an_unregistered_relative_is_rejected_003(
    registered: tuple[object, ...], claimed_relation: str
) -> None:
    book = family_book(family_members=registered)
    c = claim(
        "R9",
        [item("1", 500)],
        mdtrt_id="V1",
        med_type="11",
        level="2",
        acct_used_flag=True,
        acct_payer_psn_no="S1",
        acct_payer_relation=claimed_relation,
    )
    with pytest.raises(Rejected) as refused:
        book.settle(c)
    assert refused.value.code is RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED


def test_family_account_of_a_resident_relative_is_rejected_because_residents_have_no_account() -> None:
    book = resident_book("R9")
    book.enrol(enrolment("R1", family_members=(family("R9", "child"),)))
    c = claim(
        "R9",
        [item("1", 100)],
        mdtrt_id="V1",
        med_type="11",
        level="2",
        acct_used_flag=True,
        acct_payer_psn_no="R1",
        acct_payer_relation="child",
    )
    with pytest.raises(Rejected) as refused:
        book.settle(c)
    assert refused.value.code is RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED


# =========================================================================== account credits


def test_in_service_account_credit_is_2_percent_of_the_contribution_base_003() -> None:
    """[003] 在职职工个人账户,按照本人参保缴费基数2%缴纳的基本医疗保险费计入."""
    book = staff_book(contribution_base=8000)
    # 8,000 × 0.02 = 160 a month
    assert book.credit("S1", 1) == fen(160)
    assert book.credit("S1", 2) == fen(160)
    assert book.state("S1").account_balance == fen(1200 + 160 + 160)


def test_account_credit_rounds_half_up_to_the_fen() -> None:
    # 8,333.25 × 0.02 = 166.665 → 166.67 (half up)
    assert staff_book(contribution_base="8333.25").credit("S1", 1) == fen("166.67")


def test_retiree_account_credit_is_the_fixed_monthly_amount_003() -> None:
    """[003] 退休人员个人账户 … 以2021年全区平均基本养老金为基数 … 2023年起按照2%比例定额划入
    (test policy: 3,000 × 2% = 60 a month, whatever the person's own pension)."""
    book = staff_book(psn_type="retired")
    assert book.credit("S1", 1) == fen(60)


def test_a_month_is_credited_once_and_residents_have_no_account() -> None:
    book = staff_book()
    book.credit("S1", 3)
    with pytest.raises(Rejected) as refused:
        book.credit("S1", 3)
    assert refused.value.code is RejectionCode.ACCOUNT_MONTH_ALREADY_CREDITED
    with pytest.raises(Rejected) as refused:
        resident_book().credit("R1", 3)
    assert refused.value.code is RejectionCode.NO_PERSONAL_ACCOUNT


# =========================================================================== reversal


def test_reversal_restores_the_totals_and_frees_the_visit_to_be_settled_again_docs_domain_6() -> None:
    book = resident_book()
    book.settle(stay("R1", 10000, "V1"))
    before = book.state("R1").totals
    s = book.settle(stay("R1", 20000, "V2", month=4))
    done = book.reverse("R1", s.result.setl_id)
    assert book.state("R1").totals == before
    assert "V2" not in book.state("R1").visits
    # the reversal's figures are the original's with the sign turned
    assert done.result.setlinfo.hifp_pay == -s.result.setlinfo.hifp_pay
    assert done.result.setlinfo.medfee_sumamt == -fen(20000)
    # settled again (a new request): priced as the 2nd stay again, (20,000 − 450) × 0.65 = 12,707.50
    again = book.settle(stay("R1", 20000, "V2", month=4, request_id="REQ-V2-again"))
    assert again.result.setlinfo.hifp_pay == fen("12707.50")
    assert again.result.setlinfo == s.result.setlinfo


def test_a_second_reversal_is_refused_as_already_reversed() -> None:
    book = resident_book()
    s = book.settle(stay("R1", 10000, "V1"))
    book.reverse("R1", s.result.setl_id)
    with pytest.raises(Rejected) as refused:
        book.reverse("R1", s.result.setl_id, request_id="REV-2")
    assert refused.value.code is RejectionCode.ALREADY_REVERSED


def test_only_the_institution_that_settled_may_reverse() -> None:
    book = resident_book()
    s = book.settle(stay("R1", 10000, "V1"))
    with pytest.raises(Rejected) as refused:
        book.reverse("R1", s.result.setl_id, fixmedins_code="H999")
    assert refused.value.code is RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT
    with pytest.raises(Rejected) as refused:
        book.reverse("R1", "S2025-0000000000000000")
    assert refused.value.code is RejectionCode.REVERSAL_OF_UNKNOWN_SETTLEMENT


def test_reversal_gives_back_the_own_account_and_the_relatives_account() -> None:
    book = family_book()
    own = book.settle(pharmacy("S1", [item("1", 100)], visit="V0", acct_used_flag=True))
    assert book.state("S1").account_balance == fen(1100)
    c = claim(
        "R9",
        [item("1", 300)],
        mdtrt_id="V1",
        med_type="41",
        kind="retail_pharmacy",
        acct_used_flag=True,
        acct_payer_psn_no="S1",
        acct_payer_relation="child",
    )
    s = book.settle(c)
    assert s.result.setlinfo.acct_mulaid_pay == fen(300)
    assert book.state("S1").account_balance == fen(800)
    done = book.reverse("R9", s.result.setl_id)
    assert isinstance(done.events[1][1], FamilyAccountRefunded)
    assert book.state("S1").account_balance == fen(1100)
    assert book.state("S1").totals.acct_paid_for_family == 0
    assert book.state("R9").totals == ZERO  # the child's year is back to nothing settled
    mine = book.reverse("S1", own.result.setl_id, request_id="REV-own")
    assert mine.result.setlinfo.balc == fen(1200)
    assert book.state("S1").account_balance == fen(1200)


def test_an_earlier_stay_can_be_reversed_after_a_later_one_crossed_the_aid_threshold() -> None:
    """docs/domain.md#reversal: the hospital may cancel any of its settlements; the year keeps the others."""
    book = resident_book(aid_category="impoverished_by_illness")
    first = book.settle(stay("R1", 40000, "V1"))
    second = book.settle(stay("R1", 50000, "V2", month=4))
    book.reverse("R1", first.result.setl_id)
    assert book.state("R1").totals == second.delta
    assert set(book.state("R1").visits) == {"V2"}


# =========================================================================== DRG / DIP
# The case valuation (the fund's grouping, points, standards, outliers) has its worked examples
# in tests/unit/test_clearing_case_valuation.py.


# =========================================================================== policy options


def test_a_benefit_outside_the_annual_cap_still_pays_when_the_annual_cap_is_spent() -> None:
    """engine.policy.Benefit.counts_in_annual_cap = false: the benefit spends only its own cap."""
    data = resident_policy_dict()
    data["benefits"]["general_outpatient"]["counts_in_annual_cap"] = False
    book = Book(Policy.model_validate(data))
    book.enrol(enrolment("R1"))
    book.settle(stay("R1", 700000, "V1"))  # spends the 130,000
    s = book.settle(claim("R1", [item("1", 500)], mdtrt_id="V2", med_type="11", level="2"))
    # its own 400 cap is untouched: (500 − 100) × 0.50 = 200
    assert s.result.setlinfo.hifp_pay == fen(200)
    basic = row(s, FundPayType.RESIDENT_POOLED)
    assert basic.fund_payamt == fen(200) <= basic.crt_payb_lmt_amt
    assert book.state("R1").totals.hifp_in_annual_cap == fen(130000)


def test_a_retried_claim_gets_the_same_settlement_and_event_ids_adr_0002() -> None:
    """docs/adr/0002: ids derive from the idempotency key, so a retry cannot mint a second settlement."""
    book = resident_book()
    c = stay("R1", 10000, "V1")
    first, second = book.price(c), book.price(c)
    assert first.result.setl_id == second.result.setl_id
    assert first.result.setl_id.startswith("S2025-")
    assert first.result.event_id == second.result.event_id
    other = book.price(stay("R1", 10000, "V1", request_id="REQ-other"))
    assert other.result.setl_id != first.result.setl_id


def test_waiting_defaults_match_the_seeds() -> None:
    """The defaults of engine.policy.Waiting are the seeds' numbers (000 五, 001 2 and 8)."""
    w = Waiting()
    assert (w.fixed_months, w.variable_months_per_break_year, w.long_break_years, w.long_break_min_months) == (
        3,
        1,
        4,
        6,
    )
    assert (w.flexible_staff_months, w.rejoin_grace_months, w.rejoin_late_wait_months, w.newborn_grace_days) == (
        6,
        3,
        3,
        90,
    )
