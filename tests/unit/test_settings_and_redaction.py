"""Settings fail fast naming the setting; redaction masks secrets and personal data."""

from __future__ import annotations

import pytest
from insurance_agent.errors import ConfigurationError
from insurance_agent.redaction import MASK, redact
from insurance_agent.settings import load_settings


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
