"""PgBouncer in transaction pooling mode, the RDS Proxy stand-in, in front of Postgres for both
the functions and the reference service (``make load PGBOUNCER=1`` runs the long version)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from devstack.load import load_stack, run_load
from devstack.pgbouncer import pgbouncer, pooling_errors
from devstack.postgres import scratch_database
from devstack.stack import start_reference_service

REQUESTS = 600
CONTAINERS = 4


def test_pgbouncer_pools_by_transaction_so_server_side_prepared_statements_break(pg_server):
    """The stand-in is strict like RDS Proxy: a client that lets psycopg prepare statements
    (its default after 5 runs) fails through it. What the fixes below are checked against."""
    with (
        scratch_database(pg_server.url, "ia_pgb_probe") as url,
        pgbouncer({"probe": url}, pool_size=2) as bouncer,
    ):
        failures: list[str] = []

        def session(prepare: bool) -> None:
            kwargs = {} if prepare else {"prepare_threshold": None}
            with psycopg.connect(bouncer.url("probe", url), autocommit=True, **kwargs) as conn:
                for _ in range(12):
                    try:
                        conn.execute("SELECT %s::int + 1", (1,)).fetchone()
                    except psycopg.Error as exc:
                        failures.append(str(exc))

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(session, [False] * 6))
        assert failures == []
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(session, [True] * 6))
        assert failures
        # ... and the report's detector recognises each of them.
        assert len(pooling_errors("\n".join(failures))) == len(failures), failures[:3]


def test_the_reference_service_serves_through_a_transaction_pooler(pg_server):
    """reference_service: prepare_threshold=None, so many requests over pooled transactions
    never meet another connection's prepared statement (DuplicatePreparedStatement before)."""
    with scratch_database(pg_server.url, "ia_pgb_ref") as url:
        start_reference_service(url, reset=True).stop()  # seeded straight on the server
        with pgbouncer({"reference": url}, pool_size=2) as bouncer:
            reference = start_reference_service(bouncer.url("reference", url))
            try:
                with reference.admin() as client:

                    def get(_: int) -> int:
                        return client.get("/v1/policies/POL-10001").status_code

                    with ThreadPoolExecutor(8) as pool:
                        statuses = list(pool.map(get, range(200)))
                log = reference.log_path.read_text(errors="replace")
            finally:
                reference.stop()
            assert statuses == [200] * 200
            assert "DuplicatePreparedStatement" not in log
            assert bouncer.pooling_errors() == []


@pytest.mark.load
@pytest.mark.timeout(400)
def test_load_through_pgbouncer_with_a_restart_keeps_answers_and_audit_in_step(pg_server):
    with load_stack(pg_server.url, with_pgbouncer=True) as (cluster, audit_url, ref, bouncer):
        assert bouncer is not None
        report = run_load(
            cluster, audit_url, ref, requests=REQUESTS, containers=CONTAINERS, bouncer=bouncer
        )
        restarts = bouncer.restarts
    print("\n".join(report.lines()))
    assert restarts == 1
    assert report.requests == REQUESTS
    assert report.pooling_errors == []
    assert report.two_xx_without_ok_row == []
    assert report.ok_rows_without_two_xx == []
    assert report.answers_by_status.get(500, 0) == 0
    assert sum(n for s, n in report.answers_by_status.items() if 200 <= s < 300) > REQUESTS // 2
    assert report.pids_unchanged
    assert None not in report.recovery_s.values()
    assert report.chain_breaks == []
