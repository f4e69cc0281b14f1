"""The institution side's events to and from their record form, one explicit codec per type
(the conventions of engine.records: fen ints, decimals as text, strict readers, a
``schema_version`` in the data; every type is at version 1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import InvalidOperation
from typing import Any, Literal

from contracts.codes import FundPayType
from engine.clearing.events import (
    BookClose,
    BookYear,
    BudgetSet,
    ClearingEvent,
    DepositReleased,
    MonthClosed,
    PointValueRecord,
    RegionMonthClosed,
    RegionYearClosed,
    SpecialReviewDecided,
    YearClosed,
)
from engine.clearing.periods import Figures
from engine.clearing.year_end import Budget, ReviewDecision
from engine.codec import Json, decimal, exact, fen, flat, integer, opt_decimal, opt_fen, text
from engine.errors import UnreadableEvent

VERSION_KEY = "schema_version"
_FIGURES = tuple(f.name for f in fields(Figures))


def figures_out(f: Figures) -> Json:
    return flat(f, _FIGURES)


def figures_in(d: Mapping[str, Any]) -> Figures:
    d = exact(d, set(_FIGURES))
    counts: dict[str, Any] = {n: integer(d[n]) for n in _FIGURES if n != "points"}
    return Figures(points=decimal(d["points"]), **counts)


def _book_close_out(b: BookClose) -> Json:
    return {"fund_pay_type": b.fund_pay_type.value, "figures": figures_out(b.figures), "prepay": b.prepay}


def _book_close_in(d: Mapping[str, Any]) -> BookClose:
    d = exact(d, {"fund_pay_type", "figures", "prepay"})
    return BookClose(FundPayType(d["fund_pay_type"]), figures_in(d["figures"]), fen(d["prepay"]))


_BOOK_YEAR = tuple(f.name for f in fields(BookYear))


def _book_year_out(b: BookYear) -> Json:
    return {**flat(b, tuple(n for n in _BOOK_YEAR if n != "late")), "late": figures_out(b.late)}


def _book_year_in(d: Mapping[str, Any]) -> BookYear:
    d = exact(d, set(_BOOK_YEAR))
    amounts = ("cases", "dip_due", "drg_due", "item_due", "annual_due", "prepaid", "deposit", "balance")
    return BookYear(
        fund_pay_type=FundPayType(d["fund_pay_type"]),
        late=figures_in(d["late"]),
        points=decimal(d["points"]),
        point_value=opt_decimal(d["point_value"]),
        drg_factor=opt_decimal(d["drg_factor"]),
        **{n: integer(d[n]) for n in amounts},
    )


def _month_out(e: MonthClosed) -> Json:
    return {
        "year": e.year,
        "month": e.month,
        "up_to_position": e.up_to_position,
        "region": e.region,
        "books": [_book_close_out(b) for b in e.books],
    }


def _month_in(d: Mapping[str, Any]) -> MonthClosed:
    books = tuple(_book_close_in(b) for b in d["books"])
    return MonthClosed(integer(d["year"]), integer(d["month"]), integer(d["up_to_position"]), text(d["region"]), books)


def _year_out(e: YearClosed) -> Json:
    return {
        "year": e.year,
        "up_to_position": e.up_to_position,
        "region": e.region,
        "books": [_book_year_out(b) for b in e.books],
    }


def _year_in(d: Mapping[str, Any]) -> YearClosed:
    books = tuple(_book_year_in(b) for b in d["books"])
    return YearClosed(integer(d["year"]), integer(d["up_to_position"]), text(d["region"]), books)


_OUTCOMES: Mapping[Any, Literal["confirm", "amount", "points"]] = {
    "confirm": "confirm",
    "amount": "amount",
    "points": "points",
}


def _review_out(e: SpecialReviewDecided) -> Json:
    return {"year": e.year, **flat(e.decision, ("setl_id", "outcome", "amount", "points", "reason"))}


def _review_in(d: Mapping[str, Any]) -> SpecialReviewDecided:
    outcome = _OUTCOMES[d["outcome"]]
    decision = ReviewDecision(
        text(d["setl_id"]),
        outcome,
        opt_fen(d["amount"]),
        opt_decimal(d["points"]),
        text(d["reason"]),
    )
    return SpecialReviewDecided(decision, integer(d["year"]))


def _release_out(e: DepositReleased) -> Json:
    return flat(e, ("year", "fund_pay_type", "coefficient", "released", "forfeited", "region"))


def _release_in(d: Mapping[str, Any]) -> DepositReleased:
    """Version 2 names the region whose year end withheld the deposit; version 1 did not (read
    with region None: the release of an institution's only region)."""
    return DepositReleased(
        integer(d["year"]), FundPayType(d["fund_pay_type"]), decimal(d["coefficient"]), fen(d["released"]),
        fen(d["forfeited"]), text(d["region"]) if "region" in d else None,
    )  # fmt: skip


def _budget_out(e: BudgetSet) -> Json:
    return {
        "admdvs": e.admdvs,
        "year": e.year,
        "fund_pay_type": e.fund_pay_type.value,
        **flat(e.budget, ("dip", "drg", "total")),
    }


def _budget_in(d: Mapping[str, Any]) -> BudgetSet:
    budget = Budget(opt_fen(d["dip"]), opt_fen(d["drg"]), opt_fen(d["total"]))
    return BudgetSet(text(d["admdvs"]), integer(d["year"]), FundPayType(d["fund_pay_type"]), budget)


def _region_month_out(e: RegionMonthClosed) -> Json:
    return {"year": e.year, "month": e.month, "up_to_position": e.up_to_position, "institutions": list(e.institutions)}


def _region_month_in(d: Mapping[str, Any]) -> RegionMonthClosed:
    codes = tuple(text(c) for c in d["institutions"])
    return RegionMonthClosed(integer(d["year"]), integer(d["month"]), integer(d["up_to_position"]), codes)


_POINT_VALUE = tuple(f.name for f in fields(PointValueRecord))


def _region_year_out(e: RegionYearClosed) -> Json:
    return {
        "year": e.year,
        "up_to_position": e.up_to_position,
        "institutions": list(e.institutions),
        "point_values": [flat(p, _POINT_VALUE) for p in e.point_values],
        "drg_factors": {book.value: str(factor) for book, factor in e.drg_factors},
    }


def _point_value_in(d: Mapping[str, Any]) -> PointValueRecord:
    d = exact(d, set(_POINT_VALUE))
    return PointValueRecord(
        FundPayType(d["fund_pay_type"]), fen(d["budget"]), fen(d["available"]), fen(d["non_basic"]),
        decimal(d["points"]), decimal(d["computed"]), decimal(d["value"]), decimal(d["published"]),
    )  # fmt: skip


def _region_year_in(d: Mapping[str, Any]) -> RegionYearClosed:
    return RegionYearClosed(
        integer(d["year"]),
        integer(d["up_to_position"]),
        tuple(text(c) for c in d["institutions"]),
        tuple(_point_value_in(p) for p in d["point_values"]),
        tuple((FundPayType(k), decimal(v)) for k, v in d["drg_factors"].items()),
    )


@dataclass(frozen=True)
class Codec:
    version: int
    fields: frozenset[str]
    write: Callable[[Any], Json]
    read: Callable[[Mapping[str, Any]], ClearingEvent]


def _codec(write: Callable[[Any], Json], read: Callable[[Mapping[str, Any]], ClearingEvent], *names: str) -> Codec:
    return Codec(1, frozenset(names), write, read)


_RELEASE_V1 = frozenset({"year", "fund_pay_type", "coefficient", "released", "forfeited"})


CODECS: Mapping[type[Any], tuple[str, Codec]] = {
    MonthClosed: ("MonthClosed", _codec(_month_out, _month_in, "year", "month", "up_to_position", "region", "books")),
    YearClosed: ("YearClosed", _codec(_year_out, _year_in, "year", "up_to_position", "region", "books")),
    SpecialReviewDecided: (
        "SpecialReviewDecided",
        _codec(_review_out, _review_in, "year", "setl_id", "outcome", "amount", "points", "reason"),
    ),
    DepositReleased: ("DepositReleased", Codec(2, _RELEASE_V1 | {"region"}, _release_out, _release_in)),
    BudgetSet: ("BudgetSet", _codec(_budget_out, _budget_in, "admdvs", "year", "fund_pay_type", "dip", "drg", "total")),
    RegionMonthClosed: (
        "RegionMonthClosed",
        _codec(_region_month_out, _region_month_in, "year", "month", "up_to_position", "institutions"),
    ),
    RegionYearClosed: (
        "RegionYearClosed",
        _codec(
            _region_year_out, _region_year_in, "year", "up_to_position", "institutions", "point_values", "drg_factors"
        ),
    ),
}
BY_NAME: Mapping[str, Codec] = {name: codec for name, codec in CODECS.values()}
# Earlier versions still read (each by the current reader, which knows what they lack).
EARLIER: Mapping[tuple[str, int], Codec] = {
    ("DepositReleased", 1): Codec(1, _RELEASE_V1, _release_out, _release_in),
}


def to_record(event: ClearingEvent) -> tuple[str, Json]:
    name, codec = CODECS[type(event)]
    return name, {**codec.write(event), VERSION_KEY: codec.version}


def from_record(event_type: str, data: Mapping[str, Any]) -> ClearingEvent:
    codec = BY_NAME.get(event_type)
    version = data.get(VERSION_KEY)
    if codec is None:
        raise UnreadableEvent(event_type, version, "not an event of an institution or region stream")
    if type(version) is int and version != codec.version:
        codec = EARLIER.get((event_type, version), codec)
    if version != codec.version:
        raise UnreadableEvent(event_type, version, f"this code reads version {codec.version} only")
    try:
        return codec.read(exact({k: v for k, v in data.items() if k != VERSION_KEY}, set(codec.fields)))
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as error:
        raise UnreadableEvent(event_type, version, f"does not fit its schema: {error!r}") from None
