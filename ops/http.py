"""The HTTP shell both services share: JSON problem answers, the probes and /metrics, and the
guard every route goes through (authentication, role, rate limit, body size, no 500 for input).

What a route needs from its service comes from the ASGI lifespan state (`request.state`): the
lifespan yields ``{"running": <the service's running parts>}``, and the probes ask that object
for its readiness and to refresh its gauges. Nothing is bound late, nothing is global.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.claims import PsnNo
from ops.auth import Caller, KeysUnavailable, Role, TokenRejected, TokenVerifier
from ops.ratelimit import RateLimiter
from ops.security import SecuritySettings

log = structlog.get_logger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An answer other than success, raised anywhere below a route and rendered by the guard."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def problem(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON problem body (RFC 9457's status and title, and our one sentence in `message`)."""
    body = {"status": status, "title": HTTPStatus(status).phrase, "message": message}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


class Running(Protocol):
    """What a service's lifespan yields as `running`: enough for the probes."""

    async def readiness(self) -> dict[str, str]: ...

    async def refresh_metrics(self) -> None: ...


def running(request: Request) -> Any:
    """The service's running parts, as its lifespan yielded them."""
    return request.state.running


async def database_check(pool: Any) -> str:
    """ "ok", or why the database did not answer a trivial query within two seconds."""
    try:
        async with asyncio.timeout(2):
            await pool.fetchval("SELECT 1")
    except Exception as error:  # readiness reports, it never raises
        return f"unreachable: {type(error).__name__}"
    return "ok"


_PSN_NO: TypeAdapter[str] = TypeAdapter(PsnNo)


def path_psn_no(request: Request) -> str:
    """The {psn_no} of the path, as the contracts define it (400 otherwise: never to the database)."""
    try:
        return _PSN_NO.validate_python(request.path_params["psn_no"])
    except ValidationError:
        raise Problem(400, "psn_no must be 1 to 30 letters, digits, '_' or '-'") from None


def path_year(request: Request) -> int:
    text = request.path_params["year"]
    if not (len(text) == 4 and text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100):
        raise Problem(400, "year must be a four-digit year from 2000 to 2100")
    return int(text)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed `limit` bytes: first by
    its Content-Length, then by counting the stream, so a huge body is never held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Problem(413 if declared.isdigit() else 400, f"a request body is at most {limit} bytes")
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                raise Problem(413, f"a request body is at most {limit} bytes")
    except ClientDisconnect:
        raise Problem(400, "the client went away before the body was complete") from None
    return bytes(received)


def _as_problem(refused: Problem) -> Response:
    return problem(refused.status, refused.message, refused.headers)


@dataclass(frozen=True)
class Endpoint:
    """A route and who may call it (`roles` None: anyone, as for the Kubernetes probes), and how
    it answers a refusal — the guard's or its own: a JSON problem unless the route's contract
    has a refusal of its own (the national gateway answers ``infcode`` "-1")."""

    path: str
    handler: Callable[[Request], Awaitable[Response]]
    methods: tuple[str, ...]
    roles: frozenset[Role] | None
    refuse: Callable[[Problem], Response] = _as_problem


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # The route's template, never the path: paths carry personal ids (psn_no).
        self.responses = Counter(
            "http_responses_total", "HTTP answers by route template and status", ["route", "status"], registry=registry
        )


@dataclass(frozen=True)
class Guard:
    """Authentication, authorisation by role, and the per-caller rate limit, for every route."""

    verifier: TokenVerifier
    limiter: RateLimiter
    metrics: HttpMetrics

    async def caller(self, request: Request, roles: frozenset[Role]) -> Caller:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "a bearer token is required (Authorization: Bearer …)", headers=_CHALLENGE)
        try:
            caller = await self.verifier.verify(token.strip())
        except TokenRejected as why:
            raise Problem(401, f"the token was refused: {why}", headers=_CHALLENGE) from None
        except KeysUnavailable as why:
            raise Problem(503, f"tokens cannot be checked right now: {why}", headers={"Retry-After": "5"}) from None
        if not caller.roles & roles:
            wanted = " or ".join(sorted(roles))
            raise Problem(403, f"this needs the role {wanted}; the token has {sorted(caller.roles) or 'none'}")
        wait = self.limiter.take(caller.subject, time.monotonic())
        if wait > 0:
            retry = str(max(1, round(wait)))
            raise Problem(429, "too many requests from this caller; slow down", headers={"Retry-After": retry})
        return caller

    def wrap(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                if endpoint.roles is not None:
                    request.state.caller = await self.caller(request, endpoint.roles)
                response = await endpoint.handler(request)
            except Problem as refused:
                response = endpoint.refuse(refused)
            except Exception as error:  # a bug: a plain 500 without internals, the traceback logged
                log.error("http_failed", route=endpoint.path, error=type(error).__name__, exc_info=True)
                response = endpoint.refuse(Problem(500, "the service failed on this request; operators are alerted"))
            self.metrics.responses.labels(endpoint.path, str(response.status_code)).inc()
            return response

        return guarded

    def routes(self, endpoints: Iterable[Endpoint]) -> list[Route]:
        return [Route(e.path, self.wrap(e), methods=list(e.methods)) for e in endpoints]


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def service_app(
    settings: SecuritySettings,
    registry: CollectorRegistry,
    endpoints: Iterable[Endpoint],
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Mapping[str, Any]]],
) -> Starlette:
    """A service's ASGI app: its endpoints and the probes, each behind the guard; the lifespan
    yields the state the routes read (``{"running": ...}``)."""
    guard = Guard(
        TokenVerifier(settings.auth_config()),
        RateLimiter(settings.http_rate_limit_per_second, settings.http_rate_limit_burst),
        HttpMetrics(registry),
    )
    return Starlette(
        routes=guard.routes([*endpoints, *probe_endpoints(registry)]),
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception},
    )


def probe_endpoints(registry: CollectorRegistry) -> list[Endpoint]:
    """/healthz (the process answers), /readyz (its dependencies answer), /metrics (operators)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await running(request).readiness()
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        await running(request).refresh_metrics()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Endpoint("/healthz", healthz, ("GET",), None),
        Endpoint("/readyz", readyz, ("GET",), None),
        Endpoint("/metrics", metrics, ("GET",), frozenset({Role.OPERATOR})),
    ]


async def http_exception(_: Request, error: Exception) -> Response:
    """Starlette's own answers when no route matches (404) or the method is wrong (405), as
    JSON problems like every other answer."""
    status = int(getattr(error, "status_code", 404))
    headers = getattr(error, "headers", None)
    messages = {404: "no such endpoint", 405: "this endpoint does not take that method"}
    return problem(status, messages.get(status, HTTPStatus(status).phrase), headers)
