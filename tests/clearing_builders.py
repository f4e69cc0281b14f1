"""Entries of the clearing built by hand for the pure tests: a case's facts with only what the
clearing arithmetic reads set, the rest plain defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from contracts.codes import FundPayType
from engine.clearing.entries import Entry
from engine.clearing.valuation import CaseFacts

RESIDENTS = FundPayType.RESIDENT_POOLED


def facts(paymtd: str = "dip", **kw: Any) -> CaseFacts:
    base: dict[str, Any] = dict(
        paymtd=paymtd,
        region="640000",
        admdvs="640104",
        hosp_lv="2",
        fund_pay_type=RESIDENTS,
        main_diag="K35.800",
        main_oprn=None,
        group_code="G1",
        group_kind="core" if paymtd == "dip" else "drg",
        declared_code=None,
        declared_value=None,
        disagreement=False,
        catalogue_value=Decimal(1),
        coefficient=Decimal(1) if paymtd == "dip" else None,
        base_points=None,
        points=None,
        reference_cost=None,
        outlier=None,
        special_review=False,
        medfee=0,
        item_fund=0,
        non_basic=0,
        provisional_due=0,
    )
    base.update(kw)
    base["medfee"] = base["item_fund"] + base["non_basic"]
    return CaseFacts(**base)


def dip(points: str, non_basic: int, item_fund: int, **kw: Any) -> CaseFacts:
    """A DIP case in the point pool (amounts fen)."""
    p = Decimal(points)
    return facts("dip", points=p, base_points=p, non_basic=non_basic, item_fund=item_fund, **kw)


def drg(standard: int, non_basic: int, item_fund: int, outlier: str | None = None, **kw: Any) -> CaseFacts:
    due = item_fund if outlier else max(0, standard - non_basic)
    return facts(
        "drg", reference_cost=standard, non_basic=non_basic, item_fund=item_fund, outlier=outlier,
        special_review=outlier is not None, provisional_due=due, **kw,
    )  # fmt: skip


def entry(
    setl_id: str, case: CaseFacts | None, *, position: int, day: date, code: str = "H002", year: int = 2025
) -> Entry:
    medfee = case.medfee if case else 0
    fund = case.item_fund if case else 0
    return Entry(
        setl_id=setl_id,
        entry_id=setl_id,
        sign=1,
        position=position,
        day=day,
        year=year,
        fixmedins_code=code,
        psn_no=f"P-{setl_id}",
        mdtrt_id=f"M-{setl_id}",
        insutype="390",
        clr_type="21" if case else "11",
        medfee=medfee,
        fund_pay_sumamt=fund,
        acct_pay=0,
        funds={RESIDENTS: fund},
        case=case,
    )


def reversed_entry(original: Entry, reversal_id: str, *, position: int, day: date) -> Entry:
    return replace(
        original,
        entry_id=reversal_id,
        sign=-1,
        position=position,
        day=day,
        medfee=-original.medfee,
        fund_pay_sumamt=-original.fund_pay_sumamt,
        acct_pay=-original.acct_pay,
        funds={k: -v for k, v in original.funds.items()},
    )
