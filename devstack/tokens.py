"""Print a development access token for the running local stack (``make run``).

    python -m devstack.tokens customer cust-7788     # acts only on cust-7788's policies
    python -m devstack.tokens agent                  # acts for any customer it names
    make -s token CUSTOMER=cust-7788 / make -s token AGENT=1

Only the token goes to stdout, so ``-H "Authorization: Bearer $(make -s token ...)"`` works.
"""

from __future__ import annotations

import argparse
import sys

from devstack.dev_identity import (
    DEFAULT_TTL_S,
    DevIdentityProvider,
    agent_identity,
    customer_identity,
)
from devstack.stack_env import StackNotRunning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(dest="kind", required=True)
    customer = kinds.add_parser("customer", help="a customer's token (a customer_id claim)")
    customer.add_argument("customer_id", help="e.g. cust-7788")
    agent = kinds.add_parser("agent", help="an agent's token (the insurance/agent scope)")
    for sub in (customer, agent):
        sub.add_argument("--subject", help="the token's sub claim")
        sub.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds until it expires")
    args = parser.parse_args(argv)

    try:
        provider = DevIdentityProvider.load()
    except StackNotRunning as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.kind == "customer":
        identity = customer_identity(args.customer_id, args.subject)
    else:
        identity = agent_identity(args.subject or "dev-agent")
    print(provider.token(identity, ttl_s=args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
