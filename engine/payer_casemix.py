"""The payer's case-mix catalogues: DIP groups (main diagnosis + main procedure → score) and
DRG groups (code → relative weight). Loaders and lookups only: grouping a case and the
arithmetic of what the fund owes are the clearing's (docs/policies.md, "Payer data")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from engine.dated import DatedIndex

NO_PROCEDURE = ""  # a conservative (保守治疗) group: no main procedure


@dataclass(frozen=True)
class DipGroup:
    dip_code: str
    diag_code: str  # ICD-10 category (类目, "K35") or subcategory (亚目, "K35.8") the group is keyed by
    oprn_code: str  # the main procedure; "" for a conservative group
    group_kind: Literal["core", "comprehensive"]
    score: Decimal  # 病种分值
    begndate: date
    enddate: date
    avg_cost: int | None = None  # fen: last year's average cost of the group, if the catalogue has it


@dataclass(frozen=True)
class DrgGroup:
    drg_code: str
    drg_name: str
    weight: Decimal  # 相对权重
    begndate: date
    enddate: date


def dip_key(diag_code: str, oprn_code: str) -> str:
    return f"{diag_code}\x1f{oprn_code}"


def diagnosis_prefixes(diag_code: str) -> tuple[str, ...]:
    """The keys a diagnosis is looked up by, most specific first: the code itself, its
    subcategory (亚目, "K35.8" of "K35.800x001") and its category (类目, "K35")."""
    code = diag_code.strip().upper()
    head, dot, tail = code.partition(".")
    keys = [code]
    if dot and tail:
        keys.append(f"{head}.{tail[0]}")
    keys.append(head[:3])
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Casemix:
    dip: DatedIndex[DipGroup] = field(default_factory=DatedIndex)  # by dip_code
    dip_by_case: DatedIndex[DipGroup] = field(default_factory=DatedIndex)  # by dip_key(diag, oprn)
    drg: DatedIndex[DrgGroup] = field(default_factory=DatedIndex)

    def dip_group(self, dip_code: str, day: date) -> DipGroup | None:
        return self.dip.on(dip_code, day)

    def dip_for_case(self, main_diag: str, main_oprn: str, day: date) -> DipGroup | None:
        """The group a case with this main diagnosis and main procedure ("" for none) falls in,
        the most specific diagnosis key first; no fallback to a conservative group here (that
        is a grouping rule, the clearing's)."""
        for prefix in diagnosis_prefixes(main_diag):
            found = self.dip_by_case.on(dip_key(prefix, main_oprn), day)
            if found is not None:
                return found
        return None

    def drg_group(self, drg_code: str, day: date) -> DrgGroup | None:
        return self.drg.on(drg_code, day)
