"""``make run``: the local stack, and the three functions behind http://127.0.0.1:3000.

Finds PostgreSQL, applies migrations, starts the reference insurance service, loads each
function's handler from template.yaml the way Lambda does and serves the HTTP API routes
behind a JWT authorizer whose signing key is made for this run (``make token`` signs with it).
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from devstack.dev_identity import IDENTITY_FILE, DevIdentityProvider, dev_issuer
from devstack.lambda_runtime import load_handler, resolve_environment
from devstack.local_api import LocalApi
from devstack.schedules import Schedules
from devstack.stack import local_stack
from devstack.stack_env import remove_stack_env, write_sam_env, write_stack_env
from devstack.template import functions, layer_dirs

EXAMPLES = """\
  curl -s http://127.0.0.1:{port}/policies/POL-10001 -H 'X-Conversation-Id: conv-001' \\
       -H "Authorization: Bearer $(make -s token CUSTOMER=cust-7788)"
  curl -s -X POST http://127.0.0.1:{port}/claims -H 'Content-Type: application/json' \\
       -H "Authorization: Bearer $(make -s token CUSTOMER=cust-7788)" \\
       -H 'X-Conversation-Id: conv-001' -H 'Idempotency-Key: demo-claim-0001' \\
       -d '{{"policy_number":"POL-10001","loss_date":"{today}","loss_type":"collision",\\
"description":"Parking lot scrape","amount_claimed":{{"amount":"1250.00","currency":"USD"}}}}'
  curl -s -X POST http://127.0.0.1:{port}/agent/claim-summary -H 'Content-Type: application/json' \\
       -H "Authorization: Bearer $(make -s token AGENT=1)" \\
       -H 'X-Conversation-Id: conv-001' -H 'X-Customer-Id: cust-7788' \\
       -d '{{"policy_number":"POL-10001","claim_id":"CLM-000102"}}'
  make trail CONVERSATION=conv-001"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--reference-port", type=int, default=8081)
    parser.add_argument("--database", default="insurance_agent")
    args = parser.parse_args(argv)

    def stop(signum: int, frame: FrameType | None) -> None:
        # `uv run` forwards the signal it got too: take the first, let shutdown finish.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with local_stack(args.database, reference_port=args.reference_port) as stack:
        env = stack.function_env()
        specs = functions()
        for spec in specs.values():
            os.environ.update(resolve_environment(spec, env))
        layers = list(layer_dirs())
        bound = [(spec, load_handler(spec, extra_paths=layers)) for spec in specs.values()]
        identity = DevIdentityProvider.generate(dev_issuer(args.port))
        server = LocalApi(bound, authorizer=identity.authorizer()).serve(port=args.port)
        identity.save()
        stack_env = write_stack_env(env)
        write_sam_env(env)
        schedules = Schedules(stack.database_url).start()
        from datetime import UTC, datetime

        print(f"postgres: {stack.postgres.source}; database {args.database}", flush=True)
        print(f"reference insurance service: {stack.reference.url}", flush=True)
        print(f"function environment for `make invoke`: {stack_env}", flush=True)
        print(
            f"JWT issuer {identity.issuer}, audience {identity.audience}; tokens for this run: "
            "make -s token CUSTOMER=cust-7788 | make -s token AGENT=1",
            flush=True,
        )
        print(schedules.describe(), flush=True)
        print(
            f"ready: http://127.0.0.1:{args.port} serving "
            + ", ".join(f"{r.method} {r.path}" for s in specs.values() for r in s.routes)
            + "\ntry:\n"
            + EXAMPLES.format(port=args.port, today=datetime.now(UTC).date().isoformat()),
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping", file=sys.stderr, flush=True)
        finally:
            schedules.stop()
            server.server_close()
            remove_stack_env()
            remove_stack_env(IDENTITY_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
