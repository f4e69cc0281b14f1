"""The HTTP shell's pieces on their own: token verification (JWKS by file and by URL), the
per-caller token bucket, and a body limit that stops reading as soon as the limit is passed."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request

from devservers.issuer import AUDIENCE, ISSUER, LocalIssuer
from ops.auth import AuthConfig, Role, TokenRejected, TokenVerifier
from ops.http import Problem, read_body
from ops.ratelimit import RateLimiter


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("issuer")).ensure()


def config(**where: Any) -> AuthConfig:
    return AuthConfig(ISSUER, AUDIENCE, ("ES256",), leeway_seconds=5, roles_claim="roles", **where)


def verify(issuer: LocalIssuer, token: str) -> Any:
    return asyncio.run(TokenVerifier(config(jwks_file=str(issuer.jwks_file))).verify(token))


def test_a_hospital_token_names_its_subject_role_and_institutions(issuer: LocalIssuer) -> None:
    caller = verify(issuer, issuer.mint("his-1", ["hospital"], ["H64010100001", "H64010100003"]))
    assert caller.subject == "his-1"
    assert caller.roles == {Role.HOSPITAL}
    assert caller.institutions == {"H64010100001", "H64010100003"}


def test_unknown_roles_are_ignored_not_granted(issuer: LocalIssuer) -> None:
    assert verify(issuer, issuer.mint("x", ["admin", "auditor"])).roles == {Role.AUDITOR}


def _foreign_key_token(issuer: LocalIssuer) -> str:
    """Same claims and key id, signed by a key the issuer never published."""
    other = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "roles": ["auditor"]}
    return jwt.encode(claims, other, algorithm="ES256", headers={"kid": issuer.key_id})


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda i: i.mint("x", ["auditor"], ttl=-60), "expired"),
        (lambda i: i.mint("x", ["auditor"], nbf=int(time.time()) + 600), "not valid yet"),
        (lambda i: i.mint("x", ["auditor"], iss="https://elsewhere"), "another issuer"),
        (lambda i: i.mint("x", ["auditor"], aud="another-service"), "another audience"),
        (lambda i: i.mint("x", ["auditor"], sub=""), "subject is empty"),
        (lambda i: i.mint("x", ["auditor"], fixmedins_codes="H1"), "not a list of institution codes"),
        (_foreign_key_token, "signature does not verify"),
        (lambda i: jwt.encode({"sub": "x", "roles": ["auditor"]}, "k" * 32, algorithm="HS256"), "algorithm"),
        (lambda i: jwt.encode({"sub": "x"}, None, algorithm="none"), "algorithm"),
        (lambda i: "not.a.token", "not a JWT"),
        (lambda i: "x" * 10_000, "too long"),
    ],
)
def test_a_token_that_should_not_pass_is_refused_with_its_reason(issuer: LocalIssuer, make: Any, why: str) -> None:
    with pytest.raises(TokenRejected, match=why):
        verify(issuer, make(issuer))


def test_symmetric_algorithms_cannot_be_allowed() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        AuthConfig(ISSUER, AUDIENCE, ("HS256",), 0, "roles", jwks_file="x")


@pytest.fixture
def jwks_server(issuer: LocalIssuer) -> Iterator[str]:
    """The issuer's JWKS served over HTTP, as an identity provider publishes it."""
    body = issuer.jwks_file.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def test_keys_fetched_from_a_jwks_url_verify_the_issuers_tokens(issuer: LocalIssuer, jwks_server: str) -> None:
    verifier = TokenVerifier(config(jwks_url=jwks_server))
    caller = asyncio.run(verifier.verify(issuer.mint("auditor-1", ["auditor"])))
    assert caller.roles == {Role.AUDITOR}
    with pytest.raises(TokenRejected, match="signature"):
        asyncio.run(verifier.verify(_foreign_key_token(issuer)))


def test_the_bucket_lets_a_burst_through_then_one_request_per_interval() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)  # 3 at once, then one every 0.5 s
    assert [limiter.take("his-1", 100.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("his-1", 100.0) == pytest.approx(0.5)  # empty: one token takes 1 / 2 per s = 0.5 s
    assert limiter.take("his-2", 100.0) == 0  # another caller has its own bucket
    assert limiter.take("his-1", 100.5) == 0  # 0.5 s × 2/s = one token back


def test_the_limiter_forgets_the_longest_idle_caller_first() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_callers=2)
    for caller in ("a", "b", "c"):
        limiter.take(caller, 0.0)
    assert set(limiter._buckets) == {"b", "c"}


def _request(chunks: list[bytes], headers: dict[str, str]) -> tuple[Request, list[int]]:
    """A request whose body arrives in chunks; `taken` counts the chunks the app asked for."""
    taken: list[int] = []

    async def receive() -> dict[str, Any]:
        taken.append(1)
        n = len(taken) - 1
        return {"type": "http.request", "body": chunks[n], "more_body": n + 1 < len(chunks)}

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "headers": raw}, receive), taken


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read() -> None:
    request, taken = _request([b"x" * 10], {"content-length": str(50 * 1024 * 1024)})
    with pytest.raises(Problem) as refused:
        asyncio.run(read_body(request, 2048))
    assert refused.value.status == 413 and taken == []


def test_an_undeclared_body_is_counted_and_reading_stops_past_the_limit() -> None:
    request, taken = _request([b"x" * 1024] * 100, {})  # 100 KiB streamed, no Content-Length
    with pytest.raises(Problem) as refused:
        asyncio.run(read_body(request, 2048))
    assert refused.value.status == 413
    assert len(taken) == 3  # 1 KiB, 2 KiB, then 3 KiB > 2 KiB: the other 97 chunks never read


def test_a_body_within_the_limit_is_returned_whole() -> None:
    request, _ = _request([b'{"a":', b" 1}"], {"content-length": "8"})
    assert json.loads(asyncio.run(read_body(request, 2048))) == {"a": 1}


def test_the_issuer_keeps_its_private_key_to_its_owner(issuer: LocalIssuer) -> None:
    assert Path(issuer.key_file).stat().st_mode & 0o077 == 0
