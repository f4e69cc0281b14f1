"""Settings both services read from the environment.

Names are the environment variables themselves (pydantic-settings matches them without a
prefix, case-insensitively), so the Kubernetes manifests and the README use exactly these
words. Nothing here is read at import time: a service builds its settings in its bootstrap.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from ops.security import SecuritySettings

LOCAL_PSEUDONYM_KEY = "local-development-only"
MIN_PSEUDONYM_KEY_LENGTH = 16


class CommonSettings(SecuritySettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    medins_env: Literal["local", "production"] = Field(
        default="production",
        description="'local' only on a developer's machine or in CI: allows PLAINTEXT Kafka and development keys "
        "(the development LOG_PSEUDONYM_KEY among them); production requires them all",
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
        default=SecretStr(""),
        validate_default=True,
        description="HMAC key that pseudonymises psn_no and other personal ids in logs; required (at least 16 "
        "characters) unless MEDINS_ENV=local",
    )
    # A process that writes no log about people (`settlement send`) does not need the key.
    needs_pseudonym_key: ClassVar[bool] = True
    shutdown_grace_seconds: float = Field(
        default=20.0, gt=0, le=300, description="Time allowed to finish the batch in hand on SIGTERM"
    )

    @field_validator("log_pseudonym_key")
    @classmethod
    def _required_outside_local_runs(cls, key: SecretStr, info: ValidationInfo) -> SecretStr:
        """No silent development key in production (issue 10 item 9): pseudonyms made with a key
        anyone can read in this repository are no pseudonyms."""
        text = key.get_secret_value()
        if info.data.get("medins_env") == "local":
            return key if text else SecretStr(LOCAL_PSEUDONYM_KEY)
        if cls.needs_pseudonym_key and (len(text) < MIN_PSEUDONYM_KEY_LENGTH or text == LOCAL_PSEUDONYM_KEY):
            raise ValueError(
                f"LOG_PSEUDONYM_KEY must be a secret of at least {MIN_PSEUDONYM_KEY_LENGTH} characters "
                "(or MEDINS_ENV=local on a developer's machine)"
            )
        return key
