"""Recycling workers (max-requests, lifetime, memory), --reload on file changes, and --preload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.server.helpers import RawClient, get
from tests.supervisor.conftest import Start
from tests.supervisor.helpers import write_app

pytestmark = pytest.mark.slow


def pid_of(address: tuple[str, int]) -> int:
    with RawClient(address) as client:
        body = client.request(get()).body.decode()
    return int(body.split()[1])


def test_max_requests_recycles_the_worker_after_starting_its_replacement(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--max-requests", "2", "app:app")
    address = server.address()
    first = pid_of(address)
    assert pid_of(address) == first
    server.wait_for(rf"worker {first}: served 2 requests \(max_requests\); asking to be recycled")
    ready = server.wait_for(r"worker (\d+) ready", count=2)
    stopped = server.wait_for(rf"worker {first} stopped")
    assert server.lines.index(ready.string) < server.lines.index(stopped.string)
    assert pid_of(address) == int(ready.group(1))
    assert server.stop() == 0


def test_max_worker_lifetime_recycles(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--max-worker-lifetime", "1", "app:app")
    address = server.address()
    first = pid_of(address)
    server.wait_for(rf"worker {first}: alive \d+s \(max_worker_lifetime\)")
    server.wait_for(rf"worker {first} stopped")
    assert pid_of(address) != first
    assert server.stop() == 0


GROWING_APP = """
import os

kept = []


def app(environ, start_response):
    if environ["PATH_INFO"] == "/grow":
        kept.append(b"g" * (300 << 20))  # written, so resident
    start_response("200 OK", [])
    return [b"pid %d" % os.getpid()]
"""


def test_max_worker_memory_recycles(start: Start, app_dir: Path) -> None:
    # A worker that grows past the limit after loading the app (one that starts over it is
    # spared: a new one would be no smaller; tests/supervisor/test_units.py).
    (app_dir / "growing.py").write_text(GROWING_APP)
    server = start("--bind", "127.0.0.1:0", "--max-worker-memory", "200", "growing:app")
    address = server.address()
    first = pid_of(address)
    with RawClient(address) as client:
        assert client.request(get("/grow")).status == 200
    server.wait_for(rf"worker {first}: resident memory \d+ MiB \(max_worker_memory\)")
    server.wait_for(rf"worker {first} stopped")
    assert pid_of(address) != first
    assert server.stop() == 0


def test_reload_restarts_workers_on_change_and_survives_a_syntax_error(
    start: Start, app_dir: Path
) -> None:
    server = start("--bind", "127.0.0.1:0", "--reload", "app:app")
    address = server.address()
    write_app(app_dir, "v2")
    server.wait_for(r"reloading: app\.py changed")
    server.wait_for("reload complete")
    with RawClient(address) as client:
        assert client.request(get()).body.startswith(b"v2 ")
    mark = server.mark()
    write_app(app_dir, source="def app(:\n")
    failed = server.wait_for("reload failed, the old workers keep serving", after=mark)
    assert "SyntaxError" in failed.string
    assert "app.py" in failed.string
    with RawClient(address) as client:
        assert client.request(get()).body.startswith(b"v2 ")
    write_app(app_dir, "v3")
    server.wait_for("reload complete", after=mark)
    with RawClient(address) as client:
        assert client.request(get()).body.startswith(b"v3 ")
    assert server.stop() == 0


def test_preload_imports_the_app_once_in_the_supervisor(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "--preload", "app:app")
    serving = server.wait_for(r"supervisor pid (\d+)")
    server.wait_for(r"worker \d+ ready", count=2)
    imports = [line for line in server.lines if line.startswith("imported in")]
    assert imports == [f"imported in {serving.group(1)}"]
    assert server.stop() == 0


def test_web_concurrency_sets_the_worker_count(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "app:app", env={"WEB_CONCURRENCY": "2"})
    assert re.search(r"with 2 worker\(s\)", server.wait_for("serving on").string)
    assert server.stop() == 0


STUBBORN_APP = """\
import os, time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/stubborn":
        # Swallows wsgiserver.RequestTimeout wherever it lands (an asynchronous exception can
        # arrive at any bytecode, the handler included): this thread never unwinds.
        while True:
            try:
                try:
                    while True:
                        time.sleep(0.01)
                except BaseException:
                    pass
            except BaseException:
                pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"v1 {os.getpid()}".encode()]
"""


def test_thread_ignoring_request_timeout_gets_its_worker_recycled(
    start: Start, app_dir: Path
) -> None:
    # docs/observability.rst: past --interrupt-timeout, a worker whose thread did not unwind
    # asks to be recycled; its replacement starts and serves before it is stopped.
    write_app(app_dir, source=STUBBORN_APP)
    server = start(
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "2",
        "--request-timeout",
        "0.5",
        "--interrupt-timeout",
        "0.5",
        "--graceful-timeout",
        "1",
        "app:app",
    )
    address = server.address()
    with RawClient(address) as client:
        response = client.request(get("/stubborn"))
    assert response.status == 504
    stuck = server.wait_for(r"worker (\d+): a thread ignored RequestTimeout past interrupt_timeout")
    server.wait_for(rf"worker {stuck.group(1)} stopped")
    assert pid_of(address) != int(stuck.group(1))
    assert server.stop() == 0


def test_max_requests_counts_http2_streams(start: Start) -> None:
    pytest.importorskip("h2")
    from tests.http2.client import H2Client

    server = start(
        "--bind",
        "127.0.0.1:0",
        "--http2",
        "--max-requests",
        "3",
        "--max-requests-jitter",
        "0",
        "app:app",
    )
    address = server.address()
    with H2Client(address) as c:  # three streams on one connection: three requests
        pids = {int(c.get("/").body.split()[1]) for _ in range(3)}
    assert len(pids) == 1
    (first,) = pids
    server.wait_for(rf"worker {first}: served 3 requests \(max_requests\); asking to be recycled")
    server.wait_for(rf"worker {first} stopped")
    assert pid_of(address) != first
    assert server.stop() == 0
