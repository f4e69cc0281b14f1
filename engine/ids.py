"""Deterministic ids: the same request always yields the same settlement id and event ids,
so a retried message can never mint a second settlement (TigerBeetle-style client ids)."""

from __future__ import annotations

import hashlib
import re
import uuid

_NAMESPACE = uuid.UUID("6f1c3a52-93a4-4d0e-9a55-1c1d8e2b7a10")
_SETL_ID = re.compile(r"^S(?P<year>[0-9]{4})-[0-9a-f]{16}$")


def settlement_id(request_key: str, year: int) -> str:
    """e.g. "S2025-3f2a…": the year tells which person-year stream holds it."""
    return f"S{year}-{hashlib.sha256(request_key.encode()).hexdigest()[:16]}"


def year_of(setl_id: str) -> int | None:
    match = _SETL_ID.match(setl_id)
    return int(match.group("year")) if match else None


def event_id(request_key: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{request_key}#{index}")
