"""A local token issuer for the demo and the tests: an ES256 key pair generated into the
devservers home, its public keys as a JWKS file the services read (AUTH_JWKS_FILE), and tokens
minted with the claims the services check (iss, aud, sub, iat, nbf, exp, roles, fixmedins_codes).

    python -m devservers token --role hospital --institution H64010100001 [--ttl 3600]

Files (<home>/issuer/): signing-key.pem (private, 0600), jwks.json (public). A development
issuer only: anyone who can read the home can mint any token, which is the point locally.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUER = "https://issuer.devservers.local/medins"
AUDIENCE = "medins-settlement"
ALGORITHM = "ES256"


@dataclass(frozen=True)
class LocalIssuer:
    folder: Path

    @property
    def key_file(self) -> Path:
        return self.folder / "signing-key.pem"

    @property
    def jwks_file(self) -> Path:
        return self.folder / "jwks.json"

    @property
    def key_id(self) -> str:
        return str(json.loads(self.jwks_file.read_text())["keys"][0]["kid"])

    def ensure(self) -> LocalIssuer:
        """Generate the key pair and the JWKS once; later calls reuse them."""
        if self.key_file.exists() and self.jwks_file.exists():
            return self
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        self.folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        public |= {"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": ALGORITHM}
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        self.jwks_file.write_text(json.dumps({"keys": [public]}, indent=2) + "\n")
        return self

    def environment(self) -> dict[str, str]:
        """The settings a service needs to accept this issuer's tokens."""
        return {"AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": AUDIENCE, "AUTH_JWKS_FILE": str(self.jwks_file)}

    def mint(
        self,
        subject: str,
        roles: Iterable[str],
        institutions: Iterable[str] = (),
        *,
        ttl: int = 3600,
        now: float | None = None,
        **overrides: Any,
    ) -> str:
        """A signed token; `overrides` replace or add claims (a test's wrong issuer, say)."""
        import jwt

        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "roles": list(roles),
        }
        if institutions:
            claims["fixmedins_codes"] = list(institutions)
        claims |= overrides
        return jwt.encode(claims, self.key_file.read_bytes(), algorithm=ALGORITHM, headers={"kid": self.key_id})


def local_issuer(home: Path) -> LocalIssuer:
    return LocalIssuer(home / "issuer").ensure()
