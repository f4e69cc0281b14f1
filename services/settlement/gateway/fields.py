"""Reading national fields the way hospital systems really send them (docs/national-interface.md
§5 and §10.8): numbers with trailing zeros or as strings, nulls and "" for "not given", dates
with or without a time, unknown keys next to the known ones (ignored, never refused).

Tolerant of form, strict on content: a field the gateway uses must hold what it says (an id of
safe characters, an amount of at most two decimals, a real date), or the message is refused
with one sentence naming the field — ``NationalRefusal``, answered ``infcode`` -1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Obj = Mapping[str, Any]
MAX_TEXT = 500  # no national field the gateway reads is longer
MAX_YUAN = Decimal("100000000")  # one hundred million yuan: beyond any visit or day's total
_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S")


class NationalRefusal(Exception):
    """The message cannot be done as sent; ``err_msg`` says why and what to send instead."""

    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


def _given(obj: Obj, name: str) -> Any:
    value = obj.get(name)
    return None if value == "" else value


def text(obj: Obj, name: str, *, required: bool = True, default: str = "") -> str:
    """A string field; a JSON integer is taken as its digits (hsa-his's Hunan feedetl_sn)."""
    value = _given(obj, name)
    if value is None:
        if required:
            raise NationalRefusal(f"{name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NationalRefusal(f"{name} must be a string, not {_kind(value)}")
    result = str(value).strip()
    if len(result) > MAX_TEXT or _CONTROL.search(result):
        raise NationalRefusal(f"{name} must be text of at most {MAX_TEXT} characters without control characters")
    if required and not result:
        raise NationalRefusal(f"{name} is required")
    return result


def identifier(obj: Obj, name: str, *, required: bool = True) -> str:
    """An id or code the gateway keys on: 1–64 letters, digits, '.', '_' or '-'."""
    value = text(obj, name, required=required)
    if value and not _ID.fullmatch(value):
        raise NationalRefusal(f"{name} must be 1 to 64 letters, digits, '.', '_' or '-'")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "true/false"}.get(type(value), type(value).__name__)


def number(obj: Obj, name: str, *, places: int, required: bool = True) -> Decimal | None:
    """A decimal from a JSON number or a numeric string, with at most ``places`` decimals once
    trailing zeros are dropped (``24.0000`` is 24; ``0.8500`` is 0.85)."""
    value = _given(obj, name)
    if value is None:
        if required:
            raise NationalRefusal(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise NationalRefusal(f"{name} must be a number, not {_kind(value)}")
    try:
        exact = Decimal(str(value).strip())
    except InvalidOperation:
        raise NationalRefusal(f"{name} must be a number; got {str(value)[:40]!r}") from None
    if not exact.is_finite() or abs(exact) >= MAX_YUAN:
        raise NationalRefusal(f"{name} must be a finite number below {MAX_YUAN}")
    normal = exact.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise NationalRefusal(f"{name} has more than {places} decimal places ({value})")
    return exact


def fen(obj: Obj, name: str, *, required: bool = True) -> int | None:
    """Yuan with at most two decimals → int fen (exact; never through a float)."""
    yuan = number(obj, name, places=2, required=required)
    return None if yuan is None else int(yuan * 100)


def required_fen(obj: Obj, name: str) -> int:
    value = fen(obj, name)
    assert value is not None  # required=True raised otherwise
    return value


def moment(obj: Obj, name: str, *, required: bool = True) -> datetime | None:
    """A national time: "yyyy-MM-dd HH:mm:ss" (China time), ISO with a T, or a bare date
    (midnight) — binzhe's production path drops the time, hsa-his adds " 00:00:00"."""
    raw = text(obj, name, required=required)
    if not raw:
        return None
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(raw, layout)
        except ValueError:
            continue
    try:
        return datetime.combine(date.fromisoformat(raw[:10]), datetime.min.time()) if len(raw) == 10 else _iso(raw)
    except ValueError:
        raise NationalRefusal(f"{name} must be a date or time like 2025-03-14 09:30:05; got {raw[:40]!r}") from None


def _iso(raw: str) -> datetime:
    parsed = datetime.fromisoformat(raw)
    return parsed.replace(tzinfo=None)  # national times are China time; an offset is dropped, not converted


def day(obj: Obj, name: str) -> date:
    value = moment(obj, name)
    assert value is not None
    return value.date()


def flag(obj: Obj, name: str, *, default: bool = False) -> bool:
    """A national flag: "1"/"0" (also 1/0, true/false); absent or "" is ``default``."""
    value = _given(obj, name)
    if value is None:
        return default
    if value in ("1", 1, True):
        return True
    if value in ("0", 0, False):
        return False
    raise NationalRefusal(f'{name} must be "0" or "1"; got {str(value)[:20]!r}')


def block(obj: Obj, name: str, *, required: bool = True) -> Obj:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise NationalRefusal(f"input.{name} is required")
        return {}
    if not isinstance(value, Mapping):
        raise NationalRefusal(f"input.{name} must be an object, not {_kind(value)}")
    return value


def rows(obj: Obj, name: str, *, limit: int, required: bool = True) -> list[Obj]:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise NationalRefusal(f"input.{name} is required")
        return []
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        raise NationalRefusal(f"input.{name} must be an array of objects")
    if len(value) > limit:
        raise NationalRefusal(f"input.{name} holds {len(value)} rows; at most {limit} per message")
    return value
