"""The whole log as an audit reads it: stream after stream, each with its projection state.

``ledger verify`` and ``audit.verify_chains`` read every event once, so what they read and how
is what they cost. An event comes as a ``ScannedEvent``: only the columns the hash covers, data
as jsonb's own text (what the v2 hash is defined over, ADR 0005) and the times already in the
hash's UTC form — nothing decoded that the check does not need. A verify decodes an event's
data (``decode_data``) for the domain's fold, and nothing else of it.

PostgreSQL yields them from one COPY in (stream, version) order, and the projections from keyset
pages on a second connection that shares the COPY's snapshot (PostgresLedger.scan_streams), so a
commit landing mid-scan is either wholly seen or not at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ledger.store import ProjectionState


class ScannedEvent(NamedTuple):
    stream_id: str
    version: int
    position: int
    event_id: str  # lowercase hyphenated, as event_id::text prints it
    event_type: str
    data: str  # jsonb's text of data
    occurred_at: str  # UTC, "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" (hashing.canonical_time)
    recorded_at: str  # ISO 8601 with an offset (datetime.fromisoformat reads it), e.g. "2025-03-01 08:30:00.5+00"
    prev_hash: str
    hash: str
    hash_alg: int


@dataclass(frozen=True)
class StreamScan:
    stream_id: str
    events: list[ScannedEvent]  # in version order, as stored (gaps and forks included)
    state: ProjectionState  # stream_version: the last scanned event's version


FLOAT_REFUSED = "float is not allowed in ledger JSON (money is int fen)"  # hashing.json_value's words


class FloatInData(ValueError):
    pass


def _no_float(_: str) -> Any:
    raise FloatInData(FLOAT_REFUSED)


_REFUSING_FLOATS = json.JSONDecoder(parse_float=_no_float)  # made once: json.loads would make one per call


def decode_data(text: str) -> tuple[Any, str | None]:
    """(data, None), or (data, why it is not the ledger's JSON) when it holds a float — which
    jsonb keeps and the v2 hash covers, but the ledger never writes. The check costs nothing
    when there is no float: json calls the hook only for one."""
    try:
        return _REFUSING_FLOATS.decode(text), None
    except FloatInData:
        return json.loads(text), FLOAT_REFUSED


# --- PostgreSQL's COPY text format, read back -------------------------------------------------

_ESCAPED = re.compile(r"\\(.)")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(field: str) -> str:
    """COPY TO's text escapes undone: a backslash, and the control characters it names."""
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), field)


_tuple = tuple.__new__  # skips the NamedTuple's Python-level __new__: this runs once per event


def scanned_from_copy(line: str) -> ScannedEvent:
    """One line of SCAN_EVENTS' COPY output (no column is ever NULL: the table says NOT NULL)."""
    fields = line.split("\t") if "\\" not in line else [_unescape(f) for f in line.split("\t")]
    stream, version, position, ident, kind, data, occurred, recorded, prev, digest, alg = fields
    return _tuple(ScannedEvent, (stream, int(version), int(position), ident, kind, data, occurred, recorded, prev,
                                 digest, int(alg)))  # fmt: skip


class CopyLines:
    """COPY output arrives in chunks cut anywhere (mid-line, mid-character): whole lines out."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[str]:
        data = self._tail + chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            return []
        self._tail = data[end + 1 :]
        return data[:end].decode("utf-8").split("\n")

    def finish(self) -> None:
        assert not self._tail, "COPY output ended inside a line"
