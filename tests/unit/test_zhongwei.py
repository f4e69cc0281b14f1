"""Issue 12, item 5: Zhongwei's general-outpatient caps are Zhongwei's, in Zhongwei's own files.

[004] (宁夏医保局 工作简报, 2021) reports them in the paragraph 「中卫市医保局以“六个强化”谱写医保新篇章」:
「年度内城乡居民普通门诊最高支付限额330元/人,职工普通门诊最高限额1200元/人」. The Ningxia-wide files
carry an assumed cap of their own; a Yinchuan resident falls back to them, a Zhongwei one to the city's.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from engine_builders import Book, claim, enrolment, fen, item, shipped

from contracts.codes import Insutype
from engine.benefit_name import BenefitName
from engine.policy_files import load_policy_book

POLICIES = Path(__file__).resolve().parents[2] / "policies"
PAIRS = [("640000-390-2025.toml", "640500-390-2025.toml"), ("640000-310-2025.toml", "640500-310-2025.toml")]


@pytest.mark.parametrize(("region_file", "city_file"), PAIRS)
def test_the_zhongwei_file_repeats_the_regional_file_but_for_the_zhongwei_cap(region_file: str, city_file: str) -> None:
    """A city file replaces the province's whole file, so it must repeat every regional number;
    the only figure it may change is the one [004] reports for Zhongwei."""
    region = shipped(region_file).model_dump(mode="json")
    city = shipped(city_file).model_dump(mode="json")
    for data in (region, city):
        del data["policy"]  # id, region, name differ by design
        del data["benefits"]["general_outpatient"]["yearly_cap"]
    assert city == region


def test_the_330_and_1200_caps_are_cited_only_in_the_zhongwei_files_004() -> None:
    """Every file says whose number it is: the Zhongwei figures are cited nowhere else as a cap."""
    for path in POLICIES.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        cited = re.findall(r'yearly_cap = "(330|1200)"', text)
        assert bool(cited) == path.name.startswith("640500-"), path.name


@pytest.mark.parametrize(
    ("insured_in", "scheme", "policy_id"),
    [
        ("640502", Insutype.RESIDENT, "zhongwei-resident-2025"),  # 沙坡头区 → 中卫市
        ("640522", Insutype.STAFF, "zhongwei-staff-2025"),  # 海原县 → 中卫市
        ("640104", Insutype.RESIDENT, "ningxia-resident-2025"),  # 兴庆区 (银川) → the region
        ("640100", Insutype.STAFF, "ningxia-staff-2025"),
    ],
)
def test_zhongwei_people_get_the_city_file_and_yinchuan_people_the_regional_one(
    insured_in: str, scheme: Insutype, policy_id: str
) -> None:
    book = load_policy_book(POLICIES)
    assert book.in_force(insured_in, scheme, date(2025, 6, 1)).ref.policy_id == policy_id


def _three_general_outpatient_visits(name: str, region: str) -> list[int]:
    """A resident's three visits of 500 at a level-2 hospital; the basic fund's payment of each, in fen."""
    book = Book(shipped(name))
    book.enrol(enrolment("P1", insuplc_admdvs=region))
    paid = []
    for n in (1, 2, 3):
        c = claim("P1", [item("1", 500)], mdtrt_id=f"V{n}", med_type="11", level="2")
        paid.append(book.settle(c).result.setlinfo.hifp_pay)
    assert book.state("P1").totals.hifp[BenefitName.GENERAL_OUTPATIENT] == sum(paid)
    return paid


def test_a_zhongwei_resident_stops_at_330_a_yinchuan_resident_at_the_regional_400_004() -> None:
    """[004] 中卫市: 「年度内城乡居民普通门诊最高支付限额330元/人」."""
    # Zhongwei: visit 1 (500 − 100 deductible) × 0.50 = 200; visit 2: 500 × 0.50 = 250, but only
    # 330 − 200 = 130 is left; visit 3: nothing. Total 330.
    assert _three_general_outpatient_visits("640500-390-2025.toml", "640502") == [fen(200), fen(130), 0]
    # Yinchuan (the regional ASSUMPTION 400): 200; then 250 but only 400 − 200 = 200 left; then 0.
    assert _three_general_outpatient_visits("640000-390-2025.toml", "640104") == [fen(200), fen(200), 0]


def test_a_zhongwei_staff_member_stops_at_1200_a_yinchuan_one_at_the_regional_1500_004() -> None:
    """[004] 中卫市: 「职工普通门诊最高限额1200元/人」. In service, level 2: 200 deductible, 60%."""

    # each visit of 2,000 at level 2: visit 1 (2,000 − 200) × 0.60 = 1,080; visit 2: 2,000 × 0.60 =
    # 1,200, but Zhongwei leaves 1,200 − 1,080 = 120; the region 1,500 − 1,080 = 420; visit 3: 0.
    def visits(name: str, region: str) -> list[int]:
        book = Book(shipped(name))
        book.enrol(enrolment("S1", insutype="310", insuplc_admdvs=region))
        return [
            book.settle(
                claim("S1", [item("1", 2000)], mdtrt_id=f"V{n}", med_type="11", level="2", insutype="310")
            ).result.setlinfo.hifp_pay
            for n in (1, 2, 3)
        ]

    assert visits("640500-310-2025.toml", "640502") == [fen(1080), fen(120), 0]
    assert visits("640000-310-2025.toml", "640104") == [fen(1080), fen(420), 0]
