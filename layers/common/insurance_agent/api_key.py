"""The upstream API key: from the environment in development, from Secrets Manager in AWS.

Secrets Manager values are cached by Powertools Parameters for ``max_age`` seconds, so a warm
container makes no API call per request and a rotated key is picked up within that time.
"""

from __future__ import annotations

from collections.abc import Callable

from insurance_agent.errors import ConfigurationError
from insurance_agent.redaction import register_secret
from insurance_agent.settings import Settings

SECRET_MAX_AGE_S = 300


def api_key_provider(settings: Settings) -> Callable[[], str]:
    if settings.fastapi_insurance_api_key is not None:
        key = settings.fastapi_insurance_api_key
        return key.get_secret_value
    secret_name = settings.fastapi_insurance_api_key_secret
    if not secret_name:
        raise ConfigurationError("no upstream API key configured")

    def from_secrets_manager() -> str:
        # Imported here: only containers configured for Secrets Manager pay for boto3.
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(secret_name, max_age=SECRET_MAX_AGE_S)
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"secret {secret_name} holds no API key")
        register_secret(value.strip())
        return value.strip()

    return from_secrets_manager
