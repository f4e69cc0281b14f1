"""HTTP of the ledger service: audits for auditors; probes and metrics come from ops.http.

GET  /v1/persons/{psn_no}/years/{year}/replay[?as_of=ISO-8601]  a year rebuilt from its events
POST /v1/verify[?prefix=P]   hash chains and inline projections checked against a replay
Both need a token with the role `auditor`. What they use comes from the lifespan state.
The clearing's routes (statements, reconciliation) are ledger/clearing/http.py's.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.policy_book import PolicyBook
from ledger.clearing.audit import Check
from ledger.replay import replay_report
from ledger.store import AuditableStore
from ledger.verify import verify_ledger
from ops.auth import Role
from ops.http import Endpoint, Problem, path_psn_no, path_year, running
from ops.metrics import LedgerMetrics

AUDITORS = frozenset({Role.AUDITOR})
PREFIX = re.compile(r"[0-9A-Za-z_-]{1,30}")
BUSY = {"Retry-After": "30"}


class Audits(Protocol):
    """What the audit routes need of the running service (ledger.app.Running)."""

    store: AuditableStore
    policies: PolicyBook | None
    verify_lock: asyncio.Lock

    async def verify_followers(self) -> list[str]: ...

    def verify_clearing(self) -> Check: ...


def _as_of(request: Request) -> datetime | None:
    if "as_of" not in request.query_params:
        return None
    try:
        as_of = datetime.fromisoformat(request.query_params["as_of"])
    except ValueError:
        raise Problem(400, "as_of must be an ISO 8601 time, e.g. 2025-06-30T23:59:59+08:00") from None
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)


def audit_endpoints(metrics: LedgerMetrics) -> list[Endpoint]:
    async def replay(request: Request) -> Response:
        try:
            psn_no, year, as_of = path_psn_no(request), path_year(request), _as_of(request)
        except Problem:
            metrics.audits.labels("replay", "bad_request").inc()
            raise
        audits: Audits = running(request)
        body = await replay_report(audits.store, psn_no, year, as_of=as_of, policies=audits.policies)
        if body is None:
            metrics.audits.labels("replay", "not_found").inc()
            when = f" as of {as_of.isoformat()}" if as_of else ""
            raise Problem(404, f"the ledger holds no events for {psn_no} in {year}{when}")
        metrics.audits.labels("replay", "ok").inc()
        return JSONResponse(body)

    async def verify(request: Request) -> Response:
        audits: Audits = running(request)
        prefix = request.query_params.get("prefix") or None
        if prefix is not None and not PREFIX.fullmatch(prefix):
            raise Problem(400, "prefix is the start of a psn_no: up to 30 letters, digits, '_' or '-'")
        if audits.verify_lock.locked():
            metrics.audits.labels("verify", "busy").inc()
            raise Problem(429, "a verification is already running; try again when it has finished", headers=BUSY)
        async with audits.verify_lock:
            clearing = None if prefix else audits.verify_clearing()
            report = await verify_ledger(audits.store, prefix, followers=audits.verify_followers, clearing=clearing)
        metrics.audits.labels("verify", "ok" if report.ok else "mismatch").inc()
        return JSONResponse(report.as_json())

    return [
        Endpoint("/v1/persons/{psn_no}/years/{year}/replay", replay, ("GET",), AUDITORS),
        Endpoint("/v1/verify", verify, ("POST",), AUDITORS),
    ]
