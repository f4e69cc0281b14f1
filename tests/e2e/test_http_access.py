"""Who may call what over HTTP, on the real services: tokens from the local issuer, roles, a
hospital confined to its own institutions, a rate limit per caller, a body limit that holds
before the body is read, and no input — path, parameter, body or token — answered with a 500.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from e2e_stack import Service, Stack
from test_settlement_over_kafka import P002_SETUP, claim_like, example

from devservers.issuer import AUDIENCE, ISSUER

OWN = example("CLM-0048")["fixmedins_code"]  # H64010100003, where P002's visit is settled
OTHER = "H64010100002"  # another hospital, with no visit of P002


@pytest.fixture
async def settled(make_stack: Any) -> AsyncIterator[tuple[Stack, Service, dict[str, Any]]]:
    """P002 enrolled, credited and settled once at OWN; both services running."""
    stack = await make_stack()
    service = await stack.start_settlement(HTTP_RATE_LIMIT_BURST="1000")
    await stack.send(P002_SETUP)
    (settlement,) = await stack.send([claim_like("HTTP-1")])
    assert settlement["msg_type"] == "settlement" and settlement["fixmedins_code"] == OWN
    yield stack, service, settlement


def problem_of(reply: httpx.Response) -> dict[str, Any]:
    """The reply is a JSON problem (or a rejection) with a sentence: never a bare error page."""
    assert reply.headers["content-type"].startswith(("application/problem+json", "application/json")), reply.text
    body = reply.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    return dict(body)


def endpoints(stack: Stack, service: Service, setl_id: str) -> list[tuple[str, str, bytes | None]]:
    assert stack.ledger is not None
    return [
        ("POST", service.url("/v1/pre-settle"), claim_like("PRE-X").encode()),
        ("GET", service.url("/v1/persons/P002/years/2025/totals"), None),
        ("GET", service.url(f"/v1/persons/P002/settlements/{setl_id}"), None),
        ("GET", service.url("/metrics"), None),
        ("GET", stack.ledger.url("/v1/persons/P002/years/2025/replay"), None),
        ("POST", stack.ledger.url("/v1/verify"), None),
        ("GET", stack.ledger.url("/metrics"), None),
    ]


def bad_tokens(stack: Stack) -> dict[str, str | None]:
    issuer = stack.launcher.issuer
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    forged = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "roles": ["auditor", "operator"]}
    return {
        "no token": None,
        "garbage": "Bearer garbage",
        "bearer without a token": "Bearer",
        "basic auth": "Basic dXNlcjpwYXNz",
        "wrong signature": "Bearer " + jwt.encode(forged, stranger, "ES256", headers={"kid": issuer.key_id}),
        "wrong issuer": "Bearer " + issuer.mint("x", ["auditor", "operator"], iss="https://elsewhere.example"),
        "wrong audience": "Bearer " + issuer.mint("x", ["auditor", "operator"], aud="another-api"),
        "expired": "Bearer " + issuer.mint("x", ["auditor", "operator"], ttl=-120),
        "not yet valid": "Bearer " + issuer.mint("x", ["auditor", "operator"], nbf=now + 3600),
        "alg none": "Bearer " + jwt.encode(forged, None, algorithm="none"),
    }


async def test_every_protected_endpoint_answers_a_bad_token_with_a_json_401(settled: Any) -> None:
    stack, service, settlement = settled
    async with httpx.AsyncClient(timeout=10) as client:
        for method, url, body in endpoints(stack, service, settlement["setl_id"]):
            for name, header in bad_tokens(stack).items():
                headers = {"Authorization": header} if header else {}
                reply = await client.request(method, url, content=body, headers=headers)
                assert reply.status_code == 401, (name, url, reply.text)
                assert reply.headers["www-authenticate"] == "Bearer"
                problem_of(reply)


async def test_each_role_reaches_only_its_own_endpoints(settled: Any) -> None:
    stack, service, settlement = settled
    allowed = {  # endpoint index (see `endpoints`) → the roles that may call it
        "hospital": {0, 1, 2},
        "auditor": {1, 2, 4, 5},
        "operator": {3, 6},
    }
    async with httpx.AsyncClient(timeout=60) as client:
        for role, reachable in allowed.items():
            headers = stack.bearer(role, OWN)
            for n, (method, url, body) in enumerate(endpoints(stack, service, settlement["setl_id"])):
                reply = await client.request(method, url, content=body, headers=headers)
                if n in reachable:
                    assert reply.status_code == 200, (role, url, reply.text)
                else:
                    assert reply.status_code == 403, (role, url, reply.text)
                    assert role in problem_of(reply)["message"]


async def test_a_hospital_pre_settles_and_reads_only_for_its_own_institutions(settled: Any) -> None:
    stack, service, settlement = settled
    own, other = stack.bearer("hospital", OWN), stack.bearer("hospital", OTHER)
    totals = service.url("/v1/persons/P002/years/2025/totals")
    found = service.url(f"/v1/persons/P002/settlements/{settlement['setl_id']}")
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(totals, headers=own)).status_code == 200
        assert (await client.get(found, headers=own)).json()["setl_id"] == settlement["setl_id"]
        # Another hospital: no visit of P002 there, so neither the totals nor the settlement.
        refused = await client.get(totals, headers=other)
        hidden = await client.get(found, headers=other)
        made_up = await client.get(service.url("/v1/persons/P002/settlements/S2025-0000000000000000"), headers=other)
        # Nor may it pre-settle in OWN's name.
        in_their_name = await client.post(service.url("/v1/pre-settle"), content=claim_like("PRE-2"), headers=other)
        own_claim = claim_like("PRE-3", fixmedins_code=OTHER)
        in_its_own_name = await client.post(service.url("/v1/pre-settle"), content=own_claim, headers=other)

    assert refused.status_code == 403 and "no settlement" in problem_of(refused)["message"]
    assert hidden.status_code == 404 and made_up.status_code == 404
    # The same answer as for a settlement that does not exist: its existence is not disclosed.
    unknown = problem_of(made_up)["message"].replace("S2025-0000000000000000", "?")
    assert problem_of(hidden)["message"].replace(settlement["setl_id"], "?") == unknown
    assert in_their_name.status_code == 403 and "own institution" in problem_of(in_their_name)["message"]
    assert in_its_own_name.status_code == 200, in_its_own_name.text


def hostile_requests(stack: Stack, service: Service) -> list[tuple[str, str, bytes | None, str]]:
    """(method, url, body, role) of inputs that must each get a 4xx, never a 500."""
    assert stack.ledger is not None
    s, ledger = service.url, stack.ledger.url
    deep = b'{"msg_type": "claim", "diagnoses": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    return [
        ("GET", s("/v1/persons/%00/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/P002%00/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/" + "P" * 500 + "/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/%F0%9F%98%80/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/%ED%A0%80/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/P002/years/20x5/totals"), None, "auditor"),
        ("GET", s("/v1/persons/P002/years/99999999999999999999/totals"), None, "auditor"),
        ("GET", s("/v1/persons/P002/years/%D9%A2%D9%A0%D9%A2%D9%A5/totals"), None, "auditor"),  # Arabic digits
        ("GET", s("/v1/persons/NOBODY/years/2025/totals"), None, "auditor"),
        ("GET", s("/v1/persons/P002/settlements/S2025-%00"), None, "auditor"),
        ("GET", s("/v1/persons/P002/settlements/" + "S" * 5000), None, "auditor"),
        ("GET", s("/v1/persons/P002/settlements/S99999-abc"), None, "auditor"),
        ("GET", s("/v1/nothing-here"), None, "auditor"),
        ("DELETE", s("/v1/pre-settle"), None, "hospital"),
        ("POST", s("/v1/pre-settle"), b"\xff\xfe not json", "hospital"),
        ("POST", s("/v1/pre-settle"), b"[1, 2, 3]", "hospital"),
        ("POST", s("/v1/pre-settle"), b"", "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim"}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "enrolment"}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim", "fixmedins_code": ["H1"]}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim", "psn_no": "P\\u0000"}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim", "request_id": "\\ud800"}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim", "medfee_sumamt": 1e999999}', "hospital"),
        ("POST", s("/v1/pre-settle"), b'{"msg_type": "claim", "medfee_sumamt": "9' + b"9" * 5000 + b'"}', "hospital"),
        ("POST", s("/v1/pre-settle"), deep, "hospital"),
        ("POST", s("/v1/pre-settle"), b"x" * (3 * 1024 * 1024), "hospital"),
        ("GET", ledger("/v1/persons/P002/years/2025/replay?as_of=yesterday"), None, "auditor"),
        ("GET", ledger("/v1/persons/P002/years/2025/replay?as_of=%00"), None, "auditor"),
        ("GET", ledger("/v1/persons/P%00/years/2025/replay"), None, "auditor"),
        ("GET", ledger("/v1/persons/P002/years/0/replay"), None, "auditor"),
        ("POST", ledger("/v1/verify?prefix=%00"), None, "auditor"),
        ("POST", ledger("/v1/verify?prefix=" + "P" * 300), None, "auditor"),
        ("GET", ledger("/v1/verify"), None, "auditor"),
    ]


async def test_no_input_is_answered_with_a_500(settled: Any) -> None:
    stack, service, _ = settled
    async with httpx.AsyncClient(timeout=60) as client:
        for method, url, body, role in hostile_requests(stack, service):
            headers = stack.bearer(role, OWN)
            reply = await client.request(method, url, content=body, headers=headers)
            assert 400 <= reply.status_code < 500, (method, url[:120], reply.status_code, reply.text[:300])
            problem_of(reply)
    assert "http_failed" not in service.log.read_text()


async def test_a_caller_over_its_rate_is_told_to_retry_later(make_stack: Any) -> None:
    stack = await make_stack()
    service = await stack.start_settlement(HTTP_RATE_LIMIT_BURST="3", HTTP_RATE_LIMIT_PER_SECOND="0.2")
    url = service.url("/v1/persons/P002/years/2025/totals")
    busy, calm = stack.bearer("auditor"), {"Authorization": "Bearer " + stack.launcher.issuer.mint("b", ["auditor"])}
    async with httpx.AsyncClient(timeout=10) as client:
        first = [(await client.get(url, headers=busy)).status_code for _ in range(3)]
        limited = await client.get(url, headers=busy)
        other = await client.get(url, headers=calm)  # another subject has its own bucket

    assert first == [404, 404, 404]  # nobody enrolled: answered, not limited
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "slow down" in problem_of(limited)["message"]
    assert other.status_code == 404


async def test_huge_bodies_are_refused_without_being_held_in_memory(settled: Any) -> None:
    """The issue's finding: six concurrent 50 MB posts took the service from 59 to 426 MB."""
    stack, service, _ = settled
    headers = stack.bearer("hospital", OWN)
    before = rss_mib(service.pid)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):  # 50 MiB, streamed without a Content-Length
            yield b"x" * (1024 * 1024)

    async def post(declared: bool) -> int | None:
        async with httpx.AsyncClient(timeout=60) as client:
            try:
                if declared:
                    reply = await client.post(service.url("/v1/pre-settle"), content=b"x" * (50 << 20), headers=headers)
                else:
                    reply = await client.post(service.url("/v1/pre-settle"), content=chunks(), headers=headers)
            except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
                return None  # the service closed the connection after its 413: also a refusal
            return reply.status_code

    codes = await asyncio.gather(*(post(declared=n % 2 == 0) for n in range(6)))
    assert all(code in (413, None) for code in codes), codes
    assert 413 in codes
    assert rss_mib(service.pid) - before < 64, "the service held the bodies in memory"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_metrics_carry_no_personal_ids(settled: Any) -> None:
    stack, service, _ = settled
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(service.url("/v1/persons/P002/years/2025/totals"), headers=stack.bearer("auditor"))
        await client.get(service.url("/v1/persons/P999/years/2025/totals"), headers=stack.bearer("auditor"))
        pages = [
            (await client.get(s.url("/metrics"), headers=stack.bearer("operator"))).text
            for s in (service, stack.ledger)
            if s is not None
        ]
    people = {json.loads(line)["psn_no"] for line in P002_SETUP} | {"P999"}
    for page in pages:
        assert 'route="/v1/persons/{psn_no}/years/{year}/totals"' in page or "ledger_" in page
        for psn_no in people:
            assert psn_no not in page
