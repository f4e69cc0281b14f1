"""The verifier remembers tokens that passed every check, and only for as long as a full check
would still pass them: until the token's expiry, within a time and a size bound. A counter sends
the same token with every request; the signature is checked once, not hundreds of times. The
guard's other rules (the route's roles, the per-caller rate limit) still hold on every request."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devservers.issuer import AUDIENCE, ISSUER, LocalIssuer
from ops import auth
from ops.auth import AuthConfig, Role, TokenRejected, TokenVerifier
from ops.http import Endpoint, Guard, HttpMetrics
from ops.ratelimit import RateLimiter


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("issuer")).ensure()


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every full check's token, in order (jwt.decode as the verifier calls it, counted)."""
    checked: list[str] = []
    real = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counted)  # the jwt module itself, for this test only
    return checked


def verifier(issuer: LocalIssuer, *, leeway: int = 5, clock: Callable[[], float] = time.time, **bounds: Any) -> Any:
    config = AuthConfig(ISSUER, AUDIENCE, ("ES256",), leeway, "roles", jwks_file=str(issuer.jwks_file))
    return TokenVerifier(config, clock=clock, **bounds)


def test_a_token_sent_again_is_answered_without_checking_its_signature_again(
    issuer: LocalIssuer, signature_checks: list[str]
) -> None:
    tokens = verifier(issuer)
    token = issuer.mint("counter-1", ["hospital"], ["H64010100001"])
    first = asyncio.run(tokens.verify(token))
    again = [asyncio.run(tokens.verify(token)) for _ in range(5)]
    assert signature_checks == [token]
    assert all(caller == first for caller in again)
    assert first.roles == {Role.HOSPITAL} and first.institutions == {"H64010100001"}


def test_a_remembered_token_is_refused_once_it_has_expired(issuer: LocalIssuer, signature_checks: list[str]) -> None:
    # No leeway, and a token that expires 1 s after it is issued (exp is whole seconds).
    tokens = verifier(issuer, leeway=0)
    token = issuer.mint("counter-1", ["hospital"], ["H64010100001"], ttl=1)
    asyncio.run(tokens.verify(token))
    payload = token.split(".")[1]
    expiry = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    time.sleep(max(0.0, expiry - time.time()) + 1.1)
    with pytest.raises(TokenRejected, match="expired"):
        asyncio.run(tokens.verify(token))
    assert signature_checks == [token, token]


def test_a_long_lived_token_is_checked_in_full_again_after_the_cache_seconds(
    issuer: LocalIssuer, signature_checks: list[str]
) -> None:
    # The clock is moved 61 s ahead of the real one: past the 60 s bound, long before exp (1 h).
    ahead = [0.0]
    tokens = verifier(issuer, clock=lambda: time.time() + ahead[0], cache_seconds=60)
    token = issuer.mint("auditor-1", ["auditor"])
    asyncio.run(tokens.verify(token))
    asyncio.run(tokens.verify(token))
    ahead[0] = 61
    asyncio.run(tokens.verify(token))
    assert signature_checks == [token, token]


def test_the_least_recently_used_token_is_forgotten_when_the_cache_is_full(
    issuer: LocalIssuer, signature_checks: list[str]
) -> None:
    tokens = verifier(issuer, cache_size=2)
    a, b, c = (issuer.mint(f"counter-{n}", ["hospital"], ["H64010100001"]) for n in "abc")
    for token in (a, b, a, c):  # a is used after b, so b is the least recent when c arrives
        asyncio.run(tokens.verify(token))
    asyncio.run(tokens.verify(a))
    asyncio.run(tokens.verify(b))
    assert signature_checks == [a, b, c, b]


def test_a_refused_token_is_refused_every_time_and_never_remembered(
    issuer: LocalIssuer, signature_checks: list[str]
) -> None:
    tokens = verifier(issuer)
    wrong_audience = issuer.mint("x", ["auditor"], aud="another-service")
    for _ in range(3):
        with pytest.raises(TokenRejected, match="another audience"):
            asyncio.run(tokens.verify(wrong_audience))
    assert signature_checks == [wrong_audience] * 3


def guarded_app(issuer: LocalIssuer, limiter: RateLimiter) -> Starlette:
    """The shared guard in front of two routes, one for hospitals and one for auditors."""

    async def ok(_: Request) -> Response:
        return JSONResponse({"ok": True})

    guard = Guard(verifier(issuer), limiter, HttpMetrics(CollectorRegistry()))
    endpoints = [
        Endpoint("/counter", ok, ("GET",), frozenset({Role.HOSPITAL})),
        Endpoint("/audit", ok, ("GET",), frozenset({Role.AUDITOR})),
    ]
    return Starlette(routes=guard.routes(endpoints))


def statuses(app: Starlette, token: str, paths: list[str]) -> list[int]:
    """The status of a GET of each path in turn, all with the same bearer token."""

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://counter") as client:
            headers = {"Authorization": f"Bearer {token}"}
            return [(await client.get(path, headers=headers)).status_code for path in paths]

    return asyncio.run(run())


def test_a_remembered_token_still_gets_only_its_roles_routes(issuer: LocalIssuer, signature_checks: list[str]) -> None:
    app = guarded_app(issuer, RateLimiter(rate=100, burst=100))
    token = issuer.mint("counter-1", ["hospital"], ["H64010100001"])
    assert statuses(app, token, ["/counter", "/audit", "/counter"]) == [200, 403, 200]
    assert signature_checks == [token]


def test_the_rate_limit_counts_requests_whose_token_was_remembered(issuer: LocalIssuer) -> None:
    # A bucket of 2 refilled at one token per 1,000 s: the third request within a second waits.
    app = guarded_app(issuer, RateLimiter(rate=0.001, burst=2))
    token = issuer.mint("counter-2", ["hospital"], ["H64010100001"])
    assert statuses(app, token, ["/counter"] * 3) == [200, 200, 429]
