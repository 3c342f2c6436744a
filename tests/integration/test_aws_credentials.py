"""The two AWS-only ways in, with moto standing in for AWS: an RDS IAM auth token as the
database password (minted for every new connection, never reused past its 15 minutes), and
the upstream API key from Secrets Manager (fetched once per container, cached across
invocations, a rotated value picked up when the cache expires)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.client
import psycopg
import pytest
from insurance_agent import api_key, database
from insurance_agent.settings import Settings
from moto import mock_aws
from psycopg import sql

REGION = "us-east-1"
PROXY_HOST = "insurance-agent-dev.proxy-abc123.us-east-1.rds.amazonaws.com"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base

    # The Lambda runtime sets these; boto3 clients built without a region read them.
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    # Powertools keeps its providers (and their boto3 clients) per process: start clean so
    # each test's client talks to this test's moto.
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    with mock_aws():
        yield
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API operation any boto3 client makes, in order (the calls still reach moto)."""
    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(operation_name)
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


def iam_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": None,
        "db_iam_auth": True,
        "db_host": PROXY_HOST,
        "db_port": 5432,
        "db_name": "insurance_agent",
        "db_user": "insurance_agent_lambda",
        "fastapi_insurance_base_url": "https://insurance.example.com",
        "fastapi_insurance_api_key": "unused-here",
    }
    return Settings(**(values | overrides))


# -- RDS IAM auth -------------------------------------------------------------------------------


def test_iam_connection_kwargs_carry_a_signed_token_for_the_proxy_user(aws, aws_calls):
    conninfo, kwargs = database.connection_params(iam_settings())

    params = kwargs()

    assert conninfo == ""
    assert params["host"] == PROXY_HOST
    assert (params["port"], params["dbname"]) == (5432, "insurance_agent")
    assert params["user"] == "insurance_agent_lambda"
    assert params["sslmode"] == "require"  # the proxy requires TLS
    assert params["prepare_threshold"] is None  # no server-side prepares: they pin the proxy
    token = urlsplit("//" + params["password"])
    assert (token.hostname, token.port) == (PROXY_HOST, 5432)
    query = parse_qs(token.query)
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["insurance_agent_lambda"]
    assert query["X-Amz-Expires"] == ["900"]
    assert f"/{REGION}/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Signature"][0]
    assert aws_calls == []  # signed locally: no API call, no network on the request path


def sign_socket_dirs_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded server is reached through a unix-socket directory, and an RDS token is
    signed for a host name: sign those for localhost. The connection still uses the directory."""
    real = database.rds_auth_token

    def token(host: str, port: int, user: str, region: str) -> str:
        return real("localhost" if host.startswith("/") else host, port, user, region)

    monkeypatch.setattr(database, "rds_auth_token", token)


def test_a_token_is_minted_for_every_new_connection_against_real_postgres(
    aws, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Trust auth on the local server ignores the password; everything else is the IAM path."""
    sign_socket_dirs_for_localhost(monkeypatch)
    minted: list[str] = []

    def spy(host: str, port: int, user: str, region: str) -> str:
        token = real_token(host, port, user, region)
        minted.append(token)
        return token

    real_token = database.rds_auth_token
    monkeypatch.setattr(database, "rds_auth_token", spy)
    url = psycopg.conninfo.conninfo_to_dict(database_url)
    settings = iam_settings(
        db_host=url.get("host", "127.0.0.1"),
        db_port=int(url.get("port", 5432)),
        db_name=url["dbname"],
        db_user=url.get("user", "postgres"),
        db_sslmode="disable",  # the local server has no TLS; the template's value is require
    )
    db = database.Database(settings, name=f"iam-{uuid.uuid4().hex[:6]}")
    try:
        with db.connection() as conn:
            first_pid = conn.info.backend_pid
            assert conn.execute("SELECT current_user").fetchone() == (settings.db_user,)
        # The proxy (or an RDS failover) drops the connection under a warm container...
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        # ...the checkout check notices, and the replacement connects with a fresh token.
        with db.connection() as conn:
            assert conn.info.backend_pid != first_pid
    finally:
        db.close()
    assert len(minted) == 2
    assert all("Action=connect" in token for token in minted)


# -- upstream API key from Secrets Manager ------------------------------------------------------


def make_secret(value: str) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return str(
        client.create_secret(Name=f"insurance-agent/test/{uuid.uuid4().hex}", SecretString=value)[
            "ARN"
        ]
    )


def test_key_is_read_once_and_cached_across_calls(aws, aws_calls):
    arn = make_secret("  upstream-key-1  ")
    provider = api_key.api_key_provider(
        iam_settings(fastapi_insurance_api_key=None, fastapi_insurance_api_key_secret=arn)
    )

    keys = [provider() for _ in range(5)]

    assert keys == ["upstream-key-1"] * 5
    assert aws_calls.count("GetSecretValue") == 1


def test_a_rotated_key_is_picked_up_once_the_cache_expires(aws, monkeypatch):
    arn = make_secret("old-key")
    monkeypatch.setattr(api_key, "SECRET_MAX_AGE_S", 0)
    provider = api_key.api_key_provider(
        iam_settings(fastapi_insurance_api_key=None, fastapi_insurance_api_key_secret=arn)
    )
    assert provider() == "old-key"

    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=arn, SecretString="new-key"
    )

    assert provider() == "new-key"


def test_an_empty_secret_fails_naming_the_secret_not_its_value(aws):
    from insurance_agent.errors import ConfigurationError

    arn = make_secret("   ")
    provider = api_key.api_key_provider(
        iam_settings(fastapi_insurance_api_key=None, fastapi_insurance_api_key_secret=arn)
    )

    with pytest.raises(ConfigurationError, match="holds no API key"):
        provider()


def test_warm_container_fetches_the_secret_once_across_invocations(
    aws, aws_calls, make_entry: Callable[..., Any], fresh_reference, conversation_id
):
    """The real handler path: the key from Secrets Manager authenticates to the reference
    service on every invocation, and the container asks Secrets Manager once."""
    from devstack.events import LambdaContext

    arn = make_secret(fresh_reference.api_key)
    entry = make_entry(
        "policy_lookup", fastapi_insurance_api_key=None, fastapi_insurance_api_key_secret=arn
    )
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
    }

    answers = [
        entry.handler(task, LambdaContext(function_name="PolicyLookupFunction")) for _ in range(3)
    ]

    assert [a["policy_number"] for a in answers] == ["POL-10001"] * 3
    assert aws_calls.count("GetSecretValue") == 1


# -- the deployed database identity, end to end ---------------------------------------------------


@pytest.fixture
def lambda_login(database_url: str) -> Iterator[str]:
    """The login README "Deploy" creates: member of insurance_agent_app and nothing more."""
    user = f"ia_lambda_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN IN ROLE insurance_agent_app").format(sql.Identifier(user))
        )
    yield user
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))


def test_functions_work_as_the_least_privileged_login_through_the_iam_path(
    aws,
    database_url,
    lambda_login,
    make_entry,
    fresh_reference,
    conversation_id,
    audit_rows,
    monkeypatch,
):
    sign_socket_dirs_for_localhost(monkeypatch)
    from datetime import UTC, datetime, timedelta

    from devstack.events import LambdaContext

    url = psycopg.conninfo.conninfo_to_dict(database_url)
    iam = {
        "database_url": None,
        "db_iam_auth": True,
        "db_host": url.get("host", "127.0.0.1"),
        "db_port": int(url.get("port", 5432)),
        "db_name": url["dbname"],
        "db_user": lambda_login,
        "db_sslmode": "disable",  # the local server has no TLS
    }
    caller = {"conversation_id": conversation_id, "customer_id": "cust-7788"}
    lookup = make_entry("policy_lookup", **iam)
    claims = make_entry("claim_create", **iam)
    loss_date = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    policy = lookup.handler(
        caller | {"policy_number": "POL-10001"}, LambdaContext(function_name="PolicyLookup")
    )
    claim = claims.handler(
        caller
        | {
            "policy_number": "POL-10001",
            "idempotency_key": f"iam-{uuid.uuid4().hex}",
            "loss_date": loss_date,
            "loss_type": "theft",
            "description": "Catalytic converter stolen overnight.",
            "amount_claimed": {"amount": "900.00", "currency": "USD"},
        },
        LambdaContext(function_name="ClaimCreate"),
    )

    assert policy["policy_number"] == claim["policy_number"] == "POL-10001"
    outcomes = [r["outcome"] for r in audit_rows(conversation_id)]
    assert outcomes == ["ok", "pending", "ok"]
    login = {k: v for k, v in url.items() if k != "password"} | {"user": lambda_login}
    with psycopg.connect(**login, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM agent_interactions").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "DELETE FROM agent_interactions WHERE conversation_id = %s", [conversation_id]
            )
