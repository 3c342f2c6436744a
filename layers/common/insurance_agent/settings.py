"""Configuration, read from the environment once per container.

A missing or malformed setting raises ``ConfigurationError`` naming it, so a misconfigured
function fails at init instead of on some later request.

Each field is read from the environment variable of its name (any case), as pydantic-settings
would, and validated by pydantic; values passed to ``Settings(...)`` win over the environment.
A plain pydantic model rather than pydantic-settings: every value here is a plain string, and
importing pydantic-settings cost about 35 ms of every cold start (``make bench``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from insurance_agent.errors import ConfigurationError
from insurance_agent.principal import AGENT_SCOPE, ClaimNames


def from_environment(names: Iterable[str]) -> dict[str, str]:
    """The environment's value of each named setting, its variable matched in any case."""
    wanted = {name.lower(): name for name in names}
    return {
        wanted[key.lower()]: value for key, value in os.environ.items() if key.lower() in wanted
    }


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**(from_environment(type(self).model_fields) | values))

    # -- database: a URL in development, host/user with an RDS IAM token in AWS ----------
    database_url: SecretStr | None = None
    db_iam_auth: bool = False
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "postgres"
    db_user: str | None = None
    db_sslmode: str = "require"
    db_connect_timeout_s: float = Field(default=2.0, gt=0)
    # How long a request waits for the container's one connection before answering 503.
    db_pool_timeout_s: float = Field(default=2.0, gt=0)
    aws_region: str = "us-east-1"

    # -- upstream insurance API (system of record) ------------------------------------
    fastapi_insurance_base_url: AnyHttpUrl
    fastapi_insurance_api_key: SecretStr | None = None
    fastapi_insurance_api_key_secret: str | None = None
    upstream_connect_timeout_s: float = Field(default=1.0, gt=0)
    upstream_read_timeout_s: float = Field(default=3.0, gt=0)
    upstream_retry_attempts: int = Field(default=3, ge=1, le=10)
    # Retries of one upstream call stop after this long, inside the function's time budget.
    upstream_retry_budget_s: float = Field(default=4.0, gt=0)

    # -- request limits -----------------------------------------------------------------
    max_body_bytes: int = Field(default=64 * 1024, gt=0)

    # -- idempotent claim creation: how long a key's first answer is replayed --------------
    idempotency_ttl_s: int = Field(default=3600, gt=0)

    # -- which token claims say who calls (principal.ClaimNames) ---------------------------
    # A Cognito ID token carries a custom attribute as "custom:customer_id".
    jwt_customer_id_claim: str = Field(default="customer_id", pattern=r"^[A-Za-z0-9_:./-]{1,128}$")
    jwt_subject_claims: str = Field(
        default="sub,client_id", pattern=r"^[A-Za-z0-9_:./-]{1,128}(,[A-Za-z0-9_:./-]{1,128})*$"
    )
    jwt_agent_scope: str = Field(default=AGENT_SCOPE, pattern=r"^[\x21-\x7e]{1,256}$")

    # -- MCP through AgentCore Gateway: the key the interceptor signs caller assertions with
    #    (doors/caller_assertion.py); only MCP tool calls need it --------------------------
    mcp_caller_key: SecretStr | None = None
    mcp_caller_key_secret: str | None = None
    mcp_assertion_ttl_s: int = Field(default=60, gt=0, le=900)

    # -- personal fields at rest (personal_data.py): how customers' data keys are wrapped ---
    # AWS: a KMS key (id, ARN or alias); development: 32 bytes, base64; neither: unwrapped.
    audit_kms_key_id: str | None = None
    audit_wrapping_key: SecretStr | None = None

    @model_validator(mode="after")
    def _one_way_to_each_dependency(self) -> Settings:
        if self.db_iam_auth:
            missing = [n for n in ("db_host", "db_user") if not getattr(self, n)]
            if missing:
                raise ValueError(f"DB_IAM_AUTH=true needs {', '.join(m.upper() for m in missing)}")
        elif self.database_url is None:
            raise ValueError("DATABASE_URL is required (or DB_IAM_AUTH=true with DB_HOST, DB_USER)")
        if not (self.fastapi_insurance_api_key or self.fastapi_insurance_api_key_secret):
            raise ValueError(
                "FASTAPI_INSURANCE_API_KEY or FASTAPI_INSURANCE_API_KEY_SECRET is required"
            )
        return self

    @property
    def claim_names(self) -> ClaimNames:
        return ClaimNames(
            customer_id=self.jwt_customer_id_claim,
            subject=tuple(self.jwt_subject_claims.split(",")),
            agent_scope=self.jwt_agent_scope,
        )

    def secret_values(self) -> list[str]:
        """The secrets these settings hold, for redaction: the API key, the database password."""
        values = [
            key.get_secret_value()
            for key in (self.fastapi_insurance_api_key, self.mcp_caller_key)
            if key is not None
        ]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                values += [password, unquote(password)]
        return values


def load_settings() -> Settings:
    try:
        return Settings()  # values come from the environment
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
