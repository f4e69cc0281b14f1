"""The base of every wire model, and the one exact decoder of raw message bytes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Frozen, unknown fields rejected. Flags accept the platform's "1"/"0" as well as true/false."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class UndecodableMessage(ValueError):
    """The bytes are not a JSON object (bad UTF-8, bad JSON, or JSON of another shape)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_json(raw: bytes | str) -> dict[str, Any]:
    """Raw bytes → a JSON object whose non-integer numbers are exact ``Decimal``s.

    Every consumer decodes through here so that an amount such as 0.1 never passes through a
    binary float (pydantic's own JSON parser would hand validators a float).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UndecodableMessage(f"not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UndecodableMessage(f"expected a JSON object, got {type(value).__name__}")
    return value


def encode_json(model: BaseModel) -> bytes:
    """A wire model → compact UTF-8 JSON (amounts as yuan strings), Chinese kept readable."""
    return json.dumps(model.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()
