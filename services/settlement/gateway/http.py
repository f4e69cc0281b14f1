"""The gateway over HTTP, where a hospital system points its national-platform client.

POST /fsi/api/{infno}   one URL per transaction (binzhe's forwarder posts to {base}{infno})
POST /fsi/api           one URL for all (hsa-his); the transaction is the body's ``infno``

Callers are hospitals: the services' HTTP shell (ops.http) checks the bearer token and its
`hospital` role, and the rate limit, before the body is read; the gateway then acts only for
the institution codes the token names (``fixmedins_codes``), so an envelope for another
institution is refused before its msgid is looked up (issue 10).

Every answer is a national answer with HTTP 200, as the platform answers: a refused message —
no token, an expired or foreign one, another role, another institution's code, too many
requests, a body that is not JSON, too large or too deep — gets ``infcode`` "-1" and a sentence
in ``err_msg``, never a 500 and never a problem document a national client could not read (the
shell's ``WWW-Authenticate`` and ``Retry-After`` headers are kept for clients that read them). A
bug is the exception: nothing is recorded, operators are alerted, and the client gets "-1"
saying so. The gateway is the lifespan's ``running.gateway`` (settlement.bootstrap).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response

from ops.auth import Caller, Role
from ops.http import Endpoint, Problem, read_body, running
from settlement.gateway.answers import answer, encode
from settlement.gateway.context import Access
from settlement.gateway.service import NationalGateway, NationalReply

log = structlog.get_logger(__name__)
JSON_UTF8 = "application/json; charset=utf-8"
HOSPITALS = frozenset({Role.HOSPITAL})


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.answers = Counter(
            "national_answers_total",
            "National answers by transaction and infcode",
            ["infno", "infcode"],
            registry=registry,
        )


def _refusal(err_msg: str, headers: dict[str, str] | None = None) -> Response:
    now = datetime.now(UTC)
    body = answer(region="", msgid="", received_at=now, answered_at=now, output={}, err_msg=err_msg)
    return Response(encode(body), media_type=JSON_UTF8, headers=headers)


def _gateway(request: Request) -> NationalGateway:
    gateway: NationalGateway = running(request).gateway
    return gateway


def gateway_endpoints(metrics: GatewayMetrics, *, max_body: int) -> list[Endpoint]:
    def refuse(refused: Problem) -> Response:
        """A refusal of the shell's (the token, the role, the rate, the body's size) as the
        national answer "-1", HTTP 200; the message was not read, so it names no msgid."""
        metrics.answers.labels("refused", "-1").inc()
        return _refusal(refused.message, refused.headers)

    async def national(request: Request) -> Response:
        """A national envelope in, a national answer out (docs/integrating.md)."""
        infno = request.path_params.get("infno")
        caller: Caller = request.state.caller  # a hospital: the guard checked the role
        raw = await read_body(request, max_body)
        access = Access.only(caller.institutions)
        try:
            reply = await _gateway(request).handle(raw, access=access, infno=infno, received_at=datetime.now(UTC))
        except Exception as error:  # a bug: never an answer on record, never a traceback to the client
            log.error("national_failed", infno=infno, error=type(error).__name__, exc_info=True)
            metrics.answers.labels("bug", "-1").inc()
            return _refusal("the service failed on this message; nothing was recorded; operators are alerted")
        return _respond(reply, metrics)

    return [
        Endpoint("/fsi/api/{infno}", national, ("POST",), HOSPITALS, refuse),
        Endpoint("/fsi/api", national, ("POST",), HOSPITALS, refuse),
    ]


def _respond(reply: NationalReply, metrics: GatewayMetrics) -> Response:
    infno = reply.who.infno if reply.who.infno.isdigit() else "other"
    metrics.answers.labels(infno, str(reply.answer.get("infcode"))).inc()
    return Response(reply.body(), media_type=JSON_UTF8)
