"""Settings both services read from the environment.

Names are the environment variables themselves (pydantic-settings matches them without a
prefix, case-insensitively), so the Kubernetes manifests and the README use exactly these
words. Nothing here is read at import time: a service builds its settings in its bootstrap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ops.security import SecuritySettings


class CommonSettings(SecuritySettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    medins_env: Literal["local", "production"] = Field(
        default="production",
        description="'local' only on a developer's machine or in CI: allows PLAINTEXT Kafka and development keys",
    )
    database_url: SecretStr = Field(description="PostgreSQL DSN, e.g. postgresql://user:pw@host:5432/ledger")
    kafka_bootstrap_servers: str = Field(description="Comma-separated host:port list of Kafka brokers")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(default=None, description="CA bundle used to verify the brokers")
    kafka_topic_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]*$", description="Put in front of every topic name, e.g. 'prod.'"
    )

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_pseudonym_key: SecretStr = Field(
        default=SecretStr("local-development-only"),
        description="HMAC key that pseudonymises psn_no and other personal ids in logs",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0, gt=0, le=300, description="Time allowed to finish the batch in hand on SIGTERM"
    )
