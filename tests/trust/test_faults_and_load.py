"""Bounded load with faults (``make load`` prints the same figures): Lambda-like containers
keep answering while Postgres restarts and the upstream is killed; afterwards the answers and
the audit trail agree exactly, the pools recovered in place, and no container ever held more
than one connection."""

from __future__ import annotations

import pytest

from devstack.load import load_stack, run_load

REQUESTS = 3000
CONTAINERS = 4


@pytest.mark.load
def test_answers_and_audit_agree_through_a_postgres_restart_and_an_upstream_kill(pg_server):
    with load_stack(pg_server.url) as (cluster, audit_url, reference, _bouncer):
        report = run_load(cluster, audit_url, reference, requests=REQUESTS, containers=CONTAINERS)
    print("\n".join(report.lines()))

    assert report.requests == REQUESTS
    # Every 2xx answer has its ok row, and every ok row was answered 2xx.
    assert report.two_xx_without_ok_row == []
    assert report.ok_rows_without_two_xx == []
    assert report.audit_by_outcome.get("ok", 0) == sum(
        n for status, n in report.answers_by_status.items() if 200 <= status < 300
    )
    # The faults were felt: every pool had to connect again, the upstream outage answered 5xx.
    assert all(p.get("connections_num", 0) >= 2 for p in report.pools.values()), report.pools
    assert any(status in (502, 503, 504) for status in report.answers_by_status)
    # ... and recovered without a new process: each container answered 2xx after both faults.
    assert report.pids_unchanged
    assert None not in report.recovery_s.values()
    assert all(n > 0 for n in report.answered_after_faults.values())
    # One connection per container at most, as sampled from pg_stat_activity.
    assert report.connection_samples > 0
    assert 1 <= report.peak_connections <= CONTAINERS
    assert report.chain_breaks == []
