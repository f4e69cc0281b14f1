"""The base of every wire model, and the one exact decoder of raw message bytes."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

# No message of the contract nests deeper than 5 levels (claim → items → item); 64 leaves a wide
# margin and keeps every later step (validation, hashing, logging) far from Python's recursion limit.
MAX_DEPTH = 64


class WireModel(BaseModel):
    """Frozen, unknown fields rejected. Flags accept the platform's "1"/"0" as well as true/false."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class UndecodableMessage(ValueError):
    """The bytes are not a JSON object (bad UTF-8, bad JSON, too deep, or JSON of another shape)."""


# A JSON string token (escapes included), so brackets inside strings are not counted as nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


# No integer of the contract needs more than 64 bits, and the ledger's canonical JSON (the events'
# hashes) refuses any that does: an unknown national field kept with a message may hold one.
# Digits are counted first, so a 5,000-digit number is refused before Python converts it.
MAX_INTEGER_DIGITS = 19
INTEGER_RANGE = range(-(2**63), 2**63)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique: with {"psn_no": "A", "psn_no": "B"} a gateway that
    reads the first and a service that reads the last would disagree about whose claim it is."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the name {name[:80]!r} appears twice in one object")
            seen.add(name)
    return value


def _bounded_int(text: str) -> int:
    value = int(text) if len(text.lstrip("-")) <= MAX_INTEGER_DIGITS else None
    if value is None or value not in INTEGER_RANGE:
        raise ValueError(f"the integer {text[:24]}{'…' if len(text) > 24 else ''} does not fit in 64 bits")
    return value


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing (so without
    recursion); stops counting once past ``limit``. Strings are skipped with a regular expression
    and only brackets are walked, so a 10 MB string costs one scan."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        depth += _STEP[char]
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) that is not Unicode text: JSON's "\\ud800" escapes let a
    message carry half a character, which no UTF-8 system downstream can store or print."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                return f"\\u{ord(item[error.start]):04x}"
    return None


# One decoder for every message (json.loads with hooks builds a new one per call).
_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=_bounded_int,
    parse_constant=_refuse_constant,
    object_pairs_hook=_object_without_duplicate_keys,
)


def decode_text(raw: bytes | str) -> str:
    """The message's text: raw bytes must be UTF-8 (UndecodableMessage otherwise)."""
    try:
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise UndecodableMessage(f"not valid UTF-8: {exc}") from None


# A surrogate code point written in the text itself (possible in a str, never in decoded UTF-8).
_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")


def _may_hold_surrogate(text: str) -> bool:
    """Whether a decoded string of ``text`` can hold a lone surrogate: only through a \\u escape or
    a surrogate in the text itself. One scan of the text saves walking every decoded string."""
    return "\\u" in text or _SURROGATE_CHAR.search(text) is not None


def decode_json(raw: bytes | str) -> dict[str, Any]:
    """Raw bytes → a JSON object whose non-integer numbers are exact ``Decimal``s.

    Every consumer decodes through here so that an amount such as 0.1 never passes through a
    binary float (pydantic's own JSON parser would hand validators a float). Whatever the bytes,
    it returns an object or raises ``UndecodableMessage`` — never ``RecursionError`` or a
    ``MemoryError`` of its own making: nesting is bounded before parsing starts, and text that
    is not Unicode (a lone surrogate) is refused after.
    """
    text = decode_text(raw)
    # No deeper than its count of opening brackets (those inside strings only add to it): a
    # claim has a dozen, so the walk of nesting_depth (a tenth of parsing a claim) is skipped.
    shallow = text.count("{") + text.count("[") <= MAX_DEPTH
    if not shallow and nesting_depth(text) > MAX_DEPTH:
        raise UndecodableMessage(f"arrays and objects nest deeper than {MAX_DEPTH} levels")
    try:
        if text.startswith("\ufeff"):  # what json.loads says of it (the decoder alone does not look)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except RecursionError:  # belt and braces: the depth check above should make this unreachable
        raise UndecodableMessage(f"arrays and objects nest deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise UndecodableMessage(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UndecodableMessage(f"expected a JSON object, got {type(value).__name__}")
    surrogate = _lone_surrogate(value) if _may_hold_surrogate(text) else None
    if surrogate is not None:
        raise UndecodableMessage(f"a string holds the lone surrogate {surrogate}, which is not Unicode text")
    return value


def encode_json(model: BaseModel) -> bytes:
    """A wire model → compact UTF-8 JSON (amounts as yuan strings), Chinese kept readable."""
    return model.model_dump_json().encode()
