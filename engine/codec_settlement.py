"""The record form of what a settlement decided (see engine.codec for the conventions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Literal

from contracts.codes import ChargeLevel, ExcludedCategory, FundPayType
from engine.benefit_name import BenefitName
from engine.clearing.valuation import CaseFacts
from engine.codec import Json, decimal, exact, fen, flag, flat, integer, opt_decimal, opt_fen, opt_text, text
from engine.items import Disagreement, ItemReason, SplitItem
from engine.policy_book import PolicyStamp
from engine.settlement_facts import FundPayment, SettlementAmounts
from engine.trail import TrailLine

_AMOUNTS = tuple(f.name for f in fields(SettlementAmounts))
_FUND = tuple(f.name for f in fields(FundPayment))
_SPLIT = tuple(f.name for f in fields(SplitItem))
_CASE = tuple(f.name for f in fields(CaseFacts))
# The same names as sets, made once: exact() compares every object read against one of them.
_AMOUNTS_FIELDS, _FUND_FIELDS, _SPLIT_FIELDS, _CASE_FIELDS = map(frozenset, (_AMOUNTS, _FUND, _SPLIT, _CASE))


def stamp_to_json(stamp: PolicyStamp) -> Json:
    return {"policy_id": stamp.policy_id, "version": stamp.version, "content_hash": stamp.content_hash}


def stamp_from_json(data: Mapping[str, Any]) -> PolicyStamp:
    d = exact(data, {"policy_id", "version", "content_hash"})
    return PolicyStamp(text(d["policy_id"]), integer(d["version"]), text(d["content_hash"]))


def amounts_to_json(amounts: SettlementAmounts) -> Json:
    return flat(amounts, _AMOUNTS)


def amounts_from_json(data: Mapping[str, Any]) -> SettlementAmounts:
    d = exact(data, _AMOUNTS_FIELDS)
    values: dict[str, Any] = {name: fen(d[name]) for name in _AMOUNTS if name != "pool_prop_selfpay"}
    return SettlementAmounts(**values, pool_prop_selfpay=decimal(d["pool_prop_selfpay"]))


def funds_to_json(funds: tuple[FundPayment, ...]) -> list[Json]:
    return [flat(row, _FUND) for row in funds]


def funds_from_json(rows: list[Mapping[str, Any]]) -> tuple[FundPayment, ...]:
    return tuple(
        FundPayment(
            FundPayType(d["fund_pay_type"]),
            fen(d["inscp_scp_amt"]),
            fen(d["crt_payb_lmt_amt"]),
            fen(d["fund_payamt"]),
            text(d["setl_proc_info"]),
        )
        for d in (exact(row, _FUND_FIELDS) for row in rows)
    )


def returned_to_json(funds: tuple[tuple[FundPayType, int], ...]) -> Json:
    return {fund.value: amount for fund, amount in funds}


def returned_from_json(data: Mapping[str, Any]) -> tuple[tuple[FundPayType, int], ...]:
    return tuple((FundPayType(fund), fen(amount)) for fund, amount in data.items())


_SPLIT_FLAT = tuple(name for name in _SPLIT if name not in ("disagreements", "refund_sns"))


def splits_to_json(splits: tuple[SplitItem, ...]) -> list[Json]:
    return [
        {
            **flat(s, _SPLIT_FLAT),
            "disagreements": [{"field": d.field, "sent": d.sent, "catalogue": d.catalogue} for d in s.disagreements],
            "refund_sns": list(s.refund_sns),
        }
        for s in splits
    ]


def _split(d: Mapping[str, Any]) -> SplitItem:
    level, flagged, reason = d["chrgitm_lv"], d["hi_nego_drug_flag"], d["reason"]
    return SplitItem(
        text(d["feedetl_sn"]),
        fen(d["det_item_fee_sumamt"]),
        fen(d["fulamt_ownpay_amt"]),
        fen(d["overlmt_selfpay"]),
        fen(d["preselfpay_amt"]),
        fen(d["inscp_scp_amt"]),
        BenefitName(d["benefit"]),
        None if d["excluded_category"] is None else ExcludedCategory(d["excluded_category"]),
        chrgitm_lv=None if level is None else ChargeLevel(level),
        selfpay_prop=opt_decimal(d["selfpay_prop"]),
        pric_uplmt_amt=opt_decimal(d["pric_uplmt_amt"]),
        hi_nego_drug_flag=None if flagged is None else flag(flagged),
        reason=None if reason is None else ItemReason(reason),
        disagreements=tuple(
            Disagreement(text(g["field"]), text(g["sent"]), text(g["catalogue"]))
            for g in (exact(g, {"field", "sent", "catalogue"}) for g in d["disagreements"])
        ),
        refund_sns=tuple(text(sn) for sn in d["refund_sns"]),
    )


def splits_from_json(rows: list[Mapping[str, Any]]) -> tuple[SplitItem, ...]:
    return tuple(_split(exact(row, _SPLIT_FIELDS)) for row in rows)


def case_to_json(case: CaseFacts | None) -> Json | None:
    if case is None:
        return None
    return flat(case, _CASE)


_OUTLIERS: dict[Any, Literal["high", "low"] | None] = {None: None, "high": "high", "low": "low"}
_METHODS: dict[Any, Literal["drg", "dip", "item"]] = {"drg": "drg", "dip": "dip", "item": "item"}
_KINDS: dict[Any, Literal["core", "comprehensive", "drg"] | None] = {
    None: None,
    "core": "core",
    "comprehensive": "comprehensive",
    "drg": "drg",
}


def case_from_json(data: Mapping[str, Any] | None) -> CaseFacts | None:
    if data is None:
        return None
    d = exact(data, _CASE_FIELDS)
    return CaseFacts(
        paymtd=_METHODS[d["paymtd"]],
        region=text(d["region"]),
        admdvs=text(d["admdvs"]),
        hosp_lv=text(d["hosp_lv"]),
        fund_pay_type=FundPayType(d["fund_pay_type"]),
        main_diag=opt_text(d["main_diag"]),
        main_oprn=opt_text(d["main_oprn"]),
        group_code=opt_text(d["group_code"]),
        group_kind=_KINDS[d["group_kind"]],
        declared_code=opt_text(d["declared_code"]),
        declared_value=opt_decimal(d["declared_value"]),
        disagreement=flag(d["disagreement"]),
        catalogue_value=opt_decimal(d["catalogue_value"]),
        coefficient=opt_decimal(d["coefficient"]),
        base_points=opt_decimal(d["base_points"]),
        points=opt_decimal(d["points"]),
        reference_cost=opt_fen(d["reference_cost"]),
        outlier=_OUTLIERS[d["outlier"]],
        special_review=flag(d["special_review"]),
        medfee=fen(d["medfee"]),
        item_fund=fen(d["item_fund"]),
        non_basic=fen(d["non_basic"]),
        provisional_due=fen(d["provisional_due"]),
    )


def trail_to_json(trail: tuple[TrailLine, ...]) -> list[Json]:
    return [{"rule": line.rule, "source": line.source, "text": line.text} for line in trail]


_TRAIL_FIELDS = {"rule", "source", "text"}  # one set for every line of every trail read


def trail_from_json(rows: list[Mapping[str, Any]]) -> tuple[TrailLine, ...]:
    return tuple(
        TrailLine(text(d["rule"]), text(d["source"]), text(d["text"]))
        for d in (exact(row, _TRAIL_FIELDS) for row in rows)
    )
