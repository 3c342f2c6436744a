"""A development identity provider: an RSA key made per run, and the tokens it signs.

``make run`` makes a fresh key when it starts, writes it to ``.local/dev-identity.json``
(mode 0600) for ``python -m devstack.tokens``, and removes the file when it stops: a token is
good for one run of the stack only. Tests make their own provider in memory. The issuer and
audience mirror template.yaml's ``JwtIssuer`` and ``JwtAudience`` parameters.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.jwt_authorizer import JwtAuthorizer
from devstack.stack_env import STATE_DIR, StackNotRunning, write_private

IDENTITY_FILE = STATE_DIR / "dev-identity.json"
DEV_AUDIENCE = "insurance-agent-api"
CUSTOMER_SCOPE = "insurance/customer"
AGENT_SCOPE = "insurance/agent"  # insurance_agent.principal.AGENT_SCOPE
DEFAULT_TTL_S = 3600


def dev_issuer(port: int = 3000) -> str:
    return f"http://127.0.0.1:{port}/dev-issuer"


def customer_identity(customer_id: str, subject: str | None = None) -> dict[str, Any]:
    """What a customer's access token says about them."""
    return {
        "sub": subject or f"dev-user-{customer_id}",
        "customer_id": customer_id,
        "scope": f"openid {CUSTOMER_SCOPE}",
        "token_use": "access",
    }


def agent_identity(subject: str = "dev-agent") -> dict[str, Any]:
    """What an agent's (a service's or a claims handler's) access token says."""
    return {"sub": subject, "scope": AGENT_SCOPE, "token_use": "access"}


@dataclass(frozen=True)
class DevIdentityProvider:
    issuer: str
    audience: str
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(
        cls, issuer: str | None = None, audience: str = DEV_AUDIENCE
    ) -> DevIdentityProvider:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(issuer or dev_issuer(), audience, f"dev-{uuid.uuid4().hex[:12]}", key)

    def authorizer(self) -> JwtAuthorizer:
        """The gateway's side: this provider's public key, issuer and audience."""
        return JwtAuthorizer(
            {self.kid: self.private_key.public_key()}, self.issuer, (self.audience,)
        )

    def token(
        self, identity: dict[str, Any], *, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
    ) -> str:
        """A signed access token; ``identity`` may override any registered claim (tests do)."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_s,
            "jti": uuid.uuid4().hex,
        } | identity
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def save(self, path: Path | None = None) -> Path:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        record = {
            "issuer": self.issuer,
            "audience": self.audience,
            "kid": self.kid,
            "private_key_pem": pem,
        }
        return write_private(path or IDENTITY_FILE, json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path | None = None) -> DevIdentityProvider:
        path = path or IDENTITY_FILE
        if not path.exists():
            raise StackNotRunning(
                f"{path} not found: `make run` writes the development signing key while it runs"
            )
        record = json.loads(path.read_text())
        key = serialization.load_pem_private_key(record["private_key_pem"].encode(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA key")
        return cls(record["issuer"], record["audience"], record["kid"], key)
