"""The ids the platform issues: ``mdtrt_id`` at registration (2201 / 2401 / 2102) and
``setl_id`` at each settlement and reversal (2207 / 2304 / 2102, 2208 / 2305 / 2103).

A visit id is the region (6 digits), the day (yymmdd) and 8 digits derived from the request's
idempotency key — the same request always gets the same id, as with the settlement ids of
engine/ids.py — 20 characters like the platform's own. Uniqueness is the ledger's: the visit's
stream must be new (a taken id moves to the next ``attempt``). A settlement id is the visit id
and the number of ids the visit has issued so far (22 characters), unique because the visit's
stream orders them.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Protocol

MAX_IDS_PER_VISIT = 99


class IdIssuer(Protocol):
    def visit_id(self, region: str, day: date, key: str, attempt: int) -> str: ...

    def settlement_id(self, mdtrt_id: str, number: int, key: str) -> str: ...


class LedgerIds:
    def visit_id(self, region: str, day: date, key: str, attempt: int) -> str:
        area = region if len(region) == 6 and region.isdigit() else "000000"
        digest = int(hashlib.sha256(f"{key}#{attempt}".encode()).hexdigest()[:16], 16) % 10**8
        return f"{area}{day:%y%m%d}{digest:08d}"

    def settlement_id(self, mdtrt_id: str, number: int, key: str) -> str:
        if not 0 <= number <= MAX_IDS_PER_VISIT:
            raise ValueError(f"visit {mdtrt_id} has used its {MAX_IDS_PER_VISIT} settlement ids")
        return f"{mdtrt_id}{number:02d}"
