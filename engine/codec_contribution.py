"""The record form of ContributionRecorded (see engine.codec for the conventions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from contracts.codes import FundPayType, Insutype
from engine.codec import Json, exact, fen, flat, integer, text
from engine.contributions import BookEntry, ContributionFacts, ContributionRecorded

_FACTS = tuple(f.name for f in fields(ContributionFacts))
_ENTRY = tuple(f.name for f in fields(BookEntry))
CONTRIBUTION_RECORDED = frozenset({"contribution", "insutype", "admdvs", "policy_id", "entries"})


def contribution_out(e: ContributionRecorded) -> Json:
    return {
        "contribution": flat(e.contribution, _FACTS),
        "insutype": e.insutype.value,
        "admdvs": e.admdvs,
        "policy_id": e.policy_id,
        "entries": [flat(entry, _ENTRY) for entry in e.entries],
    }


def _facts(data: Mapping[str, Any]) -> ContributionFacts:
    d = exact(data, set(_FACTS))
    month = None if d["month"] is None else integer(d["month"])
    amounts = {n: fen(d[n]) for n in _FACTS if n not in ("psn_no", "year", "month")}
    return ContributionFacts(psn_no=text(d["psn_no"]), year=integer(d["year"]), month=month, **amounts)


def _entry(data: Mapping[str, Any]) -> BookEntry:
    d = exact(data, set(_ENTRY))
    kind = text(d["kind"])
    if kind not in ("income", "spending"):
        raise ValueError(f"book entry kind {kind!r}")
    return BookEntry(
        FundPayType(d["fund_pay_type"]), "income" if kind == "income" else "spending", text(d["item"]), fen(d["amount"])
    )


def contribution_in(d: Mapping[str, Any]) -> ContributionRecorded:
    return ContributionRecorded(
        _facts(d["contribution"]),
        Insutype(d["insutype"]),
        text(d["admdvs"]),
        text(d["policy_id"]),
        tuple(_entry(row) for row in d["entries"]),
    )
