"""Powertools Logger and Metrics, one of each per container.

The Tracer (and the X-Ray SDK it imports, ~0.3 s of cold start) is created only when tracing
is enabled, i.e. when ``POWERTOOLS_TRACE_DISABLED`` is not true.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "insurance-agent-api"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "InsuranceAgentApi"))


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() not in ("1", "true")


@lru_cache(maxsize=1)
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer()
