"""Split each line item into 全自费 / 超限价自费 / 先行自付 / 政策范围内 (docs/domain.md#items).

Per item, in this order: an excluded expense or a 丙类 item is all 全自费; the part of the
unit price above the catalogue cap is 超限价; of the rest, a 乙类 item pays selfpay_prop
先行自付 (rounded half up); what remains is policy-range. The four parts add up to the item
by construction, and the visit's parts are sums of the items'.

The catalogue terms (class, first self-pay ratio, unit price cap) are an input of the split,
given by ``catalogue_terms``: today the terms the institution declared on the item; the
payer's own catalogue is meant to take their place there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.codes import ChargeLevel, ExcludedCategory, RejectionCode
from contracts.money import format_yuan
from engine.benefit_name import BenefitName
from engine.benefits import Routing
from engine.errors import Rejected
from engine.money import times, times_quantity
from engine.trail import TrailLine, domain_rule
from engine.visit import VisitItem


@dataclass(frozen=True)
class CatalogueTerms:
    """What the medical-insurance catalogue says of an item."""

    chrgitm_lv: ChargeLevel  # 甲 / 乙 / 丙
    selfpay_prop: Decimal  # 先行自付比例 of a 乙类 item
    pric_uplmt_amt: int | None  # unit price cap, fen


def catalogue_terms(item: VisitItem) -> CatalogueTerms:
    """The terms an item is priced by: those the institution declared (the seam where the
    payer's catalogue will be looked up by hilist_code instead)."""
    return CatalogueTerms(item.chrgitm_lv, item.selfpay_prop, item.pric_uplmt_amt)


@dataclass(frozen=True)
class SplitItem:
    feedetl_sn: str
    det_item_fee_sumamt: int
    fulamt_ownpay_amt: int  # 全自费
    overlmt_selfpay: int  # 超限价自费
    preselfpay_amt: int  # 先行自付
    inscp_scp_amt: int  # 政策范围内
    benefit: BenefitName  # whose rules priced it
    excluded_category: ExcludedCategory | None  # excluded by the policy


def check_amount(item: VisitItem, index: int) -> None:
    expected = times_quantity(item.pric, item.cnt)
    if item.det_item_fee_sumamt != expected:
        raise Rejected(
            RejectionCode.ITEM_AMOUNT_MISMATCH,
            f"item {item.feedetl_sn}: det_item_fee_sumamt is {format_yuan(item.det_item_fee_sumamt)} "
            f"but pric × cnt = {format_yuan(expected)} (rounded half up to the fen)",
            field=f"items.{index}.det_item_fee_sumamt",
        )


def split_item(
    item: VisitItem,
    terms: CatalogueTerms,
    benefit: BenefitName | None,
    excluded_by_policy: frozenset[ExcludedCategory],
) -> SplitItem:
    """``benefit`` None: a negotiated drug outside "三定", so no fund pays for it."""
    amount = item.det_item_fee_sumamt
    excluded = item.excluded_category if item.excluded_category in excluded_by_policy else None
    if excluded is not None or benefit is None or terms.chrgitm_lv is ChargeLevel.CLASS_C:
        return SplitItem(item.feedetl_sn, amount, amount, 0, 0, 0, benefit or BenefitName.NONE, excluded)
    over = 0
    if terms.pric_uplmt_amt is not None and item.pric > terms.pric_uplmt_amt:
        over = min(amount, times_quantity(item.pric - terms.pric_uplmt_amt, item.cnt))
    rest = amount - over
    first_self = times(rest, terms.selfpay_prop) if terms.chrgitm_lv is ChargeLevel.CLASS_B else 0
    return SplitItem(item.feedetl_sn, amount, 0, over, first_self, rest - first_self, benefit, None)


@dataclass(frozen=True)
class ItemsInput:
    items: tuple[VisitItem, ...]
    terms: tuple[CatalogueTerms, ...]  # the catalogue terms of each item, in the same order
    routing: Routing
    excluded: frozenset[ExcludedCategory]  # what no fund of the policy pays
    account_excluded: frozenset[ExcludedCategory]  # what no personal account pays (003)


@dataclass(frozen=True)
class PricedItems:
    splits: tuple[SplitItem, ...]
    never_from_account: int  # 全自费 of lines no personal account may pay
    trail: tuple[TrailLine, ...]

    @property
    def medfee_sumamt(self) -> int:
        return sum(s.det_item_fee_sumamt for s in self.splits)

    @property
    def fulamt_ownpay_amt(self) -> int:
        return sum(s.fulamt_ownpay_amt for s in self.splits)

    @property
    def overlmt_selfpay(self) -> int:
        return sum(s.overlmt_selfpay for s in self.splits)

    @property
    def preselfpay_amt(self) -> int:
        return sum(s.preselfpay_amt for s in self.splits)

    @property
    def inscp_scp_amt(self) -> int:
        return sum(s.inscp_scp_amt for s in self.splits)


def price_items(given: ItemsInput) -> PricedItems:
    """Stage 1 of settle_claim: every line checked and split; the visit's parts are the sums."""
    splits = []
    for index, (item, terms) in enumerate(zip(given.items, given.terms, strict=True)):
        check_amount(item, index)
        splits.append(split_item(item, terms, given.routing.benefit_of(item.hi_nego_drug_flag), given.excluded))
    never = sum(
        s.fulamt_ownpay_amt
        for s, item in zip(splits, given.items, strict=True)
        if item.excluded_category in given.account_excluded
    )
    priced = PricedItems(tuple(splits), never, ())
    text = (
        f"total {format_yuan(priced.medfee_sumamt)} = 全自费 {format_yuan(priced.fulamt_ownpay_amt)} + "
        f"超限价 {format_yuan(priced.overlmt_selfpay)} + 先行自付 {format_yuan(priced.preselfpay_amt)} + "
        f"政策范围内 {format_yuan(priced.inscp_scp_amt)}"
    )
    return PricedItems(priced.splits, never, (TrailLine("items", domain_rule("items"), text),))
