"""The reference service serving from several processes (``--workers``, what `make bench`'s
"two-process upstream" section runs against): answers from every worker, no ``/_admin``, and
TCP_NODELAY on its connections, which uvicorn's own shared socket would lose."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

from devstack.stack import ReferenceService, start_reference_service
from reference_service.__main__ import _listening


def _nodelay_of_accepted(server_socket: socket.socket) -> int:
    """TCP_NODELAY on the transport asyncio makes for a connection accepted on the socket."""

    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=server_socket)
        port = server_socket.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()
            server.close()

    return asyncio.run(accept_one())


def test_the_workers_socket_keeps_nagle_off_where_uvicorns_would_not() -> None:
    ours = _listening("127.0.0.1", 0)
    ours.listen()
    assert _nodelay_of_accepted(ours) != 0
    # Why it exists: uvicorn's Config.bind_socket leaves the protocol unnamed (proto 0), and
    # asyncio then leaves Nagle on, so a keep-alive answer waits for a delayed ACK.
    theirs = uvicorn.Config("x:y", host="127.0.0.1", port=0).bind_socket()
    theirs.listen()
    assert _nodelay_of_accepted(theirs) == 0


def _workers(pid: int) -> list[int]:
    """The worker processes under ``pid`` (multiprocessing's resource tracker is not one)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def test_several_workers_answer_the_same_data_and_have_no_admin(
    database_url: str, reference: ReferenceService
) -> None:
    two = start_reference_service(database_url, api_key=reference.api_key, workers=2)
    try:
        assert two.workers == 2
        assert len(_workers(two.process.pid)) == 2
        with two.admin() as client, reference.admin() as one:
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda _: client.get("/v1/policies/POL-10001"), range(8)))
            assert {a.status_code for a in answers} == {200}
            assert answers[0].json() == one.get("/v1/policies/POL-10001").json()
            assert client.get("/_admin/stats").status_code in {401, 404}
            assert (
                client.get("/v1/policies/POL-10001", headers={"Authorization": "x"}).status_code
                == 401
            )
    finally:
        two.stop()
    assert two.process.poll() is not None


def test_admin_needs_one_worker(database_url: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reference_service",
            "--admin",
            "--workers",
            "2",
            "--database-url",
            database_url,
        ],
        env={"REFERENCE_API_KEY": "k", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--workers 1" in done.stderr
