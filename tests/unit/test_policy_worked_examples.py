"""Worked examples for every shipped policy file: the same visits priced under each file, the
figures computed by hand in the comments from the file's own numbers (most of them the file's
ASSUMPTIONs, see docs/policies.md), then checked against the engine. Every visit is the person's
first of the year; staff are in service, residents adults, unless a row says otherwise.

  inpatient     a first stay of 20,000 (one 甲类 line) at a level-2 hospital
  outpatient    a general-outpatient visit of 1,000 at a level-2 hospital
  chronic       a 门诊慢特病 visit of 5,000 for registered diabetes (E11) at a level-2 hospital
  dual channel  a negotiated 甲类 drug of 3,000 at a designated dual-channel pharmacy (三定 met)
  major illness residents: a stay of 300,000 at level 3; staff: see the rows
  aid           the inpatient stay of a 低保 (min_living) person
"""

from __future__ import annotations

from datetime import date

import pytest
from engine_builders import Book, claim, enrolment, fen, item, physician, shipped

IM_S, SP_S, SP_R, AH_R = "150000-310-2025.toml", "220300-310-2025.toml", "220300-390-2025.toml", "340000-390-2024.toml"
NX_S, NX_R, ZW_S, ZW_R = "640000-310-2025.toml", "640000-390-2025.toml", "640500-310-2025.toml", "640500-390-2025.toml"
XJ_S, XJ_R = "650000-310-2025.toml", "650000-390-2025.toml"
EVERY = [IM_S, SP_S, SP_R, AH_R, NX_S, NX_R, ZW_S, ZW_R, XJ_S, XJ_R]
REGION = {
    IM_S: "150102",
    SP_S: "220302",
    SP_R: "220302",
    AH_R: "341222",
    NX_S: "640104",
    NX_R: "640104",
    ZW_S: "640502",
    ZW_R: "640502",
    XJ_S: "650102",
    XJ_R: "650102",
}


def _book(name: str, **person: object) -> tuple[Book, str, int]:
    policy = shipped(name)
    year, insutype = policy.policy.year, policy.policy.scheme.value
    book = Book(policy, year=year)
    book.enrol(
        enrolment(
            "P1", insutype=insutype, year=year, enrol_date=date(year - 1, 11, 1), insuplc_admdvs=REGION[name], **person
        )
    )
    return book, insutype, year


def test_every_shipped_file_has_its_worked_examples() -> None:
    from pathlib import Path

    shipped_names = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "policies").glob("*.toml"))
    assert shipped_names == sorted(EVERY)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (IM_S, "16878.00"),  # (20,000 − 600) × 0.87 = 19,400 × 0.87
        (SP_S, "16965.00"),  # (20,000 − 500) × 0.87 = 19,500 × 0.87
        (SP_R, "13720.00"),  # (20,000 − 400) × 0.70 = 19,600 × 0.70
        (AH_R, "14550.00"),  # (20,000 − 600) × 0.75 = 19,400 × 0.75
        (NX_S, "17160.00"),  # (20,000 − 500) × 0.88 = 19,500 × 0.88
        (NX_R, "14550.00"),  # (20,000 − 600) × 0.75
        (ZW_S, "17160.00"),  # as Ningxia's staff file
        (ZW_R, "14550.00"),  # as Ningxia's residents' file
        (XJ_S, "16965.00"),  # (20,000 − 500) × 0.87
        (XJ_R, "14700.00"),  # (20,000 − 400) × 0.75 = 19,600 × 0.75
    ],
)
def test_inpatient_stay(name: str, expected: str) -> None:
    book, insutype, year = _book(name)
    c = claim("P1", [item("1", 20000)], mdtrt_id="V1", level="2", insutype=insutype, begndate=date(year, 3, 1))
    assert book.settle(c).result.setlinfo.hifp_pay == fen(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (IM_S, "400.00"),  # (1,000 − 200) × 0.50
        (SP_S, "400.00"),  # (1,000 − 200) × 0.50
        (SP_R, "300.00"),  # (1,000 − 100) × 0.50 = 450 → the yearly cap 300
        (AH_R, "300.00"),  # (1,000 − 100) × 0.50 = 450 → the yearly cap 300
        (NX_S, "480.00"),  # (1,000 − 200) × 0.60
        (NX_R, "400.00"),  # (1,000 − 100) × 0.50 = 450 → the yearly cap 400 (ASSUMPTION)
        (ZW_S, "480.00"),  # (1,000 − 200) × 0.60, under Zhongwei's 1,200 [004]
        (ZW_R, "330.00"),  # 450 → Zhongwei's cap 330 [004]
        (XJ_S, "440.00"),  # (1,000 − 200) × 0.55
        (XJ_R, "400.00"),  # (1,000 − 50) × 0.50 = 475 → the yearly cap 400
    ],
)
def test_general_outpatient_visit(name: str, expected: str) -> None:
    book, insutype, year = _book(name)
    c = claim(
        "P1", [item("1", 1000)], mdtrt_id="V1", med_type="11", level="2", insutype=insutype, begndate=date(year, 3, 1)
    )
    assert book.settle(c).result.setlinfo.hifp_pay == fen(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (IM_S, "3525.00"),  # (5,000 − 300) × 0.75, under the 8,000 门诊慢性病 cap
        (SP_S, "3760.00"),  # (5,000 − 300) × 0.80
        (SP_R, "2760.00"),  # (5,000 − 400) × 0.60
        (AH_R, "2925.00"),  # (5,000 − 500) × 0.65
        (NX_S, "3760.00"),  # (5,000 − 300) × 0.80
        (NX_R, "2860.00"),  # (5,000 − 600) × 0.65
        (ZW_S, "3760.00"),
        (ZW_R, "2860.00"),
        (XJ_S, "3760.00"),  # (5,000 − 300) × 0.80
        (XJ_R, "3055.00"),  # (5,000 − 300) × 0.65
    ],
)
def test_chronic_outpatient_visit(name: str, expected: str) -> None:
    book, insutype, year = _book(name, registered_diseases=("E11",))
    c = claim(
        "P1",
        [item("1", 5000)],
        mdtrt_id="V1",
        med_type="14",
        level="2",
        insutype=insutype,
        dise_codg="E11",
        begndate=date(year, 3, 1),
    )
    assert book.settle(c).result.setlinfo.hifp_pay == fen(expected)


@pytest.mark.parametrize("name", EVERY)
def test_dual_channel_negotiated_drug(name: str) -> None:
    """Every file keeps [004]'s design: 500 a year, then 75% staff / 60% residents (borrowed outside Ningxia)."""
    book, insutype, year = _book(name)
    c = claim(
        "P1",
        [item("1", 3000, nego=True)],
        mdtrt_id="V1",
        med_type="41",
        kind="dual_channel_pharmacy",
        insutype=insutype,
        dual_channel_designated=True,
        resp_physician=physician("attending"),
        begndate=date(year, 3, 1),
    )
    # staff (3,000 − 500) × 0.75 = 1,875.00; residents (3,000 − 500) × 0.60 = 1,500.00
    assert book.settle(c).result.setlinfo.hifp_pay == fen("1875.00" if insutype == "310" else "1500.00")


@pytest.mark.parametrize(
    ("name", "basic", "major"),
    [
        # basic (300,000 − 700) × 0.60 = 179,580 → cap 150,000; self-pay 150,000;
        # 0.60 × (100,000 − 14,000) + 0.70 × 50,000 = 51,600 + 35,000
        (SP_R, "150000.00", "86600.00"),
        # basic (300,000 − 1,000) × 0.65 = 194,350 (cap 200,000); self-pay 105,650;
        # 0.60 × 35,000 + 0.70 × 50,000 + 0.80 × 5,650 = 21,000 + 35,000 + 4,520
        (AH_R, "194350.00", "60520.00"),
        # basic (300,000 − 900) × 0.65 = 194,415 → cap 130,000; self-pay 170,000;
        # 0.60 × 85,000 + 0.70 × 70,000 = 51,000 + 49,000
        (NX_R, "130000.00", "100000.00"),
        (ZW_R, "130000.00", "100000.00"),
        # basic (300,000 − 800) × 0.60 = 179,520 (cap 180,000); self-pay 120,480;
        # 0.60 × 85,000 + 0.70 × 20,480 = 51,000 + 14,336
        (XJ_R, "179520.00", "65336.00"),
        # staff on self-pay bands ([000] 职工大病保险): basic (300,000 − 900) × 0.84 = 251,244; self-pay
        # 48,756; 0.80 × (48,756 − 20,000) = 23,004.80
        (XJ_S, "251244.00", "23004.80"),
    ],
)
def test_major_illness_on_the_years_self_pay(name: str, basic: str, major: str) -> None:
    book, insutype, year = _book(name)
    c = claim("P1", [item("1", 300000)], mdtrt_id="V1", level="3", insutype=insutype, begndate=date(year, 3, 1))
    info = book.settle(c).result.setlinfo
    assert info.hifp_pay == fen(basic)
    assert (info.hifob_pay if insutype == "310" else info.hifmi_pay) == fen(major)


@pytest.mark.parametrize(
    ("name", "first", "cap", "second"),
    [
        # 职工大额 above the basic cap: stay 1 spends the basic cap; stay 2 (2nd-stay deductible) is all above it
        (IM_S, 600000, "400000.00", "44550.00"),  # (50,000 − 500) × 0.90
        (SP_S, 300000, "200000.00", "42160.00"),  # (50,000 − 400) × 0.85
        (NX_S, 600000, "400000.00", "44640.00"),  # (50,000 − 400) × 0.90
        (ZW_S, 600000, "400000.00", "44640.00"),
    ],
)
def test_staff_large_amount_above_the_basic_cap(name: str, first: int, cap: str, second: str) -> None:
    book, insutype, year = _book(name)
    one = claim("P1", [item("1", first)], mdtrt_id="V1", level="3", insutype=insutype, begndate=date(year, 3, 1))
    assert book.settle(one).result.setlinfo.hifp_pay == fen(cap)
    two = claim("P1", [item("1", 50000)], mdtrt_id="V2", level="3", insutype=insutype, begndate=date(year, 4, 1))
    info = book.settle(two).result.setlinfo
    assert (info.hifp_pay, info.hifob_pay) == (0, fen(second))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # self-pay = 20,000 − the inpatient row above; under every major-illness threshold (even halved)
        (IM_S, "2809.80"),  # 3,122 × 0.90
        (SP_S, "2276.25"),  # 3,035, the first segment: × 0.75
        (SP_R, "4710.00"),  # 6,280, the first segment: × 0.75 (major illness from 7,000: nothing)
        (AH_R, "4360.00"),  # 5,450 × 0.80
        (NX_S, "2556.00"),  # 2,840 × 0.90
        (NX_R, "4905.00"),  # 5,450 × 0.90
        (ZW_S, "2556.00"),
        (ZW_R, "4905.00"),
        (XJ_S, "2731.50"),  # 3,035 × 0.90
        (XJ_R, "4770.00"),  # 5,300 × 0.90
    ],
)
def test_medical_aid_for_a_min_living_person(name: str, expected: str) -> None:
    book, insutype, year = _book(name, aid_category="min_living")
    c = claim("P1", [item("1", 20000)], mdtrt_id="V1", level="2", insutype=insutype, begndate=date(year, 3, 1))
    info = book.settle(c).result.setlinfo
    assert (info.hifmi_pay, info.hifob_pay, info.maf_pay) == (0, 0, fen(expected))
