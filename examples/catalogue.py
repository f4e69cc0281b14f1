"""The codes every example uses, in one place: the sample catalogue items, institutions,
physicians and case-mix groups. ``write_sample_payer_data`` turns them into the SAMPLE payer
folders under policies/payer/ (run ``python -m examples.catalogue``), and the generator draws
its fee lines and institutions from the same lists, so every example prices against them.

These are samples built for the examples, not any region's published catalogue.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYER = ROOT / "policies" / "payer"
BEGIN, END = "2024-01-01", ""  # in force from 2024 until further notice


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    list_type: str  # 101 西药, 201 服务项目, 301 医用材料 …
    chrgitm_type: str  # med_chrgitm_type
    lv: str  # chrgitm_lv 01/02/03
    unit_price: str  # a typical unit price, yuan (the generator draws around it)
    selfpay: dict[str, str] | None = None  # 先行自付 by insutype ("" all)
    cap: str | None = None  # 1318 unit price cap
    nego: bool = False
    limit: dict[str, str] | None = None  # a restrictions.csv row


ITEMS = (
    Item("001102000010000", "床位费及护理", "201", "01", "01", "120.00"),
    Item("001101000010000", "普通门诊诊查费", "201", "02", "01", "25.00"),
    Item("001101000020000", "互联网复诊", "201", "02", "01", "30.00"),
    Item("003107000010000", "血液透析", "201", "05", "01", "420.00"),
    Item("002202000010000", "CT检查", "201", "03", "01", "280.00"),
    Item("XJ01DCA015A001010", "头孢曲松钠注射剂", "101", "09", "02", "48.50", {"": "0.10"}, cap="45.00"),
    Item("XA10BAA002A001010", "二甲双胍片", "101", "09", "01", "0.4267"),
    Item("XC09AAA001A001010", "卡托普利片", "101", "09", "02", "0.1850", {"": "0.05"}),
    Item("XJ01CAA001A001010", "阿莫西林胶囊", "101", "09", "01", "0.48"),
    Item("XC08CAA001A001010", "氨氯地平片", "101", "09", "01", "0.2867"),
    Item("XR05XAA000A001010", "感冒灵颗粒", "102", "11", "01", "1.65"),
    Item("XL01XEA000A001010", "奥希替尼片(谈判药)", "101", "09", "02", "170.00", {"": "0.05"}, nego=True),
    Item(
        "XL01FDT001B002010",
        "曲妥珠单抗注射剂(谈判药)",
        "101",
        "09",
        "02",
        "1385.00",
        {"": "0.05"},
        nego=True,
        limit={"dise_codes": "C50", "min_hosp_lv": "2"},
    ),
    Item(
        "XR06AXA001A001010",
        "小儿氨酚黄那敏颗粒",
        "102",
        "11",
        "02",
        "1.20",
        {"": "0.10"},
        limit={"max_age": "14"},
    ),
    Item("C0311000000001", "一次性使用输液器", "301", "08", "02", "6.80", {"310": "0.20", "390": "0.30"}),
    Item("C00000000001", "单人病房差价", "201", "01", "03", "150.00"),
)
NOT_IN_CATALOGUE = ("Z00000000002", "蛋白粉", "198.00")  # a line no catalogue lists: 全自费, not_in_catalogue


@dataclass(frozen=True)
class Place:
    key: str
    code_tail: str  # the last 5 digits of the fixmedins_code
    name: str
    fixmedins_type: str  # 1 医疗机构, 2 零售药店
    hosp_lv: str
    primary_care: bool
    dual_channel: bool
    internet: bool
    paymtd: str  # drg | dip | item
    county_tail: str  # the county's last two digits (…04 a district)


PLACES = (
    Place("H3", "00001", "医科大学总医院", "1", "3", False, True, False, "drg", "04"),
    Place("H2", "00002", "市第二人民医院", "1", "2", False, False, False, "dip", "04"),
    Place("H1", "00005", "县人民医院", "1", "1", False, False, False, "item", "21"),
    Place("C", "00003", "社区卫生服务中心", "1", "", True, False, False, "item", "04"),
    Place("NET", "00004", "人民医院互联网医院", "1", "3", False, False, True, "item", "04"),
    Place("DCP", "00001", "双通道药房", "2", "", False, True, False, "item", "04"),
    Place("RP", "00002", "百姓大药房", "2", "", False, False, False, "item", "04"),
)
# dr_code, place, GB/T 8561 title code, designated responsible physician for negotiated drugs
PHYSICIANS = (
    ("D001", "H3", "233", "1"),  # 主治医师
    ("D002", "H3", "234", "0"),  # 医师 (resident)
    ("D003", "H2", "231", "1"),  # 主任医师
)
DRG = (("ES23", "3.2000"), ("GB29", "1.6500"), ("FM19", "2.4000"), ("RE19", "1.1000"))
# dip_code, diag prefix, main procedure ("" conservative), kind, score
DIP = (
    ("DIP-C50-1", "C50", "85.4300", "core", "2500"),
    ("DIP-C50-0", "C50", "", "comprehensive", "1200"),
    ("DIP-N18-0", "N18", "", "comprehensive", "1850"),
    ("DIP-K35-1", "K35", "47.0900", "core", "800"),
    ("DIP-K35-0", "K35", "", "comprehensive", "600"),
    ("DIP-J18-0", "J18", "", "comprehensive", "700"),
)
REGIONS = {  # payer folder → city code the sample institutions sit in, and the region's name
    "640000": ("6401", "宁夏回族自治区 (银川市)"),
    "650000": ("6501", "新疆维吾尔自治区 (乌鲁木齐市)"),
    "150000": ("1501", "内蒙古自治区 (呼和浩特市)"),
    "340000": ("3401", "安徽省 (合肥市)"),
    "220300": ("2203", "吉林省四平市"),
}


def fixmedins_code(place: Place, city: str) -> str:
    prefix = "H" if place.fixmedins_type == "1" else "P"
    return f"{prefix}{city}01{place.code_tail}"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _catalogue(folder: Path) -> None:
    hilist, selfpay, caps, limits = [], [], [], []
    for it in ITEMS:
        hilist.append([it.code, it.name, it.list_type, it.chrgitm_type, it.lv, "1" if it.limit else "0"])
        hilist[-1] += ["1" if it.nego else "0", BEGIN, END]
        for who, prop in (it.selfpay or {}).items():
            selfpay.append([it.code, who, "1", prop, BEGIN, END])
        if it.cap:
            caps.append([it.code, "1", "1", it.cap, BEGIN, END])
        if it.limit:
            lim = it.limit
            row = [lim.get(k, "") for k in ("min_hosp_lv", "gend", "min_age", "max_age", "dise_codes", "med_types")]
            limits.append([it.code, *row, BEGIN, END])
    head = ["hilist_code", "hilist_name", "list_type", "med_chrgitm_type", "chrgitm_lv", "lmt_used_flag"]
    _write(folder / "catalogue/hilist.csv", [*head, "hi_nego_drug_flag", "begndate", "enddate"], hilist)
    head = ["hilist_code", "selfpay_prop_psn_type", "selfpay_prop_type", "selfpay_prop", "begndate", "enddate"]
    _write(folder / "catalogue/selfpay.csv", head, selfpay)
    head = ["hilist_code", "hilist_lmtpric_type", "overlmt_dspo_way", "hilist_pric_uplmt_amt", "begndate", "enddate"]
    _write(folder / "catalogue/lmtpric.csv", head, caps)
    head = ["hilist_code", "min_hosp_lv", "gend", "min_age", "max_age", "dise_codes", "med_types"]
    _write(folder / "catalogue/restrictions.csv", [*head, "begndate", "enddate"], limits)


def _registry(folder: Path, city: str) -> None:
    rows = []
    for p in PLACES:
        flags = ["1" if f else "0" for f in (p.primary_care,)]
        county = f"{city}{p.county_tail}"
        rows.append([fixmedins_code(p, city), p.name, p.fixmedins_type, p.hosp_lv, *flags, county])
        rows[-1] += ["1" if p.dual_channel else "0", "1" if p.internet else "0", p.paymtd, BEGIN, END]
    head = ["fixmedins_code", "fixmedins_name", "fixmedins_type", "hosp_lv", "primary_care", "admdvs"]
    head += ["dual_channel", "internet_hospital", "inpatient_paymtd", "begndate", "enddate"]
    _write(folder / "registry/institutions.csv", head, rows)
    by_key = {p.key: p for p in PLACES}
    doctors = [[dr, fixmedins_code(by_key[at], city), title, resp, BEGIN, END] for dr, at, title, resp in PHYSICIANS]
    head = ["dr_code", "fixmedins_code", "dr_title", "dual_channel_resp", "begndate", "enddate"]
    _write(folder / "registry/physicians.csv", head, doctors)


def _casemix(folder: Path) -> None:
    drg = [[code, f"示例病组 {code}", weight, BEGIN, END] for code, weight in DRG]
    _write(folder / "casemix/drg.csv", ["drg_code", "drg_name", "weight", "begndate", "enddate"], drg)
    dip = [[code, diag, oprn, kind, score, BEGIN, END] for code, diag, oprn, kind, score in DIP]
    head = ["dip_code", "diag_code", "oprn_code", "group_kind", "score", "begndate", "enddate"]
    _write(folder / "casemix/dip.csv", head, dip)


README = """# SAMPLE payer data — {name}

**This is a sample, not {name}'s published catalogue.** It was built from the codes the
examples and the generator use (`examples/catalogue.py`, which wrote these files: edit that and
run `python -m examples.catalogue`, never these files by hand), so that every example settles.
Its items, prices, caps, ratios, restrictions, institutions, physicians and case-mix groups are
invented for the examples; only the shapes are those of the national downloads.

To price real claims, replace this folder with the region's own data, in the same files and
columns (docs/policies.md, "Payer data", says what every column means and how a national
download maps to it):

| file | national source |
|---|---|
| `catalogue/hilist.csv` | 1312 医保目录 |
| `catalogue/selfpay.csv` | 1319 先行自付比例 |
| `catalogue/lmtpric.csv` | 1318 最高限价 |
| `catalogue/restrictions.csv` | 限定支付范围, as the agency publishes it |
| `registry/institutions.csv` | 1201 定点医药机构 and the agency's designations |
| `registry/physicians.csv` | the agency's list of designated physicians ("三定") |
| `casemix/dip.csv`, `casemix/drg.csv` | the region's DIP and DRG catalogues |

A new catalogue changes the policy's content hash, so every settlement records which catalogue
priced it; publish it as a new policy version when it replaces one already in use.
"""


def write_sample_payer_data(root: Path = PAYER) -> list[Path]:
    written = []
    for region, (city, name) in REGIONS.items():
        folder = root / region
        _catalogue(folder)
        _registry(folder, city)
        _casemix(folder)
        (folder / "README.md").write_text(README.format(name=name), encoding="utf-8")
        written.append(folder)
    return written


if __name__ == "__main__":
    for folder in write_sample_payer_data(Path(sys.argv[1]) if len(sys.argv) > 1 else PAYER):
        print(folder)
