"""McpInterceptorFunction: placeholder so that template.yaml's CodeUri exists on this branch.

The lead writes the real interceptor (insurance_agent.doors.interceptor); at merge the lead's
version of this file wins. Until then every invocation fails loudly rather than passing a
request through unsigned.
"""

from typing import Any


def handler(event: Any, context: Any) -> Any:
    raise NotImplementedError("the MCP interceptor is not on this branch yet")
