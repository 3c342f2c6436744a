"""``make run``: the local stack, and the three functions behind http://127.0.0.1:3000.

Finds PostgreSQL, applies migrations, starts the reference insurance service, loads each
function's handler from template.yaml the way Lambda does and serves the HTTP API routes
behind a JWT authorizer whose signing key is made for this run (``make token`` signs with it).
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sys
from types import FrameType

from devstack.dev_api import DevApi
from devstack.dev_identity import IDENTITY_FILE, DevIdentityProvider, dev_issuer
from devstack.lambda_runtime import load_handler, resolve_environment
from devstack.mcp_gateway import MCP_PATH, McpGateway, client_config, gateway_for
from devstack.postgres import PostgresNotFound
from devstack.schedules import Schedules
from devstack.stack import chosen_database, local_stack
from devstack.stack_env import remove_stack_env, write_sam_env, write_stack_env
from devstack.template import functions, layer_dirs

# Each command on one line or continued with a backslash *outside* quotes, so it pastes into
# any shell; the JSON stays on one line. The claim's Idempotency-Key is made per run, so the
# banner's claim never collides with README's (another body under one key is a 409).
EXAMPLES = """\
  curl -s http://127.0.0.1:{port}/policies/POL-10001 -H 'X-Conversation-Id: conv-001' \\
       -H "Authorization: Bearer $(make -s token CUSTOMER=cust-7788)"
  curl -s -X POST http://127.0.0.1:{port}/claims -H 'Content-Type: application/json' \\
       -H "Authorization: Bearer $(make -s token CUSTOMER=cust-7788)" \\
       -H 'X-Conversation-Id: conv-001' -H 'Idempotency-Key: {claim_key}' \\
       -d '{claim_body}'
  curl -s -X POST http://127.0.0.1:{port}/agent/claim-summary -H 'Content-Type: application/json' \\
       -H "Authorization: Bearer $(make -s token AGENT=1)" \\
       -H 'X-Conversation-Id: conv-001' -H 'X-Customer-Id: cust-7788' \\
       -d '{{"policy_number":"POL-10001","claim_id":"CLM-000102"}}'
  make trail CONVERSATION=conv-001"""


def examples(port: int, *, today: str, claim_key: str) -> str:
    claim_body = json.dumps(
        {
            "policy_number": "POL-10001",
            "loss_date": today,
            "loss_type": "collision",
            "description": "Parking lot scrape",
            "amount_claimed": {"amount": "1250.00", "currency": "USD"},
        },
        separators=(",", ":"),
    )
    return EXAMPLES.format(port=port, claim_key=claim_key, claim_body=claim_body)


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def refuse_taken_ports(port: int, reference_port: int) -> str | None:
    """One line naming a taken port and how to choose another, or None when both are free."""
    for value, variable, option in (
        (port, "PORT", "--port"),
        (reference_port, "REFERENCE_PORT", "--reference-port"),
    ):
        if port_taken(value):
            return (
                f"make run: port {value} on 127.0.0.1 is taken (another `make run`?); "
                f"choose another with `make run {variable}=<port>` ({option} <port>)"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    parser.add_argument(
        "--reference-port", type=int, default=int(os.environ.get("REFERENCE_PORT") or 8081)
    )
    parser.add_argument(
        "--database",
        default=None,
        help="database name (default: the one DATABASE_URL names, else insurance_agent)",
    )
    args = parser.parse_args(argv)
    refused = refuse_taken_ports(args.port, args.reference_port)
    if refused:
        print(refused, file=sys.stderr, flush=True)
        return 2
    try:
        return serve(args.port, args.reference_port, chosen_database(args.database))
    except PostgresNotFound as exc:
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        return 2


def serve(port: int, reference_port: int, database: str) -> int:
    def stop(signum: int, frame: FrameType | None) -> None:
        # `uv run` forwards the signal it got too: take the first, let shutdown finish.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with local_stack(database, reference_port=reference_port) as stack:
        env = stack.function_env()
        # Your own upstream: the functions call it instead of the reference service (which
        # still runs, for the seeded data's admin tools); its key from the environment only.
        own_upstream = os.environ.get("UPSTREAM_URL")
        if own_upstream:
            env["FASTAPI_INSURANCE_BASE_URL"] = own_upstream
            env["FASTAPI_INSURANCE_API_KEY"] = os.environ.get("UPSTREAM_API_KEY", "")
        specs = functions()
        for spec in specs.values():
            os.environ.update(resolve_environment(spec, env))
        layers = list(layer_dirs())
        bound = [(spec, load_handler(spec, extra_paths=layers)) for spec in specs.values()]
        identity = DevIdentityProvider.generate(dev_issuer(port))
        api = DevApi(
            bound,
            authorizer=identity.authorizer(),
            database_url=stack.database_url,
            upstream_url=env["FASTAPI_INSURANCE_BASE_URL"],
            log=request_log,
        )
        handlers = {spec.logical_id: handler for spec, handler in bound}
        gateway: McpGateway | None = None
        try:
            gateway = gateway_for(
                specs, handlers, authorizer=identity.authorizer(), containers=api.containers()
            )
        except LookupError as missing:  # a template without the interceptor: say so, serve HTTP
            print(f"MCP gateway NOT mounted: {missing}", file=sys.stderr, flush=True)
        else:
            api.mount(MCP_PATH, gateway.start())
        try:
            server = api.serve(port=port)
        except OSError as exc:
            print(
                f"make run: cannot listen on 127.0.0.1:{port}: {exc.strerror}; "
                "choose another with `make run PORT=<port>`",
                file=sys.stderr,
                flush=True,
            )
            return 2
        identity.save()
        stack_env = write_stack_env(env)
        write_sam_env(env)
        schedules = Schedules(stack.database_url).start()
        from datetime import UTC, datetime

        print(f"postgres: {stack.postgres.source}; database {database}", flush=True)
        print(f"reference insurance service: {stack.reference.url}", flush=True)
        if own_upstream:
            print(f"upstream: {own_upstream} (UPSTREAM_URL; the functions call it)", flush=True)
        print(f"function environment for `make invoke`: {stack_env}", flush=True)
        print(
            f"JWT issuer {identity.issuer}, audience {identity.audience}; tokens for this run: "
            "make -s token CUSTOMER=cust-7788 | make -s token AGENT=1",
            flush=True,
        )
        print(schedules.describe(), flush=True)
        print(
            f"ready: http://127.0.0.1:{port} serving "
            + ", ".join(f"{r.method} {r.path}" for s in specs.values() for r in s.routes)
            + f"\nAPI page: http://127.0.0.1:{port}/docs   health: http://127.0.0.1:{port}/health"
            + "\ntry:\n"
            + examples(
                port,
                today=datetime.now(UTC).date().isoformat(),
                claim_key=f"banner-claim-{secrets.token_hex(4)}",
            ),
            flush=True,
        )
        if gateway is not None:
            mcp_url = f"http://127.0.0.1:{port}{MCP_PATH}"
            print(
                f"MCP: {mcp_url} (streamable HTTP, "
                f"{sum(len(t.tools) for t in gateway.targets.values())} tools), e.g.\n"
                + client_config(mcp_url, "make -s token AGENT=1"),
                flush=True,
            )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping", file=sys.stderr, flush=True)
        finally:
            schedules.stop()
            server.server_close()
            if gateway is not None:
                gateway.close()
            remove_stack_env()
            remove_stack_env(IDENTITY_FILE)
    return 0


def request_log(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
