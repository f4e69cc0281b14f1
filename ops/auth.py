"""Who is calling: OIDC-style bearer tokens (JWT) verified against the issuer's published keys.

The keys come from the issuer's JWKS, by URL (PyJWT's `PyJWKClient`: cached, refreshed at most
once per cooldown for an unknown key id, so a flood of forged key ids cannot hammer the issuer)
or from a file (the local issuer of devservers). A token is accepted only if its algorithm is on
the allow-list (asymmetric ones only: an HMAC "secret" would be the public key), its signature
verifies, and its issuer, audience, expiry and not-before hold (with a small clock leeway).

A verified token is remembered by its exact text until it expires (at most `CACHE_SECONDS`,
at most `CACHE_SIZE` tokens, the least recently used forgotten first): a counter sends the same
token with every request, and checking an ES256 signature costs ~160 µs of CPU each time. Only
tokens that passed every check are remembered, so a cached answer is the one a full check would
give until the token's `exp` (after it the full check runs again, leeway included); the time bound
caps how long a key withdrawn from a JWKS URL keeps vouching for tokens it already signed.

Roles are a claim (`roles` by default): `hospital` (with `fixmedins_codes`, the institution
codes it speaks for), `auditor`, `operator`. What each role may do is decided per route.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
MAX_TOKEN_CHARS = 8192  # a real token is a few hundred characters; more is an attack or a mistake
INSTITUTIONS_CLAIM = "fixmedins_codes"
CACHE_SIZE = 10_000  # tokens remembered; a few hundred counters hold one each
CACHE_SECONDS = 60.0  # a remembered token is checked in full again after this long at most


class Role(StrEnum):
    HOSPITAL = "hospital"  # pre-settles and reads for its own institution codes
    AUDITOR = "auditor"  # replays, verifies, reads any settlement and totals
    OPERATOR = "operator"  # health, readiness, metrics


class TokenRejected(Exception):
    """The caller's token is not acceptable (401); the message says why in a few words."""


class KeysUnavailable(Exception):
    """The issuer's keys cannot be fetched right now (503): not the caller's fault."""


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]
    institutions: frozenset[str]  # fixmedins_code values a hospital speaks for


@dataclass(frozen=True)
class AuthConfig:
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    leeway_seconds: int
    roles_claim: str
    jwks_url: str | None = None
    jwks_file: str | None = None

    def __post_init__(self) -> None:
        unsafe = set(self.algorithms) - ASYMMETRIC
        if unsafe or not self.algorithms:
            raise ValueError(f"token algorithms must be asymmetric ones ({', '.join(sorted(ASYMMETRIC))})")
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE must be set")


_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "it has expired"),
    (jwt.ImmatureSignatureError, "it is not valid yet (nbf/iat in the future)"),
    (jwt.InvalidAudienceError, "it is meant for another audience"),
    (jwt.InvalidIssuerError, "it comes from another issuer"),
    (jwt.InvalidSignatureError, "its signature does not verify"),
    (jwt.InvalidAlgorithmError, "its algorithm is not accepted"),
)


def _why(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"it lacks the claim {error.claim!r}"
    for kind, sentence in _REFUSALS:
        if isinstance(error, kind):
            return sentence
    return "it is not a valid JWT"


class TokenVerifier:
    def __init__(
        self,
        config: AuthConfig,
        *,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.config = config
        self._client = jwt.PyJWKClient(config.jwks_url, timeout=5) if config.jwks_url else None
        self._file_keys = jwt.PyJWKSet.from_json(Path(config.jwks_file).read_text()) if config.jwks_file else None
        self._clock, self._cache_size, self._cache_seconds = clock, cache_size, cache_seconds
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()  # token: caller, good until

    async def verify(self, token: str) -> Caller:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("it is too long to be a token")
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None and now < remembered[1]:
            self._verified.move_to_end(token)
            return remembered[0]
        caller, expires = await self._check(token)
        self._verified[token] = (caller, min(expires, now + self._cache_seconds))
        self._verified.move_to_end(token)
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return caller

    async def _check(self, token: str) -> tuple[Caller, float]:
        """Every check, in full: the caller, and the token's expiry (seconds since the epoch)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("it is not a JWT") from None
        if header.get("alg") not in self.config.algorithms:
            raise TokenRejected(f"its algorithm is not one of {', '.join(self.config.algorithms)}")
        key = await self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.config.algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            raise TokenRejected(_why(error)) from None
        return caller_of(claims, self.config.roles_claim), float(claims["exp"])

    async def _key(self, kid: Any) -> Any:
        if not isinstance(kid, str | None):
            raise TokenRejected("its key id is not a string")
        if self._file_keys is not None:
            found = [k for k in self._file_keys.keys if kid is None or k.key_id == kid]
            if not found:
                raise TokenRejected("it is signed by a key the issuer does not publish")
            return found[0].key
        assert self._client is not None
        client = self._client
        try:
            if kid is None:
                keys = await asyncio.to_thread(client.get_signing_keys)
                return keys[0].key
            return (await asyncio.to_thread(client.get_signing_key, kid)).key
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"the issuer's keys could not be fetched ({error})") from None
        except jwt.PyJWKClientError:
            raise TokenRejected("it is signed by a key the issuer does not publish") from None


def caller_of(claims: dict[str, Any], roles_claim: str) -> Caller:
    """The caller a verified token describes; unknown roles are ignored, malformed claims refused."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise TokenRejected("its subject is empty")
    raw_roles = claims.get(roles_claim, [])
    names = raw_roles.split() if isinstance(raw_roles, str) else raw_roles
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TokenRejected(f"its {roles_claim!r} claim is not a list of role names")
    codes = claims.get(INSTITUTIONS_CLAIM, [])
    if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
        raise TokenRejected(f"its {INSTITUTIONS_CLAIM!r} claim is not a list of institution codes")
    known = {role.value for role in Role}
    roles = frozenset(Role(n) for n in names if n in known)
    return Caller(subject, roles, frozenset(codes))
