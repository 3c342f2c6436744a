"""Powertools' Logger, one per container, and the metrics Lambda does not publish itself.

The Tracer (and the X-Ray SDK it imports, ~0.3 s of cold start) is created only when tracing
is enabled, i.e. when ``POWERTOOLS_TRACE_DISABLED`` is not true.
"""

from __future__ import annotations

import logging
import os
import traceback
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from insurance_agent.redaction import redact, redact_text


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line, redacted as a whole just before it is written: whatever a
    caller of ``logger`` passes (a message, extra keys, an exception), no secret gets out."""

    def serialize(self, log: Any) -> str:
        return super().serialize(redact(log))


class RedactingFilter(logging.Filter):
    """Redacts a record's message and traceback before any handler sees it, for handlers other
    than ours that the record propagates to (a test's log capture, a library's handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = redact(record.args)
        elif record.args:
            record.args = tuple(redact(list(record.args)))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)))
        return True


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "insurance-agent-api"),
    logger_formatter=RedactingFormatter(),
)
logger.addFilter(RedactingFilter())
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "InsuranceAgentApi")


def count_server_error(status: int, function_name: str) -> None:
    """One ``ServerErrors`` datapoint per error answered with a status >= 500, whichever door
    answered it. Lambda's own ``Errors`` cannot tell these apart: HTTP and MCP answers return
    normally, and the direct door raises business refusals too. Written at once, as its own EMF
    line with a ``function_name`` dimension."""
    if status < 500 or _metrics_disabled():
        return
    with single_metric(
        name="ServerErrors",
        unit=MetricUnit.Count,
        value=1,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": logger.service},
    ) as metric:
        metric.add_dimension(name="function_name", value=function_name)


def _metrics_disabled() -> bool:
    # Powertools' Metrics honours POWERTOOLS_METRICS_DISABLED; single_metric does not.
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() in ("1", "true")


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() not in ("1", "true")


@lru_cache(maxsize=1)
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer()
