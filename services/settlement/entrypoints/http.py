"""HTTP for counters and auditors: pre-settlement (2206/2303) and reads of a person's year.

POST /v1/pre-settle                                  hospital: a claim for one of its own institutions
GET  /v1/persons/{psn_no}/years/{year}/totals        hospital (see below) or auditor
GET  /v1/persons/{psn_no}/settlements/{setl_id}      hospital (its own institutions' only) or auditor

A hospital reads a person's annual totals only for a person-year in which one of its own
institutions has a settlement in the ledger: what a counter needs for a patient it is treating,
without letting it browse everyone's totals. Before a patient's first visit of the year there
is nothing to read: the counter pre-settles the visit instead, and the answer says what each
fund pays under the totals of the moment. Another institution's settlement is answered 404,
exactly as one that does not exist, so its existence is not disclosed.
Probes and /metrics: ops.http. Who may call what: the roles below, checked by ops.http.Guard.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Protocol

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts.claims import Claim
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.results import Rejection
from contracts.wire import UndecodableMessage, decode_json
from engine.errors import UnknownPolicy
from engine.ids import year_of
from engine.person import PersonYear
from engine.views import annual_totals
from ops.auth import Caller, Role
from ops.http import Endpoint, Problem, path_psn_no, path_year, read_body, running
from ops.metrics import SettlementMetrics
from settlement.service_layer.handlers import SettlementService
from settlement.service_layer.people import load, recorded_settlement
from settlement.service_layer.replies import from_invalid, raw_key

HOSPITALS = frozenset({Role.HOSPITAL})
READERS = frozenset({Role.HOSPITAL, Role.AUDITOR})
SOURCE = "http:pre-settle"


class Counter(Protocol):
    """What these routes need of the running service (settlement.bootstrap.Running)."""

    service: SettlementService


def _json(model: object, status: int = 200) -> Response:
    """UTF-8 JSON; a model is serialised by pydantic's own encoder (one pass, no dict between)."""
    if isinstance(model, BaseModel):
        return Response(model.model_dump_json(), status_code=status, media_type="application/json")
    return Response(json.dumps(model, ensure_ascii=False), status_code=status, media_type="application/json")


def _caller(request: Request) -> Caller:
    caller: Caller = request.state.caller
    return caller


def _service(request: Request) -> SettlementService:
    counter: Counter = running(request)
    return counter.service


def settled_by(state: PersonYear, institutions: frozenset[str]) -> bool:
    """Whether one of these institutions has a settlement (reversed or not) in this person-year."""
    return any(s.fixmedins_code in institutions for s in state.settlements.values())


def _claim(body: bytes, at: datetime) -> Claim | Rejection:
    """The body as a claim, or the rejection it earns (nothing is recorded for HTTP)."""
    try:
        message = parse_inbound(body)
    except InvalidMessage as error:
        try:
            return from_invalid(raw_key(body, SOURCE), error, at=at, source=SOURCE)
        except ValidationError:  # ids too broken to echo back (a lone surrogate, say)
            raise Problem(422, f"not a valid claim: {error.message}") from None
    if not isinstance(message, Claim):
        raise Problem(422, 'pre-settlement takes a claims.v2 claim (msg_type "claim")')
    return message.model_copy(update={"setl_mode": "pre_settle"})  # whatever the body said


def counter_endpoints(metrics: SettlementMetrics, *, max_body: int) -> list[Endpoint]:
    async def pre_settle(request: Request) -> Response:
        """Price a claim against the person's current year without recording it."""
        body = await read_body(request, max_body)
        try:
            decoded = decode_json(body)
        except UndecodableMessage as error:
            raise Problem(400, f"the body is not a JSON object: {error}") from None
        except RecursionError:  # nested deeper than the parser goes: not a claim either
            raise Problem(400, "the body is not a JSON object: it is nested too deep") from None
        if decoded.get("msg_type") != "claim":
            raise Problem(422, 'pre-settlement takes a claims.v2 claim (msg_type "claim")')
        now = datetime.now(UTC)
        claim = _claim(body, now)
        if isinstance(claim, Claim):
            if claim.fixmedins_code not in _caller(request).institutions:
                raise Problem(403, "a hospital pre-settles only for its own institution codes (fixmedins_codes)")
            reply = (await _service(request).decide(claim, now, SOURCE)).reply
        else:
            reply = claim
        outcome = reply.code.value if isinstance(reply, Rejection) else "ok"
        metrics.pre_settlements.labels(outcome).inc()
        return _json(reply, 422 if isinstance(reply, Rejection) else 200)

    async def totals(request: Request) -> Response:
        """A person's year: paid so far and what is left of each cap and deductible."""
        psn_no, year, caller = path_psn_no(request), path_year(request), _caller(request)
        service = _service(request)
        state = (await load(service.store, psn_no, year)).state
        if Role.AUDITOR not in caller.roles and not settled_by(state, caller.institutions):
            raise Problem(
                403,
                f"your institutions have no settlement for {psn_no} in {year}; "
                "a counter pre-settles the visit to learn what the funds pay",
            )
        if state.enrolment is None:
            raise Problem(404, f"no enrolment for {psn_no} in {year}")
        try:
            policy = service.policies.in_force(
                state.enrolment.insuplc_admdvs, state.enrolment.insutype, date(state.year, 12, 31)
            ).policy
        except UnknownPolicy:
            policy = None
        return _json(annual_totals(state, policy))

    async def settlement(request: Request) -> Response:
        psn_no, setl_id, caller = path_psn_no(request), request.path_params["setl_id"], _caller(request)
        year = year_of(setl_id)
        if year is None:
            raise Problem(404, f"{setl_id[:64]!r} is not a settlement id of this service")
        store = _service(request).store
        found = (await load(store, psn_no, year)).state.settlements.get(setl_id)
        mine = found is not None and (Role.AUDITOR in caller.roles or found.fixmedins_code in caller.institutions)
        answer = await recorded_settlement(store, psn_no, year, setl_id) if found is not None and mine else None
        if found is None or answer is None:
            raise Problem(404, f"{psn_no} has no settlement {setl_id} that you may read")
        return _json({**answer.model_dump(mode="json"), "reversed_by": found.reversed_by})

    return [
        Endpoint("/v1/pre-settle", pre_settle, ("POST",), HOSPITALS),
        Endpoint("/v1/persons/{psn_no}/years/{year}/totals", totals, ("GET",), READERS),
        Endpoint("/v1/persons/{psn_no}/settlements/{setl_id}", settlement, ("GET",), READERS),
    ]
