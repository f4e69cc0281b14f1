"""HTTP for counters and operators: pre-settlement (2206/2303), queries, health, metrics."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.results import Rejection
from contracts.wire import UndecodableMessage, decode_json
from engine.errors import UnknownPolicy
from engine.ids import year_of
from engine.views import annual_totals
from ops.metrics import SettlementMetrics
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.people import load, recorded_settlement

MAX_BODY = 2 * 1024 * 1024


def _json(model: object, status: int = 200) -> Response:
    body = model.model_dump(mode="json") if hasattr(model, "model_dump") else model
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type="application/json")


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


class Wired(Protocol):
    service: SettlementService | None

    async def readiness(self) -> dict[str, str]: ...


def build_http(wiring: Wired, metrics: SettlementMetrics) -> list[Route]:
    def started() -> SettlementService:
        if wiring.service is None:
            raise HTTPException(503, "the service is starting")
        return wiring.service

    async def pre_settle(request: Request) -> Response:
        """Price a claim against the person's current year without recording it."""
        body = await request.body()
        if len(body) > MAX_BODY:
            return _problem(413, f"a claim is at most {MAX_BODY} bytes")
        try:
            claim = decode_json(body)
        except UndecodableMessage as error:
            return _problem(400, f"the body is not a JSON object: {error}")
        if claim.get("msg_type") != "claim":
            return _problem(422, 'pre-settlement takes a claims.v1 claim (msg_type "claim")')
        claim["setl_mode"] = "pre_settle"  # whatever the body said: nothing is recorded here
        body = json.dumps(claim, default=str, ensure_ascii=False).encode()  # Decimals as exact text
        reply = await started().handle(body, source="http:pre-settle", received_at=datetime.now(UTC))
        outcome = reply.code.value if isinstance(reply, Rejection) else "ok"
        metrics.pre_settlements.labels(outcome).inc()
        return _json(reply, 422 if isinstance(reply, Rejection) else 200)

    async def totals(request: Request) -> Response:
        """A person's year: paid so far and what is left of each cap and deductible."""
        psn_no, year_text = request.path_params["psn_no"], request.path_params["year"]
        if not year_text.isdigit() or not 2000 <= int(year_text) <= 2100:
            return _problem(400, "year must be a four-digit year")
        service = started()
        loaded = await load(service.store, psn_no, int(year_text))
        state = loaded.state
        if state.enrolment is None:
            return _problem(404, f"no enrolment for {psn_no} in {year_text}")
        try:
            policy = service.policies.in_force(
                state.enrolment.insuplc_admdvs, state.enrolment.insutype, date(state.year, 12, 31)
            ).policy
        except UnknownPolicy:
            policy = None
        return _json(annual_totals(state, policy))

    async def settlement(request: Request) -> Response:
        psn_no, setl_id = request.path_params["psn_no"], request.path_params["setl_id"]
        year = year_of(setl_id)
        if year is None:
            return _problem(404, f"{setl_id} is not a settlement id of this service")
        store = started().store
        state = (await load(store, psn_no, year)).state
        found = state.settlements.get(setl_id)
        answer = await recorded_settlement(store, psn_no, year, setl_id) if found is not None else None
        if found is None or answer is None:
            return _problem(404, f"{psn_no} has no settlement {setl_id}")
        return _json({**answer.model_dump(mode="json"), "reversed_by": found.reversed_by})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = await wiring.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/v1/pre-settle", pre_settle, methods=["POST"]),
        Route("/v1/persons/{psn_no}/years/{year}/totals", totals, methods=["GET"]),
        Route("/v1/persons/{psn_no}/settlements/{setl_id}", settlement, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
