"""The national answer envelope and its JSON types (docs/national-interface.md §4, §5, §10).

- ``infcode`` is the string "0" on success (hsa-his tests ``"0".equals``; a JSON number 0 is a
  failure there) and the string "-1" on failure (hsa-his's 3201/3202 path tests only
  ``"-1".equals``, so a JSON number -1 would pass as success there; binzhe's C# ``int`` and the
  JavaScript pages' loose ``== 0`` read both strings).
- Amounts are JSON numbers, always present: fen are written as yuan with two decimals
  (``23.80``), exact, never through a float; ratios with four (``0.5000``).
- Ids, codes and flags are strings; times "yyyy-MM-dd HH:mm:ss" (China time).

``Yuan``/``Ratio``/``Count`` wrap values so the encoder writes them as JSON numbers with the
scale the national layout prints; everything else is plain JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from contracts.money import format_yuan
from engine.ids import event_id

CHINA = timezone(timedelta(hours=8))
SUCCESS, FAILURE = "0", "-1"


@dataclass(frozen=True)
class Number:
    """A JSON number written with exactly this text (never a float's)."""

    text: str

    def value(self) -> Decimal:
        return Decimal(self.text)


def yuan(fen: int) -> Number:
    return Number(format_yuan(fen))


def ratio(value: Decimal) -> Number:
    return Number(str(value.quantize(Decimal("0.0001"))))


def quantity(value: Decimal, places: int) -> Number:
    """A count or unit price with at least ``places`` decimals, more if it has them."""
    exponent = value.as_tuple().exponent
    shown = max(places, -exponent if isinstance(exponent, int) else places)
    return Number(f"{value:.{shown}f}")


def china_time(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _stamp(at: datetime) -> str:
    local = at.astimezone(CHINA)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def refmsgid(region: str, msgid: str, at: datetime) -> str:
    """The answer's own id: receiving region (6) + yyyyMMddHHmmss + a 10-digit serial, as the
    platform forms it (binzhe SYBCommon.cs line 110); the serial is derived from the msgid."""
    serial = int(hashlib.sha256(msgid.encode()).hexdigest()[:12], 16) % 10**10
    area = region if len(region) == 6 and region.isdigit() else "000000"
    return f"{area}{at.astimezone(CHINA):%Y%m%d%H%M%S}{serial:010d}"


def answer(
    *,
    region: str,
    msgid: str,
    received_at: datetime,
    answered_at: datetime,
    output: dict[str, Any],
    err_msg: str = "",
    warn_msg: str = "",
) -> dict[str, Any]:
    return {
        "infcode": FAILURE if err_msg else SUCCESS,
        "inf_refmsgid": refmsgid(region, msgid, received_at),
        "refmsg_time": _stamp(received_at),
        "respond_time": _stamp(answered_at),
        "err_msg": err_msg,
        "warn_msg": warn_msg,
        "cainfo": "",
        "signtype": "",
        "output": output,
    }


def succeeded(stored: dict[str, Any]) -> bool:
    return stored.get("infcode") == SUCCESS


STORED_KEY = "national_answer"
TOMBSTONE = "cancelled_by"  # on the row 2601 leaves for a message it cancelled before it came


NATIONAL = "national_answer"


def stored_row(text: str, *, key: str, infno: str) -> dict[str, Any]:
    """An answer as the ledger keeps it (idempotency row): its exact text, so a retry gets the
    same bytes back whatever the store does to key order or number spelling; the transaction
    it answered (2601 checks ``oinfno`` against it); and, like every answer the ledger stores,
    its ``msg_type`` and the ``event_id`` its key derives (ledger/backing.py audits both)."""
    return {"msg_type": NATIONAL, "event_id": str(event_id(key, 0)), STORED_KEY: text, "infno": infno}


def from_stored(stored: Mapping[str, Any]) -> bytes:
    text = stored[STORED_KEY]
    if not isinstance(text, str):
        raise TypeError("a stored national answer is text")
    return text.encode()


def encode(value: Any) -> str:
    """JSON text with ``Number`` written as is; no float ever reaches the output."""
    if isinstance(value, Number):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("a float in a national answer: amounts must be Number")
    return json.dumps(value, ensure_ascii=False)
