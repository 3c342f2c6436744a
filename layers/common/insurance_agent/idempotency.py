"""An operation at most once per idempotency key: Powertools' idempotency utility on PostgreSQL.

``PostgresIdempotency.once`` runs an action under Powertools' ``idempotent_function`` with the
records in our database (``idempotency_store``). What it decides, in our terms:

- the record key is ``<operation>#sha256([customer_id, idempotency_key])``: two customers'
  identical keys never meet, and the HTTP, direct (Step Functions) and Bedrock doors of one
  function share records, so a workflow retry or a re-sent action replays instead of refiling;
- the conflict check hashes ``[customer_id, request]``, the request body as validated (not
  request ids, times or the door it came through);
- first time: the action runs and its answer is stored; while it runs the key is in progress
  until the invocation's own timeout (the Lambda context registered per invocation), so a
  container that dies mid-filing holds the key no longer than it could have run;
- a completed key: the stored answer, marked as a replay, and the action does not run;
- a key in progress: ``RequestInProgress`` (409, retryable, ``retry_after_s``);
- the same key with another body: ``IdempotencyConflict`` (409);
- the action failing: the record is deleted and the error passes through, so a retry may try
  again (upstream deduplicates on the same key if the failure hid a filing);
- the database failing: ``AuditUnavailable`` (503), as for the audit itself.

Powertools' idempotency modules are imported on the first filing, never by the functions that
do not file; and without the package's ``__init__``, which imports the DynamoDB persistence
layer and with it boto3 (about 0.3 s of a claim filing's cold start, measured by ``make bench``):
see ``_without_dynamodb``.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.database import Database
from insurance_agent.errors import AuditUnavailable, IdempotencyConflict, RequestInProgress

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    from insurance_agent.idempotency_store import PostgresPersistenceLayer

# What a refused duplicate is told to wait: a filing normally ends well within a second or two.
RETRY_AFTER_S = 1
KEY_FIELDS = "[customer_id, idempotency_key]"
PAYLOAD_FIELDS = "[customer_id, request]"

POWERTOOLS_IDEMPOTENCY = "aws_lambda_powertools.utilities.idempotency"
_package_lock = threading.RLock()


def _without_dynamodb() -> None:
    """Let Powertools' idempotency submodules be imported without the package's ``__init__``.

    That ``__init__`` imports the DynamoDB persistence layer, hence boto3, which we never use
    (our records are in PostgreSQL). The package is registered uninitialised, its submodules
    import as usual, and its ``__init__`` runs on the first lookup of a name it defines, so
    ``from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer`` still
    works anywhere in the process. A no-op once the package is imported either way.
    """
    with _package_lock:
        if POWERTOOLS_IDEMPOTENCY in sys.modules:
            return
        spec = importlib.util.find_spec(POWERTOOLS_IDEMPOTENCY)
        assert spec is not None
        assert spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def initialise(name: str) -> object:
            with _package_lock:
                if vars(package).pop("__getattr__", None) is not None:
                    try:
                        loader.exec_module(package)
                    except BaseException:
                        package.__getattr__ = initialise  # type: ignore[method-assign]
                        raise
            return getattr(package, name)

        package.__getattr__ = initialise  # type: ignore[method-assign]  # PEP 562
        sys.modules[POWERTOOLS_IDEMPOTENCY] = package
        parent: ModuleType = sys.modules[POWERTOOLS_IDEMPOTENCY.rpartition(".")[0]]
        parent.idempotency = package  # type: ignore[attr-defined]  # as the import system does


@dataclass(frozen=True)
class _Replayed:
    """What Powertools' response hook returns for a stored answer, so a replay is told apart."""

    answer: Any


def _replayed(response: Any, idempotent_data: Any) -> _Replayed:
    return _Replayed(response)


class PostgresIdempotency:
    """Implements ``ports.Idempotency``; one per container (one config, one persistence layer)."""

    def __init__(self, database: Database, *, ttl_s: int) -> None:
        self._database = database
        self._ttl_s = ttl_s
        self._lambda_context: Any = None
        self._machinery: tuple[IdempotencyConfig, PostgresPersistenceLayer] | None = None
        self._lock = threading.Lock()

    def register_lambda_context(self, context: Any) -> None:
        self._lambda_context = context

    def _config_and_store(self) -> tuple[IdempotencyConfig, PostgresPersistenceLayer]:
        if self._machinery is None:
            with self._lock:
                if self._machinery is None:
                    _without_dynamodb()
                    from aws_lambda_powertools.utilities.idempotency.config import (
                        IdempotencyConfig,
                    )

                    from insurance_agent.idempotency_store import PostgresPersistenceLayer

                    config = IdempotencyConfig(
                        event_key_jmespath=KEY_FIELDS,
                        payload_validation_jmespath=PAYLOAD_FIELDS,
                        raise_on_no_idempotency_key=True,
                        expires_after_seconds=self._ttl_s,
                        hash_function="sha256",
                        response_hook=_replayed,
                    )
                    self._machinery = (config, PostgresPersistenceLayer(self._database))
        return self._machinery

    def once[R: BaseModel](
        self,
        ctx: CallContext,
        operation: str,
        request: dict[str, Any],
        model: type[R],
        action: Callable[[], R],
    ) -> tuple[R, bool]:
        _without_dynamodb()
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )
        from aws_lambda_powertools.utilities.idempotency.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
            PydanticSerializer,
        )

        config, store = self._config_and_store()
        config.register_lambda_context(self._lambda_context)

        # Decorated per call: the action is this request's closure. Powertools keeps no state in
        # the wrapper; the config and the persistence layer are the container's.
        def run(*, scoped: dict[str, Any]) -> R:
            return action()

        guarded = idempotent_function(
            run,
            data_keyword_argument="scoped",
            persistence_store=store,
            config=config,
            output_serializer=PydanticSerializer(model),
            key_prefix=operation,
        )
        scoped = {
            "customer_id": ctx.customer_id,
            "idempotency_key": ctx.idempotency_key,
            "request": request,
        }
        try:
            answer = guarded(scoped=scoped)
        except IdempotencyValidationError:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for a different request"
            ) from None
        except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
            raise RequestInProgress(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                details={"retry_after_s": RETRY_AFTER_S},
            ) from None
        except IdempotencyPersistenceLayerError as exc:
            raise _unavailable(exc) from None
        if isinstance(answer, _Replayed):
            return model.model_validate(answer.answer), True
        return answer, False


def _unavailable(exc: BaseException) -> AuditUnavailable:
    """The database failed under Powertools (which wraps the error): the 503 it stands for."""
    cause = exc.__cause__
    if isinstance(cause, AuditUnavailable):
        return cause
    return AuditUnavailable(
        "idempotency records unavailable", details={"reason": type(cause or exc).__name__}
    )
