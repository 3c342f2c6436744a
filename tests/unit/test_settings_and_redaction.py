"""Settings fail fast naming the setting; redaction masks secrets and personal data."""

from __future__ import annotations

import pytest
from insurance_agent.errors import ConfigurationError
from insurance_agent.redaction import MASK, redact
from insurance_agent.settings import Settings, load_settings


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "DATABASE_URL",
        "FASTAPI_INSURANCE_BASE_URL",
        "FASTAPI_INSURANCE_API_KEY",
        "FASTAPI_INSURANCE_API_KEY_SECRET",
        "DB_IAM_AUTH",
        "DB_HOST",
        "DB_USER",
        "UPSTREAM_RETRY_ATTEMPTS",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_missing_base_url_is_named(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://x@h/db")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "k")
    with pytest.raises(ConfigurationError, match="FASTAPI_INSURANCE_BASE_URL"):
        load_settings()


def test_missing_database_is_named(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "http://127.0.0.1:1")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "k")
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings()


def test_iam_auth_needs_host_and_user(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "http://127.0.0.1:1")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY_SECRET", "name")
    clean_env.setenv("DB_IAM_AUTH", "true")
    with pytest.raises(ConfigurationError, match="DB_HOST, DB_USER"):
        load_settings()


def test_malformed_value_is_named_without_echoing_it(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "not a url")
    clean_env.setenv("DATABASE_URL", "postgresql://x:hunter2@h/db")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "k")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "FASTAPI_INSURANCE_BASE_URL" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_settings_never_print_secrets(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "http://127.0.0.1:1")
    clean_env.setenv("DATABASE_URL", "postgresql://x:hunter2@h/db")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "sk-live-abc")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "sk-live-abc" not in repr(settings)


def test_redaction_by_key_and_by_pattern():
    redacted = redact(
        {
            "Authorization": "Bearer abc.def",
            "nested": [{"date_of_birth": "1984-03-14", "note": "ssn 123-45-6789"}],
            "description": "call me on +1 415 555 0142 or dana@example.com",
            "amount": "1250.00",
            "loss_date": "2026-11-24",
        }
    )
    assert redacted["Authorization"] == MASK
    assert redacted["nested"][0] == {"date_of_birth": MASK, "note": "ssn [ssn]"}
    assert redacted["description"] == "call me on [phone] or [email]"
    assert (redacted["amount"], redacted["loss_date"]) == ("1250.00", "2026-11-24")


def test_settings_read_each_variable_in_any_case_and_passed_values_win(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "http://127.0.0.1:1")
    clean_env.setenv("database_url", "postgresql://x@h/db")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "sk-live-abc")
    clean_env.setenv("Upstream_Retry_Attempts", "5")
    clean_env.setenv("DB_IAM_AUTH", "false")
    clean_env.setenv("AWS_REGION", "eu-west-1")

    settings = Settings(upstream_read_timeout_s=7.5, fastapi_insurance_api_key="sk-passed-xyz")

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://x@h/db"
    assert settings.upstream_retry_attempts == 5
    assert settings.upstream_read_timeout_s == 7.5
    assert settings.fastapi_insurance_api_key is not None
    assert settings.fastapi_insurance_api_key.get_secret_value() == "sk-passed-xyz"
    assert (settings.db_iam_auth, settings.aws_region) == (False, "eu-west-1")
    assert str(settings.fastapi_insurance_base_url) == "http://127.0.0.1:1/"


def test_a_malformed_number_is_named(clean_env):
    clean_env.setenv("FASTAPI_INSURANCE_BASE_URL", "http://127.0.0.1:1")
    clean_env.setenv("DATABASE_URL", "postgresql://x@h/db")
    clean_env.setenv("FASTAPI_INSURANCE_API_KEY", "k")
    clean_env.setenv("UPSTREAM_RETRY_ATTEMPTS", "many")
    with pytest.raises(ConfigurationError, match="UPSTREAM_RETRY_ATTEMPTS"):
        load_settings()
