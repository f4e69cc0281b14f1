"""A service whose settings would leave it open refuses to start, in one sentence, exit 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devservers.stack import BIN, POLICIES, REGISTRY


def serve(service: str, database_url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "KAFKA_", "MEDINS_", "SETTLEMENT_"))},
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "SETTLEMENT_POLICIES_DIR": str(POLICIES),
        "AUTH_ISSUER": "https://issuer.example",
        "AUTH_AUDIENCE": "medins",
        "AUTH_JWKS_URL": "https://issuer.example/jwks",
        "LOG_PSEUDONYM_KEY": "a-key-of-the-refusal-tests-only",  # required outside local mode
        **settings,
    }
    return subprocess.run([str(Path(BIN) / service), "serve"], env=env, capture_output=True, text=True, timeout=60)


LOCAL = {"MEDINS_ENV": "local"}


@pytest.mark.parametrize(
    ("service", "settings", "sentence"),
    [
        ("settlement", {**LOCAL, "AUTH_ISSUER": ""}, "AUTH_ISSUER and AUTH_AUDIENCE must be set"),
        ("ledger", {**LOCAL, "AUTH_JWKS_URL": ""}, "exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE"),
        ("ledger", {**LOCAL, "AUTH_ALGORITHMS": "HS256"}, "asymmetric"),
        ("settlement", {"SETTLEMENT_PRINCIPALS_FILE": str(REGISTRY)}, "PLAINTEXT is refused outside local mode"),
        ("ledger", {}, "PLAINTEXT is refused outside local mode"),
        ("settlement", {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SETTLEMENT_PRINCIPALS_FILE is required"),
        ("ledger", {"LOG_PSEUDONYM_KEY": ""}, "LOG_PSEUDONYM_KEY"),
        ("settlement", {"LOG_PSEUDONYM_KEY": "local-development-only"}, "LOG_PSEUDONYM_KEY"),
        (
            "settlement",
            {"MEDINS_ENV": "local", "SETTLEMENT_PRINCIPALS_FILE": "/nowhere.toml"},
            "cannot read the registry",
        ),
    ],
)
def test_a_service_that_would_be_open_refuses_to_start(
    database_url: str, service: str, settings: dict[str, str], sentence: str
) -> None:
    done = serve(service, database_url, **settings)
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{service}: ") and sentence in line
    assert "Traceback" not in done.stdout + done.stderr
