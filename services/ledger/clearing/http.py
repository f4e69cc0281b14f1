"""The clearing over the ledger service's HTTP (docs/clearing.md#http), behind the services' guard:

GET  /v1/clearing/{region}/{year}[?month=M&institution=CODE&as_of=ISO&format=json|csv]
     a statement — an auditor (the agency) any; a hospital only one of its own institutions
POST /v1/institutions/{fixmedins_code}/reconciliation
     3201 totals (+ 3202 details) compared with the ledger — the hospital itself, or an auditor

Read-only: nothing is recorded (a reconciliation sent on claims.v1 is recorded like any answer).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from contracts.reconciliation import Reconciliation
from contracts.wire import UndecodableMessage, decode_json
from ledger.clearing.cli import ClearingUsage, as_of_time
from ledger.clearing.commands import ClearingCommands
from ledger.clearing.reconciliation import answer
from ledger.clearing.render import csv_text
from ledger.clearing.statement import statement
from ops.auth import Caller, Role
from ops.http import Endpoint, Problem, path_year, read_body, running

READERS = frozenset({Role.AUDITOR, Role.HOSPITAL})
CODE = re.compile(r"[0-9A-Za-z_-]{1,50}")
MAX_BODY = 8 << 20  # a day's 3202 detail rows of a large hospital


def _may_read(caller: Caller, institution: str | None) -> None:
    """The agency and auditors read everything; a hospital only what concerns one of its codes."""
    if Role.AUDITOR in caller.roles:
        return
    if institution is None:
        raise Problem(403, "a hospital reads its own statement: add ?institution=<one of its codes>")
    if institution not in caller.institutions:
        raise Problem(403, f"this token does not speak for institution {institution}")


def _code(text: str | None, what: str) -> str | None:
    if text is not None and not CODE.fullmatch(text):
        raise Problem(400, f"{what} is 1 to 50 letters, digits, '_' or '-'")
    return text


async def read_statement(request: Request) -> Response:
    region = _code(request.path_params["region"], "region")
    year, query = path_year(request), request.query_params
    institution = _code(query.get("institution") or None, "institution")
    _may_read(request.state.caller, institution)
    month_text = query.get("month")
    if month_text is not None and not (month_text.isascii() and month_text.isdigit() and 1 <= int(month_text) <= 12):
        raise Problem(400, "month is 1 to 12")
    try:
        at = as_of_time(query.get("as_of"))
    except ClearingUsage as usage:
        raise Problem(400, str(usage)) from None
    commands: ClearingCommands = running(request).clearing_commands()
    assert region is not None
    inputs = await commands.inputs(region, year, institution, at)
    if not inputs.entries or (institution is not None and not inputs.entries.get(institution)):
        raise Problem(404, f"the ledger holds no clearing for {institution or region} in {year}")
    spending = None if institution else await commands.source.fund_spending(sorted(inputs.entries), year)
    body = statement(inputs, month=int(month_text) if month_text else None, institution=institution,
                     fund_spending=spending)  # fmt: skip
    if query.get("format") == "csv":
        return PlainTextResponse(csv_text(body), media_type="text/csv; charset=utf-8")
    return JSONResponse(body)


def _request(code: str, raw: bytes) -> Reconciliation:
    try:
        body: Any = decode_json(raw)
    except UndecodableMessage as error:
        raise Problem(400, f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise Problem(400, "the body is a JSON object with totals (and details)")
    fields = {"request_id": f"http-{uuid.uuid4().hex[:12]}", "sent_at": datetime.now(UTC), **body}
    try:
        return Reconciliation.model_validate({**fields, "fixmedins_code": code})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Problem(400, f"field {where}: {str(first['msg']).removeprefix('Value error, ')}") from None


async def reconcile(request: Request) -> Response:
    code = _code(request.path_params["fixmedins_code"], "fixmedins_code")
    assert code is not None
    _may_read(request.state.caller, code)
    message = _request(code, await read_body(request, MAX_BODY))
    source = running(request).clearing_commands().source
    result = await answer(source, message, event_id=uuid.uuid4(), occurred_at=datetime.now(UTC))
    return Response(result.model_dump_json(), media_type="application/json")


def clearing_endpoints() -> list[Endpoint]:
    return [
        Endpoint("/v1/clearing/{region}/{year}", read_statement, ("GET",), READERS),
        Endpoint("/v1/institutions/{fixmedins_code}/reconciliation", reconcile, ("POST",), READERS),
    ]
