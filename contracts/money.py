"""Yuan on the wire, integer fen inside.

Amounts arrive as a JSON number or a string of yuan with at most two decimals. They are
parsed from their decimal text, never through a binary float, so "0.1" is exactly 10 fen.
Inside the models an amount is an ``int`` of fen; it is written back as a string of yuan
with exactly two decimals ("12.30"), which every JSON reader keeps exact.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# At most two decimals that matter: "12.3", "12.30" and "12.3000" are all 1,230 fen.
YUAN_PATTERN = r"^-?[0-9]{1,13}(\.[0-9]{1,2}0{0,4})?$"
_YUAN_TEXT = re.compile(YUAN_PATTERN)


def parse_yuan(value: Any) -> int:
    """Exact yuan → fen. Accepts int, Decimal or decimal text; refuses floats and > 2 decimals."""
    if isinstance(value, bool):
        raise ValueError("an amount must be yuan, not a boolean")
    if isinstance(value, int):
        if abs(value) >= 10**13:
            raise ValueError(f"{value} yuan is beyond the 13 digits an amount may have")
        return value * 100
    if isinstance(value, float):
        # A float has already lost the decimal text; pydantic's JSON parser hands us Decimal
        # or str for amounts (see _from_wire), so a float here means a Python caller's bug.
        raise ValueError("an amount must be given as text or Decimal, never as a binary float")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("an amount must be a finite number of yuan")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"an amount must be yuan as a number or string, got {type(value).__name__}")
    if not _YUAN_TEXT.match(text):
        raise ValueError(f"{text!r} is not an amount of yuan with at most two decimals")
    try:
        exact = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise ValueError(f"{text!r} is not a number") from exc
    fen = exact.scaleb(2)
    if fen != fen.to_integral_value():  # "1.000" is one yuan exactly; "1.005" is not whole fen
        raise ValueError(f"{text!r} is not an amount of yuan with at most two decimals")
    return int(fen)


def format_yuan(fen: int) -> str:
    """Fen → yuan text with exactly two decimals: 1230 → "12.30", -5 → "-0.05"."""
    if fen >= 0:  # on every amount of every answer: no sign to work out
        whole, cents = divmod(fen, 100)
        return f"{whole}.{cents:02d}"
    whole, cents = divmod(-fen, 100)
    return f"-{whole}.{cents:02d}"


_AMOUNT_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": YUAN_PATTERN},
        {"type": "number", "multipleOf": 0.01},
    ],
    "description": "Yuan with at most two decimals, as a JSON string (preferred) or number; exact.",
    "examples": ["128.50"],
}

# An amount in fen inside the program, yuan on the wire.
Yuan = Annotated[
    int,
    BeforeValidator(parse_yuan),
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema(_AMOUNT_SCHEMA),
]


def _fen_or_yuan_text(value: Any) -> int:
    """For models this service *emits*: built in Python from fen ints, read back from their own
    JSON as yuan text. A JSON number is refused, because our outputs never write one."""
    if isinstance(value, bool):
        raise ValueError("an amount must be fen or yuan text, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_yuan(value)
    raise ValueError(f"an emitted amount is fen (int) in Python or yuan text on the wire, got {type(value).__name__}")


_EMITTED_SCHEMA = {
    "type": "string",
    "pattern": r"^-?[0-9]{1,13}\.[0-9]{2}$",
    "description": "Yuan with exactly two decimals, as a string (exact).",
    "examples": ["128.50"],
}

# An amount in a message this service sends: fen inside, always "123.45" on the wire.
Amount = Annotated[
    int,
    BeforeValidator(_fen_or_yuan_text),
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema(_EMITTED_SCHEMA),
]
