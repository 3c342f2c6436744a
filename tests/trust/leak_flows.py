"""Realistic flows with every chance to leak, run in a process of their own by the leak scan:
a password in DATABASE_URL, events logged at DEBUG, an agent that sends secrets in headers and
personal data in free text, an upstream failing, a database unreachable.

    python -m tests.trust.leak_flows   (environment prepared by test_redaction_scan)

Prints one line ``FLOWS {json}``: each flow's status, for the test to check they really ran.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

# Before the layer is imported: every library's log records go to stderr, at DEBUG.
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


def main() -> int:
    import httpx

    from devstack.events import LambdaContext
    from devstack.lambda_runtime import load_handler
    from devstack.stack import free_port
    from devstack.template import functions, layer_dirs
    from tests.integration.conftest import headers_for, lookup, post

    seeded = json.loads(os.environ["LEAK_SEEDED"])
    conversation = os.environ["LEAK_CONVERSATION"]
    api_key = os.environ["FASTAPI_INSURANCE_API_KEY"]
    handlers = {
        spec.logical_id: load_handler(spec, extra_paths=layer_dirs())
        for spec in functions().values()
    }
    statuses: dict[str, Any] = {}
    # An agent that puts secrets where they do not belong.
    careless = headers_for(
        conversation, Authorization=f"Bearer {api_key}", **{"X-Api-Key": api_key}
    )
    statuses["lookup"] = lookup(handlers["PolicyLookupFunction"], "POL-10001", careless).status
    statuses["denied"] = lookup(handlers["PolicyLookupFunction"], "POL-20001", careless).status

    dana, ravi = seeded
    description = (
        f"Call me on {dana['phone']} or {dana['email']}. SSN {dana['national_id']}, "
        f"DOB {dana['date_of_birth']}. My neighbour {ravi['email']} ({ravi['phone']}) saw it."
    )
    claim = {
        "policy_number": "POL-10001",
        "loss_date": (datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
        "loss_type": "collision",
        "description": description,
        "loss_location": f"outside the house of {ravi['national_id']}",
        "amount_claimed": {"amount": "950.00", "currency": "USD"},
    }
    filing = headers_for(conversation, **{"Idempotency-Key": f"leak-{conversation}"})
    statuses["claim"] = post(
        handlers["ClaimCreateFunction"], "ClaimCreateFunction", claim, filing | careless
    ).status
    statuses["summary"] = post(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {"policy_number": "POL-10001"},
        careless,
    ).status
    statuses["extra_fields"] = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim | {"date_of_birth": dana["date_of_birth"], "ssn": dana["national_id"]},
        filing,
    ).status

    direct = handlers["PolicyLookupFunction"]
    task = {"conversation_id": conversation, "customer_id": "cust-7788"}
    statuses["direct"] = sorted(direct(task | {"policy_number": "POL-10001"}, LambdaContext()))
    try:
        direct(task | {"policy_number": "POL-10001", "api_key": api_key}, LambdaContext())
    except Exception as exc:  # noqa: BLE001  -- the refusal is what this flow is about
        statuses["direct_refused"] = type(exc).__name__

    base_url = os.environ["FASTAPI_INSURANCE_BASE_URL"]
    admin = {"Authorization": f"Bearer {api_key}"}
    fault = {"path_prefix": "/v1/policies", "status": 500, "times": 10}
    httpx.post(f"{base_url}/_admin/faults", json=fault, headers=admin).raise_for_status()
    statuses["upstream_down"] = lookup(
        handlers["PolicyLookupFunction"], "POL-10001", careless
    ).status
    httpx.delete(f"{base_url}/_admin/faults", headers=admin).raise_for_status()

    # The same password, pointed at a port where no database listens.
    from insurance_agent.catalog import OPERATIONS
    from insurance_agent.entry import FunctionEntry
    from insurance_agent.runtime import ContainerRuntime
    from insurance_agent.settings import Settings

    dead = os.environ["DATABASE_URL"].rsplit("@", 1)[0] + f"@127.0.0.1:{free_port()}/none"
    entry = FunctionEntry(
        OPERATIONS["policy_lookup"],
        ContainerRuntime(Settings(database_url=dead, db_pool_timeout_s=0.5)),
    )
    statuses["database_down"] = lookup(entry.handler, "POL-10001", careless).status
    entry.runtime.close()
    for handler in handlers.values():
        function_entry = getattr(handler, "entry", None)  # the interceptor and scheduled ones
        if function_entry is not None:  # hold no container runtime
            function_entry.runtime.close()
    print("FLOWS " + json.dumps(statuses), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
