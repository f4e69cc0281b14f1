"""Load a region's payer data (policies/payer/<region>/) from CSV files in the national
download shapes; every refusal names the file, the line, the column and the problem.

Required: ``catalogue/hilist.csv`` and ``registry/institutions.csv``. Optional (absent = no
rows): ``catalogue/selfpay.csv``, ``catalogue/lmtpric.csv``, ``catalogue/restrictions.csv``,
``registry/physicians.csv``, ``casemix/dip.csv``, ``casemix/drg.csv``. Columns a real download
carries beyond the ones read here are ignored; a missing column is an error.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from contracts.codes import ChargeLevel, PhysicianTitle
from engine.dated import DatedIndex, OverlappingRows
from engine.national_codes import NO_CODES, NationalCodes
from engine.payer_casemix import NO_PROCEDURE, Casemix, DipGroup, DrgGroup, dip_key
from engine.payer_catalogue import Catalogue, HilistEntry, PriceCap, Restriction, SelfpayRate, selfpay_key
from engine.payer_data import PayerData
from engine.payer_registry import Institution, InstitutionType, PaymentMethod, Physician, Registry

OPEN_END = date(9999, 12, 31)  # an empty enddate: in force until further notice
REQUIRED = ("catalogue/hilist.csv", "registry/institutions.csv")
OPTIONAL = (
    "catalogue/selfpay.csv",
    "catalogue/lmtpric.csv",
    "catalogue/restrictions.csv",
    "registry/physicians.csv",
    "casemix/dip.csv",
    "casemix/drg.csv",
)
# 专业技术职务代码 (GB/T 8561): 231 主任医师, 232 副主任医师, 233 主治医师, 234 医师.
TITLE_CODES = {
    "231": PhysicianTitle.CHIEF,
    "232": PhysicianTitle.ASSOCIATE_CHIEF,
    "233": PhysicianTitle.ATTENDING,
    "234": PhysicianTitle.RESIDENT,
}
T = TypeVar("T")
_DAYS: dict[str, date] = {}


class PayerFileError(ValueError):
    """A payer-data file cannot be used; the sentence names file, line, column and problem."""


class _Row:
    """One CSV row, read column by column with the file and line in every complaint."""

    def __init__(self, path: Path, line: int, values: dict[str, str], codes: NationalCodes) -> None:
        self.path, self.line, self.values, self.codes = path, line, values, codes

    def fail(self, column: str, problem: str) -> PayerFileError:
        return PayerFileError(f"{self.path}:{self.line}: column {column}: {problem}")

    def text(self, column: str, *, required: bool = True) -> str:
        value = (self.values.get(column) or "").strip()
        if required and not value:
            raise self.fail(column, "is empty")
        return value

    def day(self, column: str, *, open_end: bool = False) -> date:
        value = self.text(column, required=not open_end)
        if not value:
            return OPEN_END
        known = _DAYS.get(value)  # a catalogue repeats a handful of dates 100,000 times
        if known is not None:
            return known
        try:
            if len(value) not in (10, 19) or (len(value) == 19 and value[10] not in " T"):
                raise ValueError(value)
            parsed = _DAYS[value] = date.fromisoformat(value[:10])
            return parsed
        except ValueError:
            raise self.fail(column, f"{value!r} is not a date (yyyy-MM-dd, optionally with a time)") from None

    def flag(self, column: str) -> bool:
        value = self.text(column, required=False)
        if value not in ("", "0", "1"):
            raise self.fail(column, f"{value!r} is not a flag (0 or 1)")
        return value == "1"

    def number(self, column: str, *, low: Decimal = Decimal(0), high: Decimal | None = None) -> Decimal:
        value = self.text(column)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.fail(column, f"{value!r} is not a number") from None
        if not number.is_finite() or number < low or (high is not None and number > high):
            bounds = f"from {low}" + (f" to {high}" if high is not None else "")
            raise self.fail(column, f"{value} is outside {bounds}")
        return number

    def whole(self, column: str) -> int | None:
        value = self.text(column, required=False)
        if not value:
            return None
        if not value.isdigit() or len(value) > 3:
            raise self.fail(column, f"{value!r} is not a whole number of years")
        return int(value)

    def code(self, column: str, code_set: str, *, required: bool = True) -> str:
        value = self.text(column, required=required)
        if value and code_set in self.codes.sets and not self.codes.knows(code_set, value):
            raise self.fail(column, f"{value!r} is not a national {code_set} code (policies/codes/{code_set}.csv)")
        return value

    def choice(self, column: str, parse: Callable[[str], T], what: str) -> T:
        value = self.text(column)
        try:
            return parse(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not {what}") from None

    def words(self, column: str) -> tuple[str, ...]:
        """A list in one cell, separated by spaces, '|' or ';' (a comma would split the CSV)."""
        raw = self.text(column, required=False).replace("|", " ").replace(";", " ")
        return tuple(part for part in raw.split() if part)


def _rows(path: Path, columns: tuple[str, ...], codes: NationalCodes) -> Iterator[_Row]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise PayerFileError(f"{path}: columns missing: {', '.join(missing)}")
            for values in reader:
                yield _Row(path, reader.line_num, values, codes)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PayerFileError(f"{path}: cannot be read: {error}") from None


def _dates(row: _Row) -> dict[str, Any]:
    begin, end = row.day("begndate"), row.day("enddate", open_end=True)
    if end < begin:
        raise row.fail("enddate", f"{end} is before begndate {begin}")
    return {"begndate": begin, "enddate": end}


def _hilist(row: _Row) -> HilistEntry:
    return HilistEntry(
        hilist_code=row.text("hilist_code"),
        hilist_name=row.text("hilist_name", required=False),
        list_type=row.code("list_type", "list_type", required=False),
        med_chrgitm_type=row.code("med_chrgitm_type", "med_chrgitm_type", required=False),
        chrgitm_lv=row.choice("chrgitm_lv", ChargeLevel, "a chrgitm_lv (01 甲类, 02 乙类, 03 丙类)"),
        lmt_used_flag=row.flag("lmt_used_flag"),
        hi_nego_drug_flag=row.flag("hi_nego_drug_flag"),
        **_dates(row),
    )


def _selfpay(row: _Row) -> SelfpayRate:
    return SelfpayRate(
        hilist_code=row.text("hilist_code"),
        who=row.text("selfpay_prop_psn_type", required=False),
        selfpay_prop_type=row.text("selfpay_prop_type", required=False),
        selfpay_prop=row.number("selfpay_prop", high=Decimal(1)),
        **_dates(row),
    )


def _cap(row: _Row) -> PriceCap:
    return PriceCap(
        hilist_code=row.text("hilist_code"),
        hilist_lmtpric_type=row.text("hilist_lmtpric_type", required=False),
        overlmt_dspo_way=row.text("overlmt_dspo_way", required=False),
        hilist_pric_uplmt_amt=row.number("hilist_pric_uplmt_amt"),
        **_dates(row),
    )


def _level(row: _Row, column: str) -> int | None:
    value = row.text(column, required=False)
    if value not in ("", "1", "2", "3"):
        raise row.fail(column, f"{value!r} is not a hospital level (1, 2, 3 or empty)")
    return int(value) if value else None


def _restriction(row: _Row) -> Restriction:
    gend = row.text("gend", required=False)
    if gend not in ("", "1", "2"):
        raise row.fail("gend", f"{gend!r} is not a national gend (1 male, 2 female, or empty)")
    low, high = row.whole("min_age"), row.whole("max_age")
    if low is not None and high is not None and high < low:
        raise row.fail("max_age", f"{high} is below min_age {low}")
    return Restriction(
        hilist_code=row.text("hilist_code"),
        min_hosp_lv=_level(row, "min_hosp_lv"),
        gend=gend or None,
        min_age=low,
        max_age=high,
        dise_codes=tuple(code.upper() for code in row.words("dise_codes")),
        med_types=row.words("med_types"),
        **_dates(row),
    )


def _institution(row: _Row) -> Institution:
    kind = row.choice("fixmedins_type", InstitutionType, "a fixmedins_type (1 医疗机构, 2 零售药店)")
    return Institution(
        fixmedins_code=row.text("fixmedins_code"),
        fixmedins_name=row.text("fixmedins_name", required=False),
        fixmedins_type=kind,
        hosp_lv=_level(row, "hosp_lv"),
        primary_care=row.flag("primary_care"),
        admdvs=row.text("admdvs"),
        dual_channel=row.flag("dual_channel"),
        internet_hospital=row.flag("internet_hospital"),
        inpatient_paymtd=row.choice("inpatient_paymtd", PaymentMethod, "a payment method (drg, dip or item)"),
        **_dates(row),
    )


def _title(value: str) -> PhysicianTitle:
    return TITLE_CODES.get(value) or PhysicianTitle(value)


def _physician(row: _Row) -> Physician:
    return Physician(
        dr_code=row.text("dr_code"),
        fixmedins_code=row.text("fixmedins_code"),
        dr_title=row.choice("dr_title", _title, "a title (231–234, or resident, attending, associate_chief, chief)"),
        dual_channel_resp=row.flag("dual_channel_resp"),
        **_dates(row),
    )


def _group_kind(value: str) -> Any:
    if value not in ("core", "comprehensive"):
        raise ValueError(value)
    return value


def _dip(row: _Row) -> DipGroup:
    return DipGroup(
        dip_code=row.text("dip_code"),
        diag_code=row.text("diag_code").upper(),
        oprn_code=row.text("oprn_code", required=False) or NO_PROCEDURE,
        group_kind=row.choice("group_kind", _group_kind, "a group kind (core or comprehensive)"),
        score=row.number("score"),
        **_dates(row),
        avg_cost=_avg_cost(row),
    )


def _avg_cost(row: _Row) -> int | None:
    """Optional: last year's average cost of the group, yuan (DIP 技术规范's outlier reference), in fen."""
    text = row.text("avg_cost", required=False)
    if not text:
        return None
    fen = row.number("avg_cost") * 100
    if fen <= 0 or fen != fen.to_integral_value():
        raise row.fail("avg_cost", f"{text!r} is not an amount of yuan above 0 with at most two decimals")
    return int(fen)


def _drg(row: _Row) -> DrgGroup:
    return DrgGroup(
        drg_code=row.text("drg_code"),
        drg_name=row.text("drg_name", required=False),
        weight=row.number("weight"),
        **_dates(row),
    )


COLUMNS = {
    "catalogue/hilist.csv": ("hilist_code", "list_type", "med_chrgitm_type", "chrgitm_lv", "begndate", "enddate"),
    "catalogue/selfpay.csv": ("hilist_code", "selfpay_prop_psn_type", "selfpay_prop", "begndate", "enddate"),
    "catalogue/lmtpric.csv": ("hilist_code", "hilist_pric_uplmt_amt", "begndate", "enddate"),
    "catalogue/restrictions.csv": (
        *("hilist_code", "min_hosp_lv", "gend", "min_age", "max_age", "dise_codes", "med_types"),
        *("begndate", "enddate"),
    ),
    "registry/institutions.csv": (
        *("fixmedins_code", "fixmedins_type", "hosp_lv", "admdvs", "inpatient_paymtd"),
        *("begndate", "enddate"),
    ),
    "registry/physicians.csv": ("dr_code", "fixmedins_code", "dr_title", "dual_channel_resp", "begndate", "enddate"),
    "casemix/dip.csv": ("dip_code", "diag_code", "oprn_code", "group_kind", "score", "begndate", "enddate"),
    "casemix/drg.csv": ("drg_code", "weight", "begndate", "enddate"),
}


def _read(folder: Path, name: str, parse: Callable[[_Row], T], codes: NationalCodes) -> list[T]:
    path = folder / name
    if not path.is_file():
        if name in REQUIRED:
            raise PayerFileError(f"{path}: missing (the payer data of a policy needs {' and '.join(REQUIRED)})")
        return []
    return [parse(row) for row in _rows(path, COLUMNS[name], codes)]


def _index(rows: list[T], key: Callable[[T], str], what: str, where: Path) -> DatedIndex[Any]:
    try:
        return DatedIndex.of(rows, key, what)
    except OverlappingRows as error:
        raise PayerFileError(f"{where}: {error}") from None


def payer_digest(folder: Path) -> tuple[str, tuple[str, ...]]:
    """sha256 over the name and bytes of every payer file present, in name order."""
    names = tuple(n for n in (*REQUIRED, *OPTIONAL) if (folder / n).is_file())
    outer = hashlib.sha256()
    for name in sorted(names):
        inner = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        outer.update(f"{name}\0{inner}\n".encode())
    return outer.hexdigest(), names


def load_payer_data(folder: Path, codes: NationalCodes = NO_CODES, *, name: str = "") -> PayerData:
    """Read every payer file of ``folder`` (policies/payer/<region>)."""
    if not folder.is_dir():
        raise PayerFileError(f"{folder}: not a folder of payer data")
    catalogue = Catalogue(
        items=_index(_read(folder, "catalogue/hilist.csv", _hilist, codes), lambda r: r.hilist_code, "item", folder),
        selfpay=_index(
            _read(folder, "catalogue/selfpay.csv", _selfpay, codes),
            lambda r: selfpay_key(r.hilist_code, r.who),
            "先行自付 of item",
            folder,
        ),
        caps=_index(_read(folder, "catalogue/lmtpric.csv", _cap, codes), lambda r: r.hilist_code, "cap", folder),
        restrictions=_index(
            _read(folder, "catalogue/restrictions.csv", _restriction, codes), lambda r: r.hilist_code, "limit", folder
        ),
    )
    registry = Registry(
        institutions=_index(
            _read(folder, "registry/institutions.csv", _institution, codes),
            lambda r: r.fixmedins_code,
            "institution",
            folder,
        ),
        physicians=_index(
            _read(folder, "registry/physicians.csv", _physician, codes), lambda r: r.dr_code, "physician", folder
        ),
    )
    dip_rows = _read(folder, "casemix/dip.csv", _dip, codes)
    casemix = Casemix(
        dip=_index(dip_rows, lambda r: r.dip_code, "DIP group", folder),
        dip_by_case=_index(dip_rows, lambda r: dip_key(r.diag_code, r.oprn_code), "DIP diagnosis+procedure", folder),
        drg=_index(_read(folder, "casemix/drg.csv", _drg, codes), lambda r: r.drg_code, "DRG group", folder),
    )
    digest, files = payer_digest(folder)
    return PayerData(catalogue, registry, casemix, digest, name or str(folder), files)
