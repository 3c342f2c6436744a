"""The local gateway's JWT authorizer and the development identity provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from devstack import dev_identity, tokens
from devstack.dev_identity import DevIdentityProvider, agent_identity, customer_identity
from devstack.jwt_authorizer import TokenRejected, gateway_claims


@pytest.fixture(scope="module")
def provider() -> DevIdentityProvider:
    return DevIdentityProvider.generate("http://127.0.0.1:3000/dev-issuer")


@pytest.fixture(scope="module")
def impostor(provider: DevIdentityProvider) -> DevIdentityProvider:
    """Another key claiming the same issuer and kid: a forged signature."""
    other = DevIdentityProvider.generate(provider.issuer)
    return DevIdentityProvider(provider.issuer, provider.audience, provider.kid, other.private_key)


def test_a_valid_token_passes_its_claims_as_strings_and_its_scopes(provider):
    now = int(time.time())
    token = provider.token(customer_identity("cust-7788", "u-1") | {"groups": ["a", "b"]}, now=now)

    verified = provider.authorizer().verify(f"Bearer {token}")

    claims = verified["claims"]
    assert claims["sub"] == "u-1"
    assert claims["customer_id"] == "cust-7788"
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "insurance-agent-api"
    assert claims["exp"] == str(now + 3600)
    assert claims["groups"] == "[a b]"
    assert all(isinstance(v, str) for v in claims.values())
    assert verified["scopes"] == ["openid", "insurance/customer"]


def test_the_bearer_prefix_is_optional_as_at_the_gateway(provider):
    token = provider.token(agent_identity())

    assert provider.authorizer().verify(token)["claims"]["sub"] == "dev-agent"


# Times as offsets from the moment the test runs, not from collection.
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -5}, "expired"),
        ({"nbf": 600}, "not valid yet"),
        ({"iat": 600}, "not valid yet"),
        ({"iss": "https://evil.example/"}, "issuer"),
        ({"aud": "another-api"}, "audience"),
        ({"aud": ["another-api", "third-api"]}, "audience"),
    ],
)
def test_tokens_the_gateway_refuses(provider, overrides, reason):
    now = int(time.time())
    times = {k: now + v for k, v in overrides.items() if k in ("exp", "nbf", "iat")}
    token = provider.token(agent_identity() | overrides | times)

    with pytest.raises(TokenRejected, match=reason):
        provider.authorizer().verify(f"Bearer {token}")


def test_client_id_stands_in_for_aud_only_when_there_is_no_aud(provider):
    authorizer = provider.authorizer()
    base = agent_identity() | {"client_id": "insurance-agent-api"}
    without_aud = pyjwt.encode(
        {"iss": provider.issuer, "exp": int(time.time()) + 60} | base,
        provider.private_key,
        algorithm="RS256",
        headers={"kid": provider.kid},
    )

    assert authorizer.verify(without_aud)["claims"]["client_id"] == "insurance-agent-api"
    with pytest.raises(TokenRejected, match="audience"):
        authorizer.verify(provider.token(base | {"aud": "another-api"}))


def test_a_forged_signature_an_unknown_key_and_junk_are_refused(provider, impostor):
    authorizer = provider.authorizer()

    with pytest.raises(TokenRejected, match="InvalidSignatureError"):
        authorizer.verify(impostor.token(agent_identity()))
    stranger = DevIdentityProvider.generate(provider.issuer)
    with pytest.raises(TokenRejected, match="key set"):
        authorizer.verify(stranger.token(agent_identity()))
    for junk in (None, "", "Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwdw=="):
        with pytest.raises(TokenRejected):
            authorizer.verify(junk)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_symmetric_and_unsigned_tokens_are_refused(provider):
    """Only RSA: an HMAC token keyed with the public key (algorithm confusion) or alg none."""
    claims = agent_identity() | {
        "iss": provider.issuer,
        "aud": provider.audience,
        "exp": int(time.time()) + 60,
    }
    unsigned = pyjwt.encode(claims, None, algorithm="none", headers={"kid": provider.kid})
    public_pem = provider.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": provider.kid}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{body}.{_b64(signature)}"

    for token in (unsigned, confused):
        with pytest.raises(TokenRejected, match="InvalidAlgorithmError"):
            provider.authorizer().verify(token)


def test_claims_are_stringified_like_the_gateway():
    assert gateway_claims({"n": 5, "b": True, "l": ["x", 1], "m": {"k": "v"}}) == {
        "n": "5",
        "b": "true",
        "l": "[x 1]",
        "m": "map[k:v]",
    }


def test_the_key_is_saved_private_and_the_token_command_signs_with_it(
    provider, tmp_path, monkeypatch, capsys
):
    path = provider.save(tmp_path / "dev-identity.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setattr(dev_identity, "IDENTITY_FILE", path)

    assert tokens.main(["customer", "cust-7788"]) == 0
    customer = capsys.readouterr().out.strip()
    assert tokens.main(["agent", "--subject", "desk-7", "--ttl", "60"]) == 0
    agent = capsys.readouterr().out.strip()

    authorizer = DevIdentityProvider.load(path).authorizer()
    assert authorizer.verify(customer)["claims"]["customer_id"] == "cust-7788"
    claims = authorizer.verify(agent)["claims"]
    assert (claims["sub"], claims["scope"]) == ("desk-7", "insurance/agent")
    assert int(claims["exp"]) - int(claims["iat"]) == 60


def test_the_token_command_without_a_running_stack_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dev_identity, "IDENTITY_FILE", tmp_path / "absent.json")

    assert tokens.main(["agent"]) == 2
    assert "make run" in capsys.readouterr().err
