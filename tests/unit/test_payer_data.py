"""The payer's catalogues and registries as versioned policy data (docs/policies.md, "Payer
data"): loaded from the national download shapes, looked up "in force on the visit's day",
covered by the policy's content hash; national code sets as data and the region's mapping."""

from __future__ import annotations

import shutil
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.codes import ChargeLevel, InstitutionKind, Insutype, PersonType, PhysicianTitle, RejectionCode
from engine.code_mapping import med_category, person_type_of, scheme_of
from engine.errors import Rejected
from engine.national_codes import MedCategory, load_code_sets
from engine.payer_casemix import diagnosis_prefixes
from engine.payer_catalogue import terms_on
from engine.payer_files import PayerFileError, load_payer_data
from engine.payer_registry import PaymentMethod
from engine.policy_files import PolicyFileError, load_policy_book

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CODES = load_code_sets(POLICIES / "codes")
NINGXIA = load_payer_data(POLICIES / "payer" / "640000", CODES)
DAY = date(2025, 6, 1)
HEADER = (
    "hilist_code,hilist_name,list_type,med_chrgitm_type,chrgitm_lv,lmt_used_flag,hi_nego_drug_flag,begndate,enddate"
)
INSTITUTIONS = (
    "fixmedins_code,fixmedins_name,fixmedins_type,hosp_lv,primary_care,admdvs,dual_channel,"
    "internet_hospital,inpatient_paymtd,begndate,enddate\n"
    "H1,一,1,2,0,640104,0,0,item,2024-01-01,\n"
)


def payer_folder(tmp_path: Path, hilist: str, institutions: str = INSTITUTIONS) -> Path:
    (tmp_path / "catalogue").mkdir(parents=True)
    (tmp_path / "registry").mkdir()
    (tmp_path / "catalogue" / "hilist.csv").write_text(hilist, encoding="utf-8")
    (tmp_path / "registry" / "institutions.csv").write_text(institutions, encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------------ national code sets


def test_national_code_sets_keep_the_national_meaning_of_med_type_22_to_24() -> None:
    assert CODES.name("med_type", "21") == "普通住院"
    assert CODES.name("med_type", "22") == "外伤住院"
    assert CODES.name("med_type", "23") == "转外诊治住院"
    assert CODES.name("med_type", "24") == "急诊转住院"
    assert CODES.describe("med_type", "9901") == "9901 (not a national med_type code)"


def test_every_code_set_the_task_names_is_shipped_with_names() -> None:
    for name in ("psn_type", "insutype", "fund_pay_type", "mdtrt_cert_type", "psn_cert_type", "chrgitm_lv"):
        assert CODES.sets[name].names, name
    for name in ("med_chrgitm_type", "list_type", "diag_type", "clr_type", "psn_setlway"):
        assert CODES.sets[name].names, name
    assert CODES.name("psn_type", "1201") == "职工退休"
    assert CODES.name("insutype", "392") == "城乡居民大病医疗保险"


@pytest.mark.parametrize("code", ["21", "22", "23", "24"])
def test_every_shipped_policy_maps_the_four_national_inpatient_codes_to_inpatient(code: str) -> None:
    for priced in load_policy_book(POLICIES).policies:
        assert med_category(priced.policy, code, CODES) is MedCategory.INPATIENT, priced.file


def test_a_med_type_the_region_does_not_map_is_refused_naming_the_code_and_its_meaning() -> None:
    policy = load_policy_book(POLICIES).policies[0].policy
    with pytest.raises(Rejected) as refused:
        med_category(policy, "25", CODES)
    assert refused.value.code is RejectionCode.UNMAPPED_CODE
    assert "25 (异地住院)" in refused.value.message and "[codes.med_type]" in refused.value.message


def test_maternity_med_types_are_refused_as_not_settled_here() -> None:
    policy = load_policy_book(POLICIES).policies[0].policy
    for code in ("51", "52"):
        with pytest.raises(Rejected) as refused:
            med_category(policy, code, CODES)
        assert refused.value.code is RejectionCode.NOT_SETTLED_HERE
        assert "maternity" in refused.value.message


def test_national_psn_type_maps_to_the_engines_person_type_within_its_scheme() -> None:
    policy = load_policy_book(POLICIES).in_force("640000", Insutype.RESIDENT, DAY).policy
    assert person_type_of(policy, "1201", Insutype.STAFF, CODES) is PersonType.RETIRED
    assert person_type_of(policy, "1403", Insutype.RESIDENT, CODES) is PersonType.STUDENT
    with pytest.raises(Rejected, match="does not belong to insutype 390"):
        person_type_of(policy, "1101", Insutype.RESIDENT, CODES)
    with pytest.raises(Rejected, match="1300 \\(离休\\)"):
        person_type_of(policy, "1300", Insutype.STAFF, CODES)


def test_insutype_codes_other_than_the_two_schemes_are_refused_naming_them() -> None:
    policy = load_policy_book(POLICIES).in_force("640000", Insutype.STAFF, DAY).policy
    assert scheme_of(policy, "310", CODES) is Insutype.STAFF
    with pytest.raises(Rejected, match="320 \\(公务员医疗补助\\)"):
        scheme_of(policy, "320", CODES)


# ------------------------------------------------------------------ the sample and its lookups


def test_the_sample_catalogue_gives_class_ratio_cap_and_flag_in_force_on_the_day() -> None:
    ceftriaxone = terms_on(NINGXIA.catalogue, "XJ01DCA015A001010", DAY, ("1501", "390"))
    assert ceftriaxone is not None
    assert (ceftriaxone.chrgitm_lv, ceftriaxone.selfpay_prop, ceftriaxone.pric_uplmt_amt) == (
        ChargeLevel.CLASS_B,
        Decimal("0.10"),
        Decimal("45.00"),
    )
    nego = terms_on(NINGXIA.catalogue, "XL01FDT001B002010", DAY, ("390",))
    assert nego is not None and nego.hi_nego_drug_flag and nego.restriction is not None
    assert nego.restriction.dise_codes == ("C50",) and nego.restriction.min_hosp_lv == 2
    assert terms_on(NINGXIA.catalogue, "Z00000000002", DAY, ()) is None


def test_selfpay_ratio_is_the_most_specific_row_for_the_person() -> None:
    """The 输液器 of the sample: 20% for staff (310), 30% for residents (390)."""
    code = "C0311000000001"
    staff = terms_on(NINGXIA.catalogue, code, DAY, ("1101", "310"))
    resident = terms_on(NINGXIA.catalogue, code, DAY, ("1501", "390"))
    assert staff is not None and staff.selfpay_prop == Decimal("0.20")
    assert resident is not None and resident.selfpay_prop == Decimal("0.30")


def test_a_person_type_row_wins_over_an_insutype_row(tmp_path: Path) -> None:
    folder = payer_folder(tmp_path, f"{HEADER}\nX1,x,101,09,02,0,0,2024-01-01,\n")
    (folder / "catalogue" / "selfpay.csv").write_text(
        "hilist_code,selfpay_prop_psn_type,selfpay_prop_type,selfpay_prop,begndate,enddate\n"
        "X1,390,1,0.10,2024-01-01,\nX1,1403,1,0.05,2024-01-01,\nX1,,1,0.20,2024-01-01,\n",
        encoding="utf-8",
    )
    catalogue = load_payer_data(folder).catalogue
    student, adult, other = (
        terms_on(catalogue, "X1", DAY, who) for who in (("1403", "1404", "390"), ("1501", "390"), ("1101", "310"))
    )
    assert student is not None and student.selfpay_prop == Decimal("0.05")
    assert adult is not None and adult.selfpay_prop == Decimal("0.10")
    assert other is not None and other.selfpay_prop == Decimal("0.20")


def test_the_row_in_force_on_the_day_is_the_one_used(tmp_path: Path) -> None:
    """An item moved from 乙类 to 甲类 on 1 July: a visit on 30 June is priced as 乙类."""
    folder = payer_folder(
        tmp_path, f"{HEADER}\nX1,x,101,09,02,0,0,2024-01-01,2025-06-30\nX1,x,101,09,01,0,0,2025-07-01,\n"
    )
    catalogue = load_payer_data(folder).catalogue
    june, july = (terms_on(catalogue, "X1", day, ()) for day in (date(2025, 6, 30), date(2025, 7, 1)))
    assert june is not None and june.chrgitm_lv is ChargeLevel.CLASS_B
    assert july is not None and july.chrgitm_lv is ChargeLevel.CLASS_A
    assert terms_on(catalogue, "X1", date(2023, 12, 31), ()) is None


def test_overlapping_rows_of_one_code_are_refused_naming_the_code(tmp_path: Path) -> None:
    folder = payer_folder(
        tmp_path, f"{HEADER}\nX1,x,101,09,02,0,0,2024-01-01,2025-12-31\nX1,x,101,09,01,0,0,2025-07-01,\n"
    )
    with pytest.raises(PayerFileError, match="item X1: a row from 2025-07-01 starts before"):
        load_payer_data(folder)


def test_a_bad_cell_is_refused_with_file_line_and_column(tmp_path: Path) -> None:
    folder = payer_folder(tmp_path, f"{HEADER}\nX1,x,101,09,04,0,0,2024-01-01,\n")
    with pytest.raises(PayerFileError, match=r"hilist.csv:2: column chrgitm_lv: '04' is not a chrgitm_lv"):
        load_payer_data(folder)
    folder2 = payer_folder(tmp_path / "b", f"{HEADER}\nX1,x,999,09,01,0,0,2024-01-01,\n")
    with pytest.raises(PayerFileError, match="column list_type: '999' is not a national list_type code"):
        load_payer_data(folder2, CODES)


def test_a_policy_whose_payer_folder_is_missing_is_refused(tmp_path: Path) -> None:
    shutil.copy(POLICIES / "640000-390-2025.toml", tmp_path / "640000-390-2025.toml")
    with pytest.raises(PolicyFileError, match=r"key payer_data.dir: .*not a folder of payer data"):
        load_policy_book(tmp_path)


def test_the_registry_says_what_an_institution_is_on_the_day() -> None:
    city = NINGXIA.registry
    h3, clinic, pharmacy = (city.institution(code, DAY) for code in ("H64010100001", "H64010100003", "P64010100001"))
    assert h3 is not None and (h3.kind, h3.level_key, h3.inpatient_paymtd) == (
        InstitutionKind.HOSPITAL,
        "3",
        PaymentMethod.DRG,
    )
    assert clinic is not None and (clinic.kind, clinic.level_key) == (InstitutionKind.PRIMARY_CARE, "primary")
    assert pharmacy is not None and pharmacy.kind is InstitutionKind.DUAL_CHANNEL_PHARMACY
    assert city.institution("H99999999999", DAY) is None
    doctor = city.physician("D001", DAY)
    assert doctor is not None and doctor.dr_title is PhysicianTitle.ATTENDING and doctor.dual_channel_resp


def test_casemix_lookups_find_drg_weights_and_dip_groups_by_diagnosis_prefix() -> None:
    mix = NINGXIA.casemix
    drg = mix.drg_group("ES23", DAY)
    assert drg is not None and drg.weight == Decimal("3.2000")
    assert diagnosis_prefixes("K35.800x001") == ("K35.800X001", "K35.8", "K35")
    core = mix.dip_for_case("C50.900", "85.4300", DAY)
    conservative = mix.dip_for_case("C50.900", "", DAY)
    assert core is not None and (core.dip_code, core.score) == ("DIP-C50-1", Decimal(2500))
    assert conservative is not None and conservative.group_kind == "comprehensive"
    assert mix.dip_for_case("Z99", "", DAY) is None


# ------------------------------------------------------------------ content hash and scale


def test_the_policy_content_hash_covers_every_payer_file_it_references(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    before = {p.file: p.ref.content_hash for p in load_policy_book(tmp_path / "policies").policies}
    caps = tmp_path / "policies" / "payer" / "640000" / "catalogue" / "lmtpric.csv"
    caps.write_text(caps.read_text(encoding="utf-8").replace("45.00", "46.00"), encoding="utf-8")
    after = {p.file: p.ref.content_hash for p in load_policy_book(tmp_path / "policies").policies}
    changed = {name for name in before if before[name] != after[name]}
    # every file that names payer/640000: Ningxia's, and Zhongwei's, which price from the region's folder
    assert changed == {"640000-390-2025.toml", "640000-310-2025.toml", "640500-390-2025.toml", "640500-310-2025.toml"}


def test_a_real_sized_catalogue_of_100k_items_loads_in_seconds_and_looks_up_in_microseconds(tmp_path: Path) -> None:
    rows = "".join(f"X{n:08d},item {n},101,09,0{n % 3 + 1},0,0,2024-01-01,\n" for n in range(100_000))
    folder = payer_folder(tmp_path, HEADER + "\n" + rows)
    started = time.perf_counter()
    catalogue = load_payer_data(folder, CODES).catalogue
    loaded = time.perf_counter() - started
    assert len(catalogue.items) == 100_000
    assert loaded < 8.0, f"loading took {loaded:.2f} s"  # 2.1 s measured on a busy 2-core machine
    started = time.perf_counter()
    for n in range(0, 100_000, 10):
        assert terms_on(catalogue, f"X{n:08d}", DAY, ("390",)) is not None
    per_lookup = (time.perf_counter() - started) / 10_000
    assert per_lookup < 100e-6, f"a lookup took {per_lookup * 1e6:.1f} µs"
