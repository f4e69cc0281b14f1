"""Split each fee line into 全自费 / 超限价自费 / 先行自付 / 政策范围内 (docs/domain.md#items), by
the payer's catalogue in force on the visit's day — never by what the institution declared.

Per line, in this order: refund lines are netted against the line they refund; a code not in
the catalogue, a 丙类 item, an excluded expense, a restriction (限定支付范围) not met, or a
negotiated drug outside "三定" is all 全自费, with the reason; the part of the unit price above
the catalogue's cap is 超限价; of the rest, a 乙类 item pays the catalogue's 先行自付 ratio for
the person (rounded half up); what remains is policy-range. The four parts add up to the line
by construction, and the visit's parts are sums of the lines'. What the institution declared
of class, ratio, cap and flag is compared with the catalogue: a difference is a disagreement,
recorded with the line and shown in the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from contracts.codes import ChargeLevel, ExcludedCategory, RejectionCode
from contracts.money import format_yuan
from engine.benefit_name import BenefitName
from engine.benefits import Routing
from engine.errors import Rejected
from engine.money import half_up
from engine.payer_catalogue import CatalogueTerms, Restriction
from engine.trail import TrailLine, domain_rule
from engine.visit import VisitItem


class ItemReason(StrEnum):
    """Why a line is all 全自费 (or why it is nothing at all)."""

    NOT_IN_CATALOGUE = "not_in_catalogue"  # the code is in no catalogue of the payer that day
    CLASS_C = "class_c"  # 丙类
    EXCLUDED_EXPENSE = "excluded_expense"  # 基金不予支付范围 (004)
    RESTRICTED_LEVEL = "restricted_hospital_level"  # 限定支付范围: hospital level
    RESTRICTED_SEX = "restricted_sex"
    RESTRICTED_AGE = "restricted_age"
    RESTRICTED_INDICATION = "restricted_indication"  # no diagnosis of the indicated diseases
    RESTRICTED_MED_TYPE = "restricted_med_type"
    OUTSIDE_THREE_FIXED = "dual_channel_not_designated"  # a negotiated drug outside "三定"
    REFUNDED = "refunded"  # refund lines took the whole line back


@dataclass(frozen=True)
class Disagreement:
    """The institution said one thing of a line, the payer's catalogue another (text values)."""

    field: str  # chrgitm_lv, selfpay_prop, pric_uplmt_amt, hi_nego_drug_flag
    sent: str
    catalogue: str  # "" when the catalogue has no value (not listed, no cap)


@dataclass(frozen=True)
class SplitItem:
    feedetl_sn: str
    det_item_fee_sumamt: int  # net of the refund lines netted into it
    fulamt_ownpay_amt: int  # 全自费
    overlmt_selfpay: int  # 超限价自费
    preselfpay_amt: int  # 先行自付
    inscp_scp_amt: int  # 政策范围内
    benefit: BenefitName  # whose rules priced it
    excluded_category: ExcludedCategory | None  # excluded by the policy
    # The catalogue's terms that priced the line (None: not in the catalogue, or an event
    # recorded before the catalogue priced lines, whose terms are the visit's declared ones).
    chrgitm_lv: ChargeLevel | None = None
    selfpay_prop: Decimal | None = None
    pric_uplmt_amt: Decimal | None = None
    hi_nego_drug_flag: bool | None = None
    reason: ItemReason | None = None
    disagreements: tuple[Disagreement, ...] = ()
    refund_sns: tuple[str, ...] = ()  # the refund lines netted into this one


@dataclass(frozen=True)
class LineContext:
    """What a restriction is checked against."""

    hosp_lv: int | None  # the institution's level in the registry (None: pharmacy, clinic)
    gend: str | None
    age: int | None  # whole years on the first day of the visit
    diagnoses: tuple[str, ...]  # upper-case ICD-10 codes of the visit
    med_type: str


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, ChargeLevel):
        return value.value
    return str(value)


def disagreements(item: VisitItem, terms: CatalogueTerms | None) -> tuple[Disagreement, ...]:
    """Each declared term that differs from the catalogue's (numbers compared as numbers)."""
    sent = item.declared
    payer: dict[str, object] = {
        "chrgitm_lv": terms.chrgitm_lv if terms else None,
        "selfpay_prop": terms.selfpay_prop if terms else None,
        "pric_uplmt_amt": terms.pric_uplmt_amt if terms else None,
        "hi_nego_drug_flag": terms.hi_nego_drug_flag if terms else None,
    }
    found = []
    for name, theirs in payer.items():
        ours = getattr(sent, name)
        if ours is not None and ours != theirs:
            found.append(Disagreement(name, _text(ours), _text(theirs)))
    return tuple(found)


def unmet_restriction(limit: Restriction, ctx: LineContext) -> tuple[ItemReason, str] | None:
    """The first condition of 限定支付范围 the visit does not meet, with a sentence."""
    if limit.min_hosp_lv is not None and (ctx.hosp_lv is None or ctx.hosp_lv < limit.min_hosp_lv):
        return ItemReason.RESTRICTED_LEVEL, f"paid only at hospitals of level {limit.min_hosp_lv} or above"
    if limit.gend is not None and ctx.gend != limit.gend:
        return ItemReason.RESTRICTED_SEX, f"paid only for gend {limit.gend}; the patient's is {ctx.gend or 'not known'}"
    if limit.min_age is not None or limit.max_age is not None:
        low, high = limit.min_age or 0, limit.max_age if limit.max_age is not None else 200
        if ctx.age is None or not low <= ctx.age <= high:
            age = "not known" if ctx.age is None else str(ctx.age)
            return ItemReason.RESTRICTED_AGE, f"paid only from age {low} to {high}; the patient's is {age}"
    if limit.dise_codes and not any(d.startswith(p) for d in ctx.diagnoses for p in limit.dise_codes):
        return ItemReason.RESTRICTED_INDICATION, f"paid only with a diagnosis of {', '.join(limit.dise_codes)}"
    if limit.med_types and ctx.med_type not in limit.med_types:
        return ItemReason.RESTRICTED_MED_TYPE, f"paid only under med_type {', '.join(limit.med_types)}"
    return None


@dataclass(frozen=True)
class NetLine:
    """A line with the refund lines that name it netted in: what is split."""

    item: VisitItem  # the original line
    cnt: Decimal
    amount: int  # fen
    refund_sns: tuple[str, ...]


def line_amount(pric: Decimal, cnt: Decimal) -> int:
    """A unit price in yuan (up to 6 decimals) × a quantity, in fen, rounded half up."""
    return half_up(pric * cnt * 100)


def check_amount(item: VisitItem, index: int) -> None:
    expected = line_amount(item.pric, item.cnt)
    if item.det_item_fee_sumamt != expected:
        raise Rejected(
            RejectionCode.ITEM_AMOUNT_MISMATCH,
            f"item {item.feedetl_sn}: det_item_fee_sumamt is {format_yuan(item.det_item_fee_sumamt)} "
            f"but pric × cnt = {format_yuan(expected)} (rounded half up to the fen)",
            field=f"feedetail.{index}.det_item_fee_sumamt",
        )


def _unmatched(item: VisitItem, index: int, why: str) -> Rejected:
    return Rejected(
        RejectionCode.REFUND_LINE_UNMATCHED,
        f"refund line {item.feedetl_sn}: {why}",
        field=f"feedetail.{index}.init_feedetl_sn",
    )


def net_lines(items: tuple[VisitItem, ...]) -> tuple[NetLine, ...]:
    """Refund lines (negative cnt, init_feedetl_sn) netted against the original line they name,
    before any split: a refund must name an original line of the same visit with the same
    code, and may not take back more than it."""
    originals = {item.feedetl_sn: item for item in items if not item.refund}
    nets = {sn: NetLine(item, item.cnt, item.det_item_fee_sumamt, ()) for sn, item in originals.items()}
    for index, item in enumerate(items):
        if item.refund != (item.cnt < 0):
            why = "a negative cnt needs init_feedetl_sn" if item.cnt < 0 else "cnt must be negative on a refund"
            raise Rejected(
                RejectionCode.REFUND_LINE_UNMATCHED, f"line {item.feedetl_sn}: {why}", field=f"feedetail.{index}"
            )
        if not item.refund:
            continue
        original = originals.get(item.init_feedetl_sn or "")
        if original is None:
            raise _unmatched(item, index, f"no original line {item.init_feedetl_sn} in this visit")
        if original.hilist_code != item.hilist_code:
            raise _unmatched(item, index, f"it refunds {item.hilist_code}, the original line is {original.hilist_code}")
        net = nets[original.feedetl_sn]
        nets[original.feedetl_sn] = NetLine(
            original, net.cnt + item.cnt, net.amount + item.det_item_fee_sumamt, (*net.refund_sns, item.feedetl_sn)
        )
    for index, item in enumerate(items):
        netted = nets.get(item.feedetl_sn)
        if netted is not None and (netted.cnt < 0 or netted.amount < 0):
            raise _unmatched(item, index, "its refund lines take back more than the line charged")
    return tuple(nets[item.feedetl_sn] for item in items if not item.refund)


def _self_pay_reason(
    line: NetLine,
    terms: CatalogueTerms | None,
    excluded: ExcludedCategory | None,
    benefit: BenefitName | None,
    ctx: LineContext,
) -> tuple[ItemReason, str] | None:
    """Why the whole line is 全自费, first reason first, with a sentence for the trail."""
    code = line.item.hilist_code
    if terms is None:
        return ItemReason.NOT_IN_CATALOGUE, f"{code} is in no catalogue of the payer on the visit's day"
    if excluded is not None:
        return ItemReason.EXCLUDED_EXPENSE, f"{excluded.value}: an expense no fund pays"
    if terms.chrgitm_lv is ChargeLevel.CLASS_C:
        return ItemReason.CLASS_C, f"{code} is 丙类 in the catalogue"
    unmet = unmet_restriction(terms.restriction, ctx) if terms.restriction is not None else None
    if unmet is not None:
        return unmet[0], f"{code} is {unmet[1]} (限定支付范围)"
    if benefit is None:
        return ItemReason.OUTSIDE_THREE_FIXED, f"{code} is a negotiated drug outside \u201c三定\u201d"
    return None


def split_line(
    line: NetLine,
    terms: CatalogueTerms | None,
    benefit: BenefitName | None,
    excluded_by_policy: frozenset[ExcludedCategory],
    ctx: LineContext,
) -> tuple[SplitItem, str | None]:
    """One line split by the catalogue's terms. ``benefit`` None: a negotiated drug outside
    "三定", which no fund pays. Returns the split and, for a 全自费 line, why."""
    item, amount = line.item, line.amount
    excluded = item.excluded_category if item.excluded_category in excluded_by_policy else None
    # The parts and the reason first, then the split built once (dataclasses.replace re-ran the
    # frozen __init__ up to twice per line, on every line of every claim).
    parts: tuple[int, int, int, int]  # 全自费, 超限价, 先行自付, 政策范围内
    reason: ItemReason | None
    shown: ExcludedCategory | None  # the policy's exclusion, on a 全自费 line only
    text: str | None
    why: tuple[ItemReason, str] | None = None
    if amount == 0:
        parts, reason, shown, text = (0, 0, 0, 0), ItemReason.REFUNDED, None, None
    elif (why := _self_pay_reason(line, terms, excluded, benefit, ctx)) is not None or terms is None:
        reason, text = why or (ItemReason.NOT_IN_CATALOGUE, "")
        parts, shown = (amount, 0, 0, 0), excluded
    else:
        over = 0
        if terms.pric_uplmt_amt is not None and item.pric > terms.pric_uplmt_amt:
            over = min(amount, line_amount(item.pric - terms.pric_uplmt_amt, line.cnt))
        rest = amount - over
        first_self = half_up(Decimal(rest) * terms.selfpay_prop) if terms.chrgitm_lv is ChargeLevel.CLASS_B else 0
        parts, reason, shown, text = (0, over, first_self, rest - first_self), None, None, None
    split = SplitItem(
        item.feedetl_sn,
        amount,
        *parts,
        benefit or BenefitName.NONE,
        shown,
        chrgitm_lv=None if terms is None else terms.chrgitm_lv,
        selfpay_prop=None if terms is None else terms.selfpay_prop,
        pric_uplmt_amt=None if terms is None else terms.pric_uplmt_amt,
        hi_nego_drug_flag=None if terms is None else terms.hi_nego_drug_flag,
        reason=reason,
        disagreements=disagreements(item, terms),
        refund_sns=line.refund_sns,
    )
    return split, text


@dataclass(frozen=True)
class ItemsInput:
    lines: tuple[NetLine, ...]
    terms: tuple[CatalogueTerms | None, ...]  # the catalogue terms of each line, in the same order
    routing: Routing
    excluded: frozenset[ExcludedCategory]  # what no fund of the policy pays
    account_excluded: frozenset[ExcludedCategory]  # what no personal account pays (003)
    context: LineContext


@dataclass(frozen=True)
class PricedItems:
    splits: tuple[SplitItem, ...]
    never_from_account: int  # 全自费 of lines no personal account may pay
    trail: tuple[TrailLine, ...]
    # The visit's parts, the sums of the lines', summed once: the stages after this one read them.
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    inscp_scp_amt: int


def _trail(priced: PricedItems, notes: list[str]) -> tuple[TrailLine, ...]:
    text = (
        f"total {format_yuan(priced.medfee_sumamt)} = 全自费 {format_yuan(priced.fulamt_ownpay_amt)} + "
        f"超限价 {format_yuan(priced.overlmt_selfpay)} + 先行自付 {format_yuan(priced.preselfpay_amt)} + "
        f"政策范围内 {format_yuan(priced.inscp_scp_amt)}"
    )
    lines = [TrailLine("items", domain_rule("items"), text)]
    lines += [TrailLine("items.self_pay", domain_rule("items"), note) for note in notes]
    disputed = [
        f"{s.feedetl_sn} {d.field} {d.sent or '-'}→{d.catalogue or '-'}" for s in priced.splits for d in s.disagreements
    ]
    if disputed:
        text = "priced by the payer's catalogue, not as sent: " + "; ".join(disputed)
        lines.append(TrailLine("items.disagreement", domain_rule("items"), text))
    return tuple(lines)


def price_items(given: ItemsInput) -> PricedItems:
    """Stage 1 of settle_claim: every line split by the catalogue; the visit's parts are the sums."""
    splits, notes = [], []
    for line, terms in zip(given.lines, given.terms, strict=True):
        negotiated = terms is not None and terms.hi_nego_drug_flag
        split, why = split_line(line, terms, given.routing.benefit_of(negotiated), given.excluded, given.context)
        splits.append(split)
        if why:
            notes.append(f"{split.feedetl_sn} {format_yuan(split.fulamt_ownpay_amt)} 全自费: {why}")
    never = sum(
        s.fulamt_ownpay_amt
        for s, line in zip(splits, given.lines, strict=True)
        if line.item.excluded_category in given.account_excluded
    )
    priced = PricedItems(
        tuple(splits),
        never,
        (),
        medfee_sumamt=sum([s.det_item_fee_sumamt for s in splits]),
        fulamt_ownpay_amt=sum([s.fulamt_ownpay_amt for s in splits]),
        overlmt_selfpay=sum([s.overlmt_selfpay for s in splits]),
        preselfpay_amt=sum([s.preselfpay_amt for s in splits]),
        inscp_scp_amt=sum([s.inscp_scp_amt for s in splits]),
    )
    return replace(priced, trail=_trail(priced, notes))
