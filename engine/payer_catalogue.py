"""The payer's medical-insurance catalogue (医保目录), as the national downloads shape it:
1312 items (class, negotiated-drug flag), 1319 先行自付 ratios per insurance or person type,
1318 unit price caps, and the 限定支付范围 restrictions as data (docs/policies.md, "Payer data").

Lookups are "in force on the visit's day" (engine.dated). Nothing here prices: the item stage
(engine.items) asks ``terms_on`` for the terms of a fee line and splits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from contracts.codes import ChargeLevel
from engine.dated import DatedIndex


@dataclass(frozen=True)
class HilistEntry:
    """1312 医保目录: one national code's class in the catalogue."""

    hilist_code: str
    hilist_name: str
    list_type: str  # 目录类别 (101 西药 … 301 医用材料)
    med_chrgitm_type: str  # 医疗收费项目类别 (01 床位费 … 14 其他费)
    chrgitm_lv: ChargeLevel  # 甲 / 乙 / 丙
    lmt_used_flag: bool  # 限制使用标志, recorded; the conditions are the restriction rows (restrictions.csv)
    hi_nego_drug_flag: bool  # 国家谈判药品 (dual channel)
    begndate: date
    enddate: date


@dataclass(frozen=True)
class SelfpayRate:
    """1319 先行自付比例: ``who`` is an insutype (310/390), a national psn_type code, or "" (all)."""

    hilist_code: str
    who: str  # selfpay_prop_psn_type
    selfpay_prop_type: str  # recorded as the download gives it
    selfpay_prop: Decimal
    begndate: date
    enddate: date


@dataclass(frozen=True)
class PriceCap:
    """1318 最高限价: the unit price above which the excess is 超限价自费."""

    hilist_code: str
    hilist_lmtpric_type: str  # recorded
    overlmt_dspo_way: str  # recorded; the engine applies "the excess is paid by the person"
    hilist_pric_uplmt_amt: Decimal  # yuan per unit, exact
    begndate: date
    enddate: date


@dataclass(frozen=True)
class Restriction:
    """限定支付范围: the conditions under which the fund pays for an item at all."""

    hilist_code: str
    min_hosp_lv: int | None  # lowest hospital level (1–3); None: any institution
    gend: str | None  # "1" male / "2" female (national gend); None: either
    min_age: int | None  # years, inclusive
    max_age: int | None
    dise_codes: tuple[str, ...]  # ICD-10 prefixes: one diagnosis of the visit must start with one
    med_types: tuple[str, ...]  # med_type codes the item is paid under; empty: any
    begndate: date
    enddate: date


def selfpay_key(hilist_code: str, who: str) -> str:
    return f"{hilist_code}\x1f{who}"


@dataclass(frozen=True)
class Catalogue:
    items: DatedIndex[HilistEntry] = field(default_factory=DatedIndex)
    selfpay: DatedIndex[SelfpayRate] = field(default_factory=DatedIndex)  # keyed by selfpay_key
    caps: DatedIndex[PriceCap] = field(default_factory=DatedIndex)
    restrictions: DatedIndex[Restriction] = field(default_factory=DatedIndex)

    def entry(self, hilist_code: str, day: date) -> HilistEntry | None:
        return self.items.on(hilist_code, day)

    def selfpay_rate(self, hilist_code: str, day: date, who: Sequence[str]) -> SelfpayRate | None:
        """The most specific 1319 row in force: the first of ``who`` (most specific first) that
        has one; ``""`` (any person) is tried last."""
        for candidate in (*who, ""):
            found = self.selfpay.on(selfpay_key(hilist_code, candidate), day)
            if found is not None:
                return found
        return None

    def cap(self, hilist_code: str, day: date) -> PriceCap | None:
        return self.caps.on(hilist_code, day)

    def restriction(self, hilist_code: str, day: date) -> Restriction | None:
        return self.restrictions.on(hilist_code, day)


@dataclass(frozen=True)
class CatalogueTerms:
    """What the payer's catalogue says of one fee line on the visit's day, for this person."""

    hilist_code: str
    chrgitm_lv: ChargeLevel
    selfpay_prop: Decimal  # 先行自付 of a 乙类 item (0 for 甲 and 丙)
    pric_uplmt_amt: Decimal | None  # unit price cap, yuan
    hi_nego_drug_flag: bool
    restriction: Restriction | None


def terms_on(catalogue: Catalogue, hilist_code: str, day: date, who: Sequence[str]) -> CatalogueTerms | None:
    """The catalogue terms of ``hilist_code`` on ``day`` for a person described by ``who`` (their
    national psn_type codes, then their insutype: engine.code_mapping.selfpay_candidates), or
    None when the code is not in the catalogue that day (the line is then 全自费)."""
    entry = catalogue.entry(hilist_code, day)
    if entry is None:
        return None
    rate = catalogue.selfpay_rate(hilist_code, day, who) if entry.chrgitm_lv is ChargeLevel.CLASS_B else None
    cap = catalogue.cap(hilist_code, day)
    return CatalogueTerms(
        hilist_code=hilist_code,
        chrgitm_lv=entry.chrgitm_lv,
        selfpay_prop=rate.selfpay_prop if rate is not None else Decimal(0),
        pric_uplmt_amt=cap.hilist_pric_uplmt_amt if cap is not None else None,
        hi_nego_drug_flag=entry.hi_nego_drug_flag,
        restriction=catalogue.restriction(hilist_code, day),
    )
