"""Case grouping by the fund, from the region's catalogue — never the hospital's word.

DIP (DIP 技术规范, 2020; 病种目录库 2.0, 医保办发〔2024〕9号): the main diagnosis (ICD-10 医保版)
and the main procedure (ICD-9-CM-3 医保版) key the group. A row matches when its diagnosis
prefix starts the main diagnosis and either it has no procedure and the case none (保守治疗),
or its procedure prefix starts the main procedure ("*": any procedure, for a comprehensive
group). Core groups (核心病种) are tried first, then comprehensive ones (综合病种); among
matches the most specific wins (longest diagnosis prefix, then longest procedure prefix, then
the code, so the choice never depends on row order).
No match: the case is ungrouped and cleared item by item.

DRG: there is no grouper here; the group code is the hospital's (from its grouper, as the
结算清单 carries it), the weight the catalogue's. A code the catalogue does not have is ungrouped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from engine.clearing.terms import CaseMixCatalogue, DipGroup, GroupKind, normalised


@dataclass(frozen=True)
class ClinicalCase:
    """What the 结算清单 says of the case, as far as grouping reads it."""

    main_diag: str | None  # 主要诊断
    main_oprn: str | None  # 主要手术操作 (oprn_oprt_type 1)
    declared_dip: str | None  # the hospital's own DIP code: recorded, compared, never paid on
    declared_drg: str | None  # the hospital's DRG code (its grouper's output)
    declared_value: Decimal | None  # the hospital's score or weight: recorded only


@dataclass(frozen=True)
class Grouped:
    """The fund's grouping of a case (None fields: ungrouped)."""

    group_code: str | None
    kind: Literal["core", "comprehensive", "drg"] | None
    value: Decimal | None  # DIP score or DRG weight, from the catalogue
    avg_cost: int | None  # fen: the DIP group's average cost, if the catalogue has it
    why: str  # one sentence for the trail

    @property
    def ungrouped(self) -> bool:
        return self.group_code is None


ANY_PROCEDURE = "*"  # a comprehensive group's key for "with any procedure" (综合病种 手术/操作组)


def _matches(row: DipGroup, main_oprn: str | None) -> bool:
    prefix = normalised(row.oprn_prefix)
    if not prefix:
        return main_oprn is None
    if prefix == ANY_PROCEDURE:
        return main_oprn is not None
    return main_oprn is not None and normalised(main_oprn).startswith(prefix)


def _best(rows: Sequence[DipGroup], kind: GroupKind, main_oprn: str | None) -> DipGroup | None:
    found = [r for r in rows if r.kind == kind and _matches(r, main_oprn)]
    if not found:
        return None
    return max(found, key=lambda r: (len(normalised(r.diag_prefix)), _specificity(r.oprn_prefix), r.dip_code))


def _specificity(oprn_prefix: str) -> int:
    prefix = normalised(oprn_prefix)
    return 0 if prefix == ANY_PROCEDURE else len(prefix)


def group_dip(case: ClinicalCase, catalogue: CaseMixCatalogue, on: date) -> Grouped:
    if case.main_diag is None:
        return Grouped(None, None, None, None, "DIP: no main diagnosis (maindiag_flag) on the claim: ungrouped")
    rows = catalogue.dip_rows(case.main_diag, on)
    oprn = case.main_oprn
    what = f"main diagnosis {case.main_diag}" + (f" + main procedure {oprn}" if oprn else ", no procedure")
    kinds: tuple[GroupKind, ...] = ("core", "comprehensive")
    for kind in kinds:
        row = _best(rows, kind, oprn)
        if row is not None:
            why = f"DIP {what} → {kind} group {row.dip_code}, score {row.score}"
            return Grouped(row.dip_code, row.kind, row.score, row.avg_cost, why)
    return Grouped(None, None, None, None, f"DIP {what}: no group of the catalogue in force: ungrouped")


def group_drg(case: ClinicalCase, catalogue: CaseMixCatalogue, on: date) -> Grouped:
    if case.declared_drg is None:
        return Grouped(None, None, None, None, "DRG: the claim names no DRG group: ungrouped")
    row = catalogue.drg(case.declared_drg, on)
    if row is None:
        return Grouped(None, None, None, None, f"DRG {case.declared_drg}: not in the catalogue in force: ungrouped")
    return Grouped(row.drg_code, "drg", row.weight, None, f"DRG {row.drg_code}: catalogue weight {row.weight}")


def disagreement(case: ClinicalCase, grouped: Grouped, method: Literal["drg", "dip"]) -> bool:
    """The hospital's code or value differs from the fund's grouping (the fund's wins)."""
    declared = case.declared_dip if method == "dip" else case.declared_drg
    if declared is None and case.declared_value is None:
        return False
    code_differs = declared is not None and (
        grouped.group_code is None or normalised(declared) != normalised(grouped.group_code)
    )
    value_differs = case.declared_value is not None and case.declared_value != grouped.value
    return code_differs or value_differs
