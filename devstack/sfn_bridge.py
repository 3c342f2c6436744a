"""Run a state machine on moto's Step Functions executor against our real handlers, in-process.

moto 5 interprets ASL when ``execute_state_machine`` is on, but sends every Lambda task to its
Lambda backend, which runs code only inside Docker and, with ``{"lambda": {"use_docker":
False}}``, answers canned text. ``lambda_bridge`` swaps that Docker-free backend's ``invoke``
for one that calls the handler registered under the function's name, for the duration of a
``with`` block, and answers the way the Lambda service does:

- the handler's return value as JSON;
- for an exception, the Python runtime's error payload (``errorType`` = the exception's class
  name, ``errorMessage``, ``stackTrace``) with ``X-Amz-Function-Error: Unhandled``. moto's
  executor turns that into the task error that Retry and Catch match, as Step Functions does.

``throttle`` makes the service refuse a function's first invocations with Lambda's
``TooManyRequestsException`` (the function does not run), which Step Functions reports as
``Lambda.TooManyRequestsException``. Everything else (creating functions, ARNs, the
interpreter, retries, history) is moto's own.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from devstack.events import ClientContext, LambdaContext

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

Handler = Callable[[Any, Any], Any]

# Turns the executor on and keeps moto's Lambda backend away from Docker.
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """What the Lambda Python runtime answers for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


@contextmanager
def lambda_bridge(
    handlers: Mapping[str, Handler], *, throttle: Mapping[str, int] | None = None
) -> Iterator[list[str]]:
    """Route moto Lambda invocations of ``handlers``' function names to the handlers.

    Yields the list of function names invoked, in order, for assertions on retries.
    """
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda_simple.models import LambdaSimpleBackend

    invoked: list[str] = []
    refusals = dict(throttle or {})

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        function = backend.get_function(function_name, qualifier)  # unknown name: Lambda's 404
        handler = handlers[function.function_name]
        if refusals.get(function.function_name, 0) > 0:
            refusals[function.function_name] -= 1
            throttled = LambdaClientError("TooManyRequestsException", "Rate exceeded")
            throttled.code = 429
            raise throttled
        invoked.append(function.function_name)
        context = LambdaContext(
            function_name=function.function_name,
            timeout_s=function.timeout,
            client_context=ClientContext.from_header(_header(headers, "x-amz-client-context")),
        )
        event = json.loads(body) if body else {}
        try:
            result = handler(event, context)
        except Exception as exc:  # noqa: BLE001 -- the runtime reports any exception the same way
            response_headers["x-amz-function-error"] = "Unhandled"
            result = error_payload(exc, context.aws_request_id)
        return json.dumps(result).encode()

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield invoked
