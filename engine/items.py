"""Split each line item into 全自费 / 超限价自费 / 先行自付 / 政策范围内 (docs/domain.md §2).

Per item, in this order: an excluded expense or a 丙类 item is all 全自费; the part of the
unit price above the catalogue cap is 超限价; of the rest, a 乙类 item pays selfpay_prop
先行自付 (rounded half up); what remains is policy-range. The four parts add up to the item
by construction, and the claim's parts are sums of the items'.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.claims import ClaimItem
from contracts.codes import ChargeLevel, ExcludedCategory, RejectionCode
from contracts.results import ItemSplit
from engine.benefits import BenefitName
from engine.errors import Rejected
from engine.money import times, times_quantity


@dataclass(frozen=True)
class SplitItem:
    feedetl_sn: str
    amount: int
    fulamt_ownpay: int
    overlmt_selfpay: int
    preselfpay: int
    inscp: int
    benefit: BenefitName
    excluded: ExcludedCategory | None
    account_may_pay: bool  # personal accounts never pay public health, fitness, wellness … (003)


def check_amount(item: ClaimItem, index: int) -> None:
    expected = times_quantity(item.pric, item.cnt)
    if item.det_item_fee_sumamt != expected:
        raise Rejected(
            RejectionCode.ITEM_AMOUNT_MISMATCH,
            f"item {item.feedetl_sn}: det_item_fee_sumamt is {item.det_item_fee_sumamt / 100:.2f} "
            f"but pric × cnt = {expected / 100:.2f} (rounded half up to the fen)",
            field=f"items.{index}.det_item_fee_sumamt",
        )


def split_item(
    item: ClaimItem,
    benefit: BenefitName | None,
    excluded_by_policy: frozenset[ExcludedCategory],
    account_excluded: frozenset[ExcludedCategory],
) -> SplitItem:
    """``benefit`` None: a negotiated drug outside "三定", so no fund pays for it."""
    amount = item.det_item_fee_sumamt
    excluded = item.excluded_category if item.excluded_category in excluded_by_policy else None
    account_ok = item.excluded_category not in account_excluded
    if excluded is not None or benefit is None or item.chrgitm_lv is ChargeLevel.CLASS_C:
        return SplitItem(item.feedetl_sn, amount, amount, 0, 0, 0, benefit or BenefitName.NONE, excluded, account_ok)
    over = 0
    if item.pric_uplmt_amt is not None and item.pric > item.pric_uplmt_amt:
        over = min(amount, times_quantity(item.pric - item.pric_uplmt_amt, item.cnt))
    rest = amount - over
    first_self = times(rest, item.selfpay_prop) if item.chrgitm_lv is ChargeLevel.CLASS_B else 0
    return SplitItem(item.feedetl_sn, amount, 0, over, first_self, rest - first_self, benefit, None, account_ok)


def item_views(splits: list[SplitItem]) -> tuple[ItemSplit, ...]:
    """The per-item split as it goes on the wire."""
    return tuple(
        ItemSplit(
            feedetl_sn=s.feedetl_sn,
            det_item_fee_sumamt=s.amount,
            fulamt_ownpay_amt=s.fulamt_ownpay,
            overlmt_selfpay=s.overlmt_selfpay,
            preselfpay_amt=s.preselfpay,
            inscp_scp_amt=s.inscp,
            benefit=s.benefit.value,
            excluded_category=s.excluded,
        )
        for s in splits
    )
