"""What one Lambda container holds: settings, and the services built once on first use."""

from __future__ import annotations

import threading
from typing import Any

from insurance_agent.api_key import api_key_provider
from insurance_agent.audit import PostgresAuditStore
from insurance_agent.database import Database
from insurance_agent.evidence import PostgresEvidence
from insurance_agent.idempotency import PostgresIdempotency
from insurance_agent.operations import Services
from insurance_agent.redaction import register_secrets
from insurance_agent.settings import Settings, get_settings
from insurance_agent.upstream import InsuranceApiClient


def build_services(settings: Settings) -> tuple[Services, Database, InsuranceApiClient]:
    database = Database(settings)
    client = InsuranceApiClient(
        str(settings.fastapi_insurance_base_url),
        api_key_provider(settings),
        connect_timeout_s=settings.upstream_connect_timeout_s,
        read_timeout_s=settings.upstream_read_timeout_s,
        retry_attempts=settings.upstream_retry_attempts,
        retry_budget_s=settings.upstream_retry_budget_s,
    )
    services = Services(
        upstream=client,
        audit=PostgresAuditStore(database),
        idempotency=PostgresIdempotency(database, ttl_s=settings.idempotency_ttl_s),
        evidence=PostgresEvidence(database),
    )
    return services, database, client


class ContainerRuntime:
    """Reused across warm invocations: one HTTP client, one database pool."""

    def __init__(self, settings: Settings | None = None) -> None:
        # Read at init so a misconfigured function fails its cold start, naming the setting.
        self.settings = settings or get_settings()
        register_secrets(self.settings.secret_values())
        self._services: Services | None = None
        self.database: Database | None = None
        self.client: InsuranceApiClient | None = None
        self._lock = threading.Lock()

    @property
    def services(self) -> Services:
        if self._services is None:
            with self._lock:
                if self._services is None:
                    self._services, self.database, self.client = build_services(self.settings)
        return self._services

    def begin_invocation(self, context: Any) -> None:
        """Every invocation: a key it holds in progress expires with this invocation's time."""
        self.services.idempotency.register_lambda_context(context)

    def close(self) -> None:
        if self.database is not None:
            self.database.close()
        if self.client is not None:
            self.client.close()
        self._services = self.database = self.client = None
