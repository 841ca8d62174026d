"""Owns the list of scenarios: which app and path, how wrk (or h2load, for HTTP/2) drives them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.paths import POST_CHUNKED_SCRIPT, POST_SCRIPT

BENCH_APP = "bench.app:app"


@dataclass(frozen=True)
class Scenario:
    """One load shape against one app."""

    name: str
    description: str
    app: str
    path: str
    connections: int
    headers: tuple[str, ...] = ()
    script: Path | None = None
    idle_connections: int = 0
    """Idle keep-alive connections held open by a helper during the run."""
    lifecycle: bool = False
    """Two worker processes, reloaded, one killed, then stopped under load
    (``bench/lifecycle.py``); only for servers with a lifecycle command."""
    streams: int = 0
    """Concurrent HTTP/2 streams per connection: above 0, h2load drives the scenario over
    cleartext HTTP/2 with prior knowledge (``bench/h2load.py``), only for servers with an
    HTTP/2 command."""
    body_bytes: int = 0
    """Request body h2load posts on every stream (wrk's bodies come from ``script``)."""

    @property
    def http2(self) -> bool:
        return self.streams > 0


IDLE_CONNECTIONS = 10_000
POST_BODY_BYTES = 64 * 1024
"""The ``post`` scenarios' request body (``bench/post.lua`` builds the same for wrk)."""
H2_CONNECTIONS = 10
H2_STREAMS = 10
"""10 connections x 10 streams: 100 requests in flight, as issue 18 asks."""

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("hello", "13-byte body, keep-alive", BENCH_APP, "/", 50),
        Scenario(
            "close",
            "13-byte body, Connection: close on every request",
            BENCH_APP,
            "/",
            50,
            headers=("Connection: close",),
        ),
        Scenario("big", "1 MiB body from 16 x 64 KiB chunks", BENCH_APP, "/big", 16),
        Scenario("big-file", "1 MiB body via wsgi.file_wrapper", BENCH_APP, "/big-file", 16),
        Scenario(
            "post", "64 KiB request body echoed back", BENCH_APP, "/echo", 16, script=POST_SCRIPT
        ),
        Scenario(
            "post-chunked",
            "the same 64 KiB body, sent chunked, echoed back",
            BENCH_APP,
            "/echo",
            16,
            script=POST_CHUNKED_SCRIPT,
        ),
        Scenario(
            "h2",
            "13-byte body over cleartext HTTP/2",
            BENCH_APP,
            "/",
            H2_CONNECTIONS,
            streams=H2_STREAMS,
        ),
        Scenario(
            "h2-post",
            "64 KiB request body echoed back over cleartext HTTP/2",
            BENCH_APP,
            "/echo",
            H2_CONNECTIONS,
            headers=(
                "content-type: application/octet-stream",
                f"x-expect-length: {POST_BODY_BYTES}",
            ),
            streams=H2_STREAMS,
            body_bytes=POST_BODY_BYTES,
        ),
        Scenario("sleep", "app sleeps 10 ms (ideal 10,000 req/s)", BENCH_APP, "/sleep", 100),
        Scenario(
            "idle",
            f"hello with {IDLE_CONNECTIONS:,} idle keep-alive connections open",
            BENCH_APP,
            "/",
            50,
            idle_connections=IDLE_CONNECTIONS,
        ),
        Scenario(
            "lifecycle",
            "2 workers under load: 2 reloads, SIGKILL of a worker, then TERM",
            BENCH_APP,
            "/",
            16,
            lifecycle=True,
        ),
        Scenario("flask", "Flask template page", "bench.frameworks.flask_app:app", "/", 50),
        Scenario("django", "Django template page", "bench.frameworks.django_app:app", "/", 50),
        Scenario(
            "django-db",
            "Django page from 3 SQLite queries",
            "bench.frameworks.django_db_app:app",
            "/",
            50,
        ),
    )
}
