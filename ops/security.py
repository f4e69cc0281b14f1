"""Security settings both services read (HTTP tokens and limits), and the checks a service
runs before it serves: a setting that would leave it open is refused in one sentence.

Environment variables (see docs/operations.md):
AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL or AUTH_JWKS_FILE, AUTH_ALGORITHMS, AUTH_LEEWAY_SECONDS,
AUTH_ROLES_CLAIM, HTTP_MAX_BODY_BYTES, HTTP_RATE_LIMIT_PER_SECOND, HTTP_RATE_LIMIT_BURST.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ops.auth import AuthConfig


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    auth_issuer: str | None = Field(default=None, description="The `iss` every token must carry")
    auth_audience: str | None = Field(default=None, description="The `aud` every token must name")
    auth_jwks_url: str | None = Field(default=None, description="Where the issuer publishes its keys (JWKS)")
    auth_jwks_file: str | None = Field(default=None, description="A JWKS file instead of a URL (local issuer)")
    auth_algorithms: str = Field(default="RS256,ES256", description="Accepted token algorithms, comma-separated")
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf")
    auth_roles_claim: str = Field(default="roles", description="The token claim that lists the caller's roles")
    http_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    http_rate_limit_per_second: float = Field(default=20.0, gt=0, le=10_000)
    http_rate_limit_burst: int = Field(default=40, ge=1, le=100_000)

    def auth_config(self) -> AuthConfig:
        """Raises ValueError with a sentence naming the setting that is missing or wrong."""
        if not (self.auth_issuer and self.auth_audience):
            raise ValueError("AUTH_ISSUER and AUTH_AUDIENCE must be set: every HTTP call but the probes needs a token")
        return AuthConfig(
            issuer=self.auth_issuer,
            audience=self.auth_audience,
            algorithms=tuple(a.strip() for a in self.auth_algorithms.split(",") if a.strip()),
            leeway_seconds=self.auth_leeway_seconds,
            roles_claim=self.auth_roles_claim,
            jwks_url=self.auth_jwks_url or None,  # an empty variable is an unset one
            jwks_file=self.auth_jwks_file or None,
        )
