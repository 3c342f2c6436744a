"""The container's connection pool to PostgreSQL (RDS Proxy in AWS).

One connection per container: Lambda serves one request at a time and RDS Proxy does the real
pooling. Nothing here may pin a proxy connection: no session ``SET`` (the proxy's init query
holds session settings), no server-side prepared statements (``prepare_threshold=None``).
With ``DB_IAM_AUTH=true`` a fresh RDS auth token is minted for every new connection, so a
token's 15-minute life never outlasts its use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from insurance_agent.errors import AuditUnavailable
from insurance_agent.settings import Settings

if TYPE_CHECKING:
    from insurance_agent.personal_data import CustomerKeys

APPLICATION_NAME = "insurance-agent-api"


def rds_auth_token(host: str, port: int, user: str, region: str) -> str:
    """Sign an RDS IAM auth token locally (no API call). boto3 comes with the Lambda runtime."""
    import boto3

    client = boto3.client("rds", region_name=region)
    return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user))


def connection_params(settings: Settings) -> tuple[str, Callable[[], dict[str, Any]]]:
    """Conninfo and the connection kwargs, evaluated at every connection attempt."""
    base: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": None,
        "connect_timeout": max(1, round(settings.db_connect_timeout_s)),
        "application_name": APPLICATION_NAME,
    }
    if not settings.db_iam_auth:
        assert settings.database_url is not None  # guaranteed by Settings' validator
        return settings.database_url.get_secret_value(), lambda: base

    def iam_kwargs() -> dict[str, Any]:
        assert settings.db_host
        assert settings.db_user
        return base | {
            "host": settings.db_host,
            "port": settings.db_port,
            "dbname": settings.db_name,
            "user": settings.db_user,
            "sslmode": settings.db_sslmode,
            "password": rds_auth_token(
                settings.db_host, settings.db_port, settings.db_user, settings.aws_region
            ),
        }

    return "", iam_kwargs


class Database:
    """Lazily opens the pool on first use, so the container's init does not wait for Postgres."""

    def __init__(self, settings: Settings, *, name: str = "audit") -> None:
        self._settings = settings
        self._name = name
        self._pool: ConnectionPool[Any] | None = None
        self._customer_keys: CustomerKeys | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> ConnectionPool[Any]:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    conninfo, kwargs = connection_params(self._settings)
                    pool: ConnectionPool[Any] = ConnectionPool(
                        conninfo,
                        kwargs=kwargs,
                        min_size=1,
                        max_size=1,
                        open=False,
                        name=self._name,
                        timeout=self._settings.db_pool_timeout_s,
                        # Warm containers keep a connection the proxy may have closed.
                        check=ConnectionPool.check_connection,
                        max_idle=300.0,
                        reconnect_timeout=60.0,
                        num_workers=1,
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A checked connection; ``AuditUnavailable`` when the database cannot be reached."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise AuditUnavailable(
                "audit database unavailable: no connection within "
                f"{self._settings.db_pool_timeout_s:g}s"
            ) from None
        except psycopg.Error as exc:
            raise AuditUnavailable(
                "audit database unavailable", details={"reason": type(exc).__name__}
            ) from None

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def customer_keys(self) -> CustomerKeys:
        """The container's cache of customers' data keys, shared by the audit writer and the
        idempotency records (both seal personal data under them)."""
        if self._customer_keys is None:
            from insurance_agent.personal_data import CustomerKeys, wrapper_from_settings

            with self._lock:
                if self._customer_keys is None:
                    self._customer_keys = CustomerKeys(wrapper_from_settings(self._settings))
        return self._customer_keys

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats()) if self._pool is not None else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
