"""The payer's facts the clearing needs, behind small protocols (docs/clearing.md#payer-data).

- ``InstitutionTerms``: an institution as the payer's registry has it on a day — its level,
  the county (区县 admdvs) it belongs to inside the pooling city, and its inpatient payment
  method (drg | dip | item). DRG/DIP is the institution's payment method, never a med_type.
- ``CaseMixCatalogue``: the region's DIP catalogue (病种目录库: main diagnosis prefix + main
  procedure → group and score; core and comprehensive groups) and DRG catalogue (group code →
  relative weight), each row in force between two dates.

The payer data's loaders (engine.payer_files) fill engine.payer_registry and
engine.payer_casemix; engine.clearing.payer reads them as these protocols. ``CaseMixTable`` is
the in-memory form the grouping searches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol

PaymentMethod = Literal["drg", "dip", "item"]
GroupKind = Literal["core", "comprehensive"]


@dataclass(frozen=True)
class InstitutionTerms:
    fixmedins_code: str
    level: str  # the policy tables' level key: "primary", "1", "2", "3"
    admdvs: str  # the county (or district) of the pooling city the institution belongs to
    paymtd: PaymentMethod  # inpatient payment method on the day


@dataclass(frozen=True)
class DipGroup:
    """One row of the DIP catalogue (病种目录库)."""

    dip_code: str
    diag_prefix: str  # ICD-10 医保版 prefix of the main diagnosis: 亚目 "K35.8" or 类目 "K35"
    oprn_prefix: str  # main procedure (ICD-9-CM-3 医保版) prefix; "" = conservative (保守治疗)
    kind: GroupKind  # core (核心病种) or comprehensive (综合病种)
    score: Decimal  # 病种分值
    begndate: date
    enddate: date
    avg_cost: int | None = None  # fen: last year's average total cost of the group, if published


@dataclass(frozen=True)
class DrgGroup:
    drg_code: str
    weight: Decimal  # relative weight (相对权重)
    begndate: date
    enddate: date


class CaseMixCatalogue(Protocol):
    def dip_rows(self, diag_code: str, on: date) -> Sequence[DipGroup]:
        """The DIP rows in force on the day whose diagnosis prefix the code starts with."""
        ...

    def drg(self, drg_code: str, on: date) -> DrgGroup | None:
        """The DRG group in force on the day, or None when the catalogue does not have it."""
        ...


def normalised(code: str) -> str:
    """Codes compared as the catalogues print them: upper case, no spaces."""
    return code.strip().upper()


def _in_force(begndate: date, enddate: date, on: date) -> bool:
    return begndate <= on <= enddate


@dataclass(frozen=True)
class CaseMixTable:
    """A catalogue held in memory: the rows as published, looked up by day."""

    dip: tuple[DipGroup, ...] = ()
    drg_groups: tuple[DrgGroup, ...] = ()
    _drg_by_code: Mapping[str, tuple[DrgGroup, ...]] = field(default_factory=dict, init=False, repr=False)
    _dip_by_category: Mapping[str, tuple[DipGroup, ...]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        by_code: dict[str, list[DrgGroup]] = {}
        for row in self.drg_groups:
            by_code.setdefault(normalised(row.drg_code), []).append(row)
        object.__setattr__(self, "_drg_by_code", {k: tuple(v) for k, v in by_code.items()})
        by_category: dict[str, list[DipGroup]] = {}
        for dip in self.dip:  # by the 类目 (3 characters) a row's prefix names; shorter: under ""
            prefix = normalised(dip.diag_prefix)
            by_category.setdefault(prefix[:3] if len(prefix) >= 3 else "", []).append(dip)
        object.__setattr__(self, "_dip_by_category", {k: tuple(v) for k, v in by_category.items()})

    def dip_rows(self, diag_code: str, on: date) -> Sequence[DipGroup]:
        code = normalised(diag_code)
        candidates = (*self._dip_by_category.get(code[:3], ()), *self._dip_by_category.get("", ()))
        return [
            row
            for row in candidates
            if code.startswith(normalised(row.diag_prefix)) and _in_force(row.begndate, row.enddate, on)
        ]

    def drg(self, drg_code: str, on: date) -> DrgGroup | None:
        rows = self._drg_by_code.get(normalised(drg_code), ())
        return next((r for r in rows if _in_force(r.begndate, r.enddate, on)), None)
