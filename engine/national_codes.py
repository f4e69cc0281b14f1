"""National code sets as data (policies/codes/*.csv), and the engine's own categories a region
maps national codes to (docs/adr/0006-payer-data-and-national-codes.md).

A national code keeps its national meaning: med_type 22 is 外伤住院 everywhere. Which benefit
prices a 22 visit is the region's decision, written in its policy file's ``[codes.med_type]``;
the code sets here only name codes (for sentences a person reads) and check catalogue columns.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

CODE_SETS = (
    "med_type",
    "psn_type",
    "insutype",
    "fund_pay_type",
    "mdtrt_cert_type",
    "psn_cert_type",
    "chrgitm_lv",
    "med_chrgitm_type",
    "list_type",
    "diag_type",
    "clr_type",
    "psn_setlway",
)


class MedCategory(StrEnum):
    """What the engine does with a visit, whatever national or local med_type code brought it."""

    INPATIENT = "inpatient"  # a stay: per-admission deductible, inpatient ratios, DRG/DIP by the registry
    GENERAL_OUTPATIENT = "general_outpatient"  # 普通门诊统筹 (and "两病" drugs for a registered disease)
    CHRONIC_OUTPATIENT = "chronic_outpatient"  # 门诊慢特病: only for a disease registered for the person
    PHARMACY = "pharmacy"  # a retail-pharmacy purchase (外配处方 or account/cash only)
    MATERNITY = "maternity"  # 生育: settled by maternity insurance, not by this engine (refused)
    NOT_SETTLED = "not_settled"  # a code the region knows but does not settle through this engine (refused)


REFUSED_CATEGORIES = frozenset({MedCategory.MATERNITY, MedCategory.NOT_SETTLED})


class CodeSetError(ValueError):
    """A code-set file cannot be used; the sentence names the file, the line and the problem."""


@dataclass(frozen=True)
class CodeSet:
    name: str
    names: Mapping[str, str]  # code → national name


@dataclass(frozen=True)
class NationalCodes:
    sets: Mapping[str, CodeSet] = field(default_factory=lambda: MappingProxyType({}))

    def name(self, set_name: str, code: str) -> str | None:
        found = self.sets.get(set_name)
        return None if found is None else found.names.get(code)

    def knows(self, set_name: str, code: str) -> bool:
        return self.name(set_name, code) is not None

    def describe(self, set_name: str, code: str) -> str:
        """``52 (生育住院)``, or ``9901 (not a national med_type code)`` for a local one."""
        name = self.name(set_name, code)
        return f"{code} ({name})" if name else f"{code} (not a national {set_name} code)"


NO_CODES = NationalCodes()


def _read_set(path: Path) -> CodeSet:
    names: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != ["code", "name", "source"]:
                raise CodeSetError(f"{path}: the header must be code,name,source; got {reader.fieldnames}")
            for row in reader:
                code = (row["code"] or "").strip()
                if not code or code in names:
                    raise CodeSetError(f"{path}:{reader.line_num}: code {code!r} is empty or repeated")
                names[code] = (row["name"] or "").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CodeSetError(f"{path}: cannot be read: {error}") from None
    return CodeSet(path.stem, MappingProxyType(names))


def load_code_sets(folder: Path) -> NationalCodes:
    """Every code set of CODE_SETS from ``folder`` (policies/codes); a missing one is an error."""
    sets = {}
    for name in CODE_SETS:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise CodeSetError(f"{path}: the national code set {name} is missing")
        sets[name] = _read_set(path)
    return NationalCodes(MappingProxyType(sets))
