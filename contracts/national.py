"""Wire types of the v2 contracts, read the way hospital systems write the national interface
(docs/national-interface.md §5): numbers with trailing zeros or as numeric strings, flags as
"0"/"1", times as "yyyy-MM-dd HH:mm:ss" in China time, empty strings for "not given", and
national fields this service does not use (kept, bounded, never refused).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

CHINA = timezone(timedelta(hours=8), "CST")
_NATIONAL_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Unknown national fields are kept with the visit (``extra``), within these bounds: a system that
# sends 40 regional keys per fee line fits; one that sends megabytes is refused with a sentence.
EXTRA_MAX_KEYS = 100
EXTRA_MAX_BYTES = 8_192  # per object, as compact JSON
EXTRA_MAX_DEPTH = 4


def blank_is_none(value: Any) -> Any:
    """National clients send "" (and null) for a value they do not have."""
    return None if value == "" else value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return value in (1, "1")
    raise ValueError('a flag is "0" or "1" (true or false also accepted)')


_FLAG_SCHEMA = {
    "anyOf": [{"type": "string", "enum": ["0", "1"]}, {"type": "boolean"}],
    "description": '"0"/"1" or a boolean',
}
Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema(_FLAG_SCHEMA)]


def _decimal(value: Any, places: int, what: str) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(f"{what} must be a decimal number or numeric text")
    if isinstance(value, str) and not value.isascii():  # Decimal() would read "٨٥" as 85
        raise ValueError(f"{what} must be written with the digits 0-9, got {value[:40]!r}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 12:
        raise ValueError(f"{what} must be a finite number below 10^12")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"{what} has more than {places} decimals")
    return number


def _unit_price(value: Any) -> Decimal:
    price = _decimal(value, 6, "a unit price")
    if price < 0:
        raise ValueError("a unit price is never negative (a refund is a negative cnt)")
    return price


def _quantity(value: Any) -> Decimal:
    quantity = _decimal(value, 4, "a quantity")
    if quantity == 0:
        raise ValueError("a quantity is never 0")
    return quantity


def _ratio(value: Any) -> Decimal:
    ratio = _decimal(value, 4, "a ratio")
    if not 0 <= ratio <= 1:
        raise ValueError("a ratio is between 0 and 1")
    return ratio


def _number_schema(places: int, description: str) -> dict[str, Any]:
    return {
        "anyOf": [{"type": "string", "pattern": rf"^-?[0-9]{{1,12}}(\.[0-9]{{1,{places}}}0*)?$"}, {"type": "number"}],
        "description": description,
    }


UnitPrice = Annotated[
    Decimal,
    BeforeValidator(_unit_price),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
    WithJsonSchema(_number_schema(6, "Unit price in yuan, up to 6 decimals (numeric text or number)")),
]
Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
    WithJsonSchema(_number_schema(4, "Quantity, up to 4 decimals; negative on a refund line")),
]
NationalRatio = Annotated[
    Decimal,
    BeforeValidator(_ratio),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
    WithJsonSchema(_number_schema(4, "A ratio from 0 to 1")),
]


def _time(value: Any) -> Any:
    """ISO 8601 with an offset passes through; the national "yyyy-MM-dd HH:mm:ss" (and an ISO
    time without an offset) is China time, as every national message means it."""
    if isinstance(value, str) and _NATIONAL_TIME.match(value.strip()):
        return datetime.fromisoformat(value.strip().replace(" ", "T")).replace(tzinfo=CHINA)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=CHINA)
    return value


def _day(value: Any) -> Any:
    """A day given as "yyyy-MM-dd", or as a national or ISO time (the day is kept)."""
    if isinstance(value, str):
        text = value.strip()
        if _DAY.match(text):
            return text
        if _NATIONAL_TIME.match(text) or "T" in text:
            try:
                return datetime.fromisoformat(text.replace(" ", "T")).date()
            except ValueError:
                raise ValueError(f"{text[:40]!r} is not a date or time") from None
    if isinstance(value, datetime):
        return value.date()
    return value


_TIME_SCHEMA = {
    "type": "string",
    "description": 'ISO 8601 with an offset, or the national "yyyy-MM-dd HH:mm:ss" (China time, UTC+8)',
    "examples": ["2025-03-14 09:30:12", "2025-03-14T09:30:12+08:00"],
}
_DAY_SCHEMA = {
    "type": "string",
    "description": '"yyyy-MM-dd"; a time ("yyyy-MM-dd HH:mm:ss" or ISO) is accepted and its day kept',
    "examples": ["2025-03-14", "2025-03-14 00:00:00"],
}
# After pydantic's own parsing too: a time it reads in a form _time does not ("2025-02-01 08:00",
# no seconds) came out naive, and a naive sent_at failed every answer built from it (found by
# scripts/fuzz.py: the offline CLI answered such a line internal_error).
NationalTime = Annotated[datetime, BeforeValidator(_time), AfterValidator(_time), WithJsonSchema(_TIME_SCHEMA)]
NationalDay = Annotated[date, BeforeValidator(_day), WithJsonSchema(_DAY_SCHEMA)]


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


class TolerantModel(BaseModel):
    """A v2 model: strict on every field it declares, tolerant of national fields it does not
    (kept in ``model_extra``, bounded: EXTRA_MAX_KEYS keys, EXTRA_MAX_BYTES, EXTRA_MAX_DEPTH)."""

    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _bounded_extra(self) -> TolerantModel:
        extra = self.model_extra
        if not extra:  # most messages carry no national field this service does not use
            return self
        if len(extra) > EXTRA_MAX_KEYS:
            raise ValueError(f"more than {EXTRA_MAX_KEYS} fields this service does not use")
        if _depth(extra) > EXTRA_MAX_DEPTH:
            raise ValueError(f"fields this service does not use nest deeper than {EXTRA_MAX_DEPTH} levels")
        size = len(json.dumps(extra, default=_plain, ensure_ascii=False, separators=(",", ":")).encode())
        if size > EXTRA_MAX_BYTES:
            raise ValueError(f"fields this service does not use hold {size} bytes, more than {EXTRA_MAX_BYTES}")
        return self

    @property
    def extra(self) -> dict[str, Any]:
        """The national fields this service does not use, numbers as decimal text."""
        return {key: json.loads(json.dumps(value, default=_plain)) for key, value in (self.model_extra or {}).items()}
