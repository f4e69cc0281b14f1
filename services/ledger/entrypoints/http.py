"""HTTP of the ledger service: audits for people, probes and metrics for Kubernetes.

GET  /v1/persons/{psn_no}/years/{year}/replay[?as_of=ISO-8601]  a year rebuilt from its events
POST /v1/verify[?prefix=P]   hash chains and inline projections checked against a replay
GET  /healthz  (no dependencies)   GET /readyz  (database and broker)   GET /metrics
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger.replay import replay_report
from ledger.verify import verify_ledger
from ops.metrics import LedgerMetrics

if TYPE_CHECKING:
    from ledger.app import Running, Wiring

BACKLOG = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
NEWEST = "SELECT coalesce(max(position), 0) FROM events"
CHECKPOINTS = "SELECT name, position FROM projection_checkpoints"


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def build_http(wiring: Wiring, metrics: LedgerMetrics) -> list[Route]:
    def started() -> Running:
        if wiring.running is None:
            raise RuntimeError("the service is starting")
        return wiring.running

    async def replay(request: Request) -> Response:
        psn_no, year_text = request.path_params["psn_no"], request.path_params["year"]
        if not year_text.isdigit() or not 2000 <= int(year_text) <= 2100:
            metrics.audits.labels("replay", "bad_request").inc()
            return _problem(400, "year must be a four-digit year")
        as_of = None
        if "as_of" in request.query_params:
            try:
                as_of = datetime.fromisoformat(request.query_params["as_of"])
            except ValueError:
                metrics.audits.labels("replay", "bad_request").inc()
                return _problem(400, "as_of must be an ISO 8601 time, e.g. 2025-06-30T23:59:59+08:00")
            as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        running = started()
        body = await replay_report(running.store, psn_no, int(year_text), as_of=as_of, policies=running.policies)
        if body is None:
            metrics.audits.labels("replay", "not_found").inc()
            when = f" as of {as_of.isoformat()}" if as_of else ""
            return _problem(404, f"the ledger holds no events for {psn_no} in {year_text}{when}")
        metrics.audits.labels("replay", "ok").inc()
        return JSONResponse(body)

    async def verify(request: Request) -> Response:
        running = started()
        prefix = request.query_params.get("prefix") or None
        if running.verify_lock.locked():
            metrics.audits.labels("verify", "busy").inc()
            return _problem(429, "a verification is already running; try again when it has finished")
        async with running.verify_lock:
            report = await verify_ledger(running.store, prefix, followers=running.verify_followers)
        metrics.audits.labels("verify", "ok" if report.ok else "mismatch").inc()
        return JSONResponse(report.as_json())

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = await wiring.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    async def prometheus(_: Request) -> Response:
        running = wiring.running
        if running is not None:
            try:
                async with running.pool.acquire() as connection:
                    metrics.outbox_backlog.set(await connection.fetchval(BACKLOG))
                    newest = int(await connection.fetchval(NEWEST))
                    at = {row["name"]: int(row["position"]) for row in await connection.fetch(CHECKPOINTS)}
                for follower in running.followers:
                    name = follower.projection.name
                    metrics.projection_lag.labels(name).set(max(0, newest - at.get(name, 0)))
            except (asyncpg.PostgresError, OSError):
                pass  # the gauges keep their last values; readyz tells of the outage
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/v1/persons/{psn_no}/years/{year}/replay", replay, methods=["GET"]),
        Route("/v1/verify", verify, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
