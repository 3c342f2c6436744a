"""Keys the functions hold: from the environment in development, from Secrets Manager in AWS.

The upstream API key, and the key MCP caller assertions are signed with.

Secrets Manager values are cached by Powertools Parameters for ``max_age`` seconds, so a warm
container makes no API call per request and a rotated key is picked up within that time.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from insurance_agent.errors import ConfigurationError
from insurance_agent.redaction import register_secret
from insurance_agent.settings import Settings

SECRET_MAX_AGE_S = 300


def api_key_provider(settings: Settings) -> Callable[[], str]:
    return secret_provider(
        settings.fastapi_insurance_api_key,
        settings.fastapi_insurance_api_key_secret,
        what="API key",
        missing="no upstream API key configured",
    )


def mcp_caller_key_provider(settings: Settings) -> Callable[[], str]:
    return secret_provider(
        settings.mcp_caller_key,
        settings.mcp_caller_key_secret,
        what="MCP caller key",
        missing="no MCP caller key configured (MCP_CALLER_KEY or MCP_CALLER_KEY_SECRET)",
    )


def secret_provider(
    value: SecretStr | None, secret_name: str | None, *, what: str, missing: str
) -> Callable[[], str]:
    """A key given in the environment, else read (and cached) from the named secret."""
    if value is not None:
        return value.get_secret_value
    if not secret_name:
        raise ConfigurationError(missing)

    def from_secrets_manager() -> str:
        # Imported here: only containers configured for Secrets Manager pay for boto3.
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(secret_name, max_age=SECRET_MAX_AGE_S)
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"secret {secret_name} holds no {what}")
        register_secret(value.strip())
        return value.strip()

    return from_secrets_manager
