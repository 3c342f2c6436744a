"""API Gateway's JWT authorizer, for the local HTTP API: verify the bearer token, pass its claims.

What the gateway checks, in its order (AWS: "Control access to HTTP APIs with JWT authorizers"):
the token from the Authorization header, with or without "Bearer "; an RSA signature by a key
whose ``kid`` the issuer publishes; ``iss`` equal to the configured issuer; ``aud`` (or, only
when there is no ``aud``, ``client_id``) one of the configured audiences; ``exp`` after now;
``nbf`` and ``iat`` before now. A request that fails any of them never reaches a function: the
gateway answers 401 ``{"message":"Unauthorized"}`` itself. The claims of a token that passes
reach the function in ``requestContext.authorizer.jwt.claims``, every value a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# The gateway supports RSA-based algorithms only.
ALGORITHMS = ["RS256", "RS384", "RS512"]
UNAUTHORIZED_BODY = json.dumps({"message": "Unauthorized"}).encode()


class TokenRejected(Exception):
    """The gateway's 401; the message is the ``error_description`` it gives."""

    @property
    def challenge(self) -> str:
        if not self.args:
            return "Bearer"
        return f'Bearer error="invalid_token" error_description="{self.args[0]}"'


@dataclass(frozen=True)
class JwtAuthorizer:
    keys: Mapping[str, RSAPublicKey]  # the issuer's key set, by kid
    issuer: str
    audiences: tuple[str, ...]

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """``requestContext.authorizer.jwt`` for a valid token; ``TokenRejected`` otherwise."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise TokenRejected()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise TokenRejected("the signing key is not in the issuer's key set")
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token's issuer is not trusted") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"invalid token: {type(exc).__name__}") from None
        if not self._audience_accepted(payload):
            raise TokenRejected("the token does not have a valid audience")
        return {"claims": gateway_claims(payload), "scopes": token_scopes(payload) or None}

    def _audience_accepted(self, payload: Mapping[str, Any]) -> bool:
        # The gateway reads client_id only when the token carries no aud.
        named = payload["aud"] if "aud" in payload else payload.get("client_id")
        given = [named] if isinstance(named, str) else named if isinstance(named, list) else []
        return any(isinstance(a, str) and a in self.audiences for a in given)


def token_scopes(payload: Mapping[str, Any]) -> list[str]:
    """``scope`` is a space-separated string (RFC 8693, RFC 9068) and ``scp`` that or a list of
    strings; any other shape (a number, an object, a list of objects) is not read as scopes
    but refused, like any token the gateway cannot make sense of."""
    scopes: list[str] = []
    for name in ("scope", "scp"):
        value = payload.get(name)
        values: Iterable[Any]
        if value is None:
            values = []
        elif isinstance(value, str):
            values = value.split()
        elif name == "scp" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            values = value
        else:
            raise TokenRejected(f"invalid token: the {name} claim is not a string of scopes")
        scopes.extend(s for s in values if s not in scopes)
    return scopes


def gateway_claims(payload: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the gateway passes them on: every value a string, arrays as "[a b]"."""
    return {name: _as_gateway_string(value) for name, value in payload.items()}


def _as_gateway_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_as_gateway_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_as_gateway_string(v)}" for k, v in value.items()) + "]"
    return str(value)
