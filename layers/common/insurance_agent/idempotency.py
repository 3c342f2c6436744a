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
- the first call's record completes in the statement that writes its answer's audit row when
  the caller asks so (``completed_by``, as claim creation does): a replay never finds a
  completed key whose answer has no row, and the filing makes one round trip fewer;
- a key in progress: ``RequestInProgress`` (409, retryable, ``retry_after_s``);
- the same key with another body: ``IdempotencyConflict`` (409);
- the action failing: the record is deleted and the error passes through, so a retry may try
  again (upstream deduplicates on the same key if the failure hid a filing);
- the database failing: ``AuditUnavailable`` (503), as for the audit itself;
- the stored answer is sealed under the customer's data key (``idempotency_store``).

Importing Powertools' idempotency package loads its DynamoDB layer and with it boto3, so it is
imported on the first filing, never by the functions that do not file. (In AWS every function
imports boto3 on its first invocation anyway, for the Secrets Manager key and the RDS IAM token;
working around the package ``__init__`` would save nothing there.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.database import Database
from insurance_agent.errors import AuditUnavailable, IdempotencyConflict, RequestInProgress

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    from insurance_agent.idempotency_store import PostgresPersistenceLayer
    from insurance_agent.ports import Completion

# What a refused duplicate is told to wait: a filing normally ends well within a second or two.
RETRY_AFTER_S = 1


def in_progress(state: str) -> RequestInProgress:
    """A key whose first request has not finished (``state`` says how far it got): 409 with the
    retry hint every door passes on (``Retry-After``, the state machine's backoff)."""
    return RequestInProgress(
        f"a request with this Idempotency-Key is {state}; retry shortly",
        details={"retry_after_s": RETRY_AFTER_S},
    )


KEY_FIELDS = "[customer_id, idempotency_key]"
PAYLOAD_FIELDS = "[customer_id, request]"


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
                    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

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
        *,
        completed_by: Callable[[Completion], None] | None = None,
    ) -> tuple[R, bool]:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )
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
        from insurance_agent.idempotency_store import current_customer, deferred_completion

        named = current_customer.set(ctx.customer_id)
        deferring = deferred_completion.set(completed_by)
        try:
            answer = guarded(scoped=scoped)
        except IdempotencyValidationError:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for a different request"
            ) from None
        except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
            raise in_progress("still in progress") from None
        except IdempotencyPersistenceLayerError as exc:
            raise _unavailable(exc) from None
        finally:
            deferred_completion.reset(deferring)
            current_customer.reset(named)
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
