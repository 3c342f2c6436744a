"""`python -m ops reconcile`: settle claim intents left pending (what the scheduled function
does each minute). Upstream is named by the functions' settings (FASTAPI_INSURANCE_BASE_URL
and its API key, from the environment)."""

from __future__ import annotations

import json
from datetime import timedelta

from insurance_agent.api_key import api_key_provider
from insurance_agent.database import Database
from insurance_agent.reconcile import DEFAULT_MIN_AGE, reconcile
from insurance_agent.settings import Settings
from insurance_agent.upstream import InsuranceApiClient


def run(url: str, *, min_age_s: float | None = None, conversation_id: str | None = None) -> str:
    settings = Settings(database_url=url)
    database = Database(settings, name="reconciler")
    client = InsuranceApiClient(
        str(settings.fastapi_insurance_base_url), api_key_provider(settings)
    )
    try:
        report = reconcile(
            database,
            client,
            min_age=DEFAULT_MIN_AGE if min_age_s is None else timedelta(seconds=min_age_s),
            conversation_id=conversation_id,
        )
    finally:
        database.close()
        client.close()
    return json.dumps(report.as_dict())
