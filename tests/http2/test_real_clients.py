"""HTTP/2 with real clients: curl, nghttp, h2load and httpx, over TLS (ALPN h2) and h2c.

The strict test client of tests/http2/client.py is built on h2, the library the server is
built on too; these clients are independent implementations (nghttp2 in C for curl, nghttp
and h2load; h2 again under httpx, but driven by httpcore's connection handling). Each test
checks what the client saw (its own report of the protocol, bodies, hashes) and what the
server recorded (HTTP/2 in its access records). A test is skipped only when its tool is not
installed, and fails instead when CI is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.http2.helpers import (
    BOUND,
    App,
    Environ,
    StartResponse,
    h2_context,
    h2c_server,
    tls_server,
)
from tests.tls.helpers import Certs
from wsgiserver.server.server import ProcessRole
from wsgiserver.testing import RunningServer

MIB = 1 << 20
TOOL_LIMIT = 60.0  # seconds a client process may run before the test fails


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (Debian: curl, nghttp2-client)")
        pytest.skip(f"{name} is not installed (Debian package: nghttp2-client or curl)")
    return path


def run(*argv: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=TOOL_LIMIT, check=False)
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout.decode("latin-1")


def digest_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answers with what it received: protocol, method, declared length, size and sha256."""
    body = environ["wsgi.input"].read()
    shown = {
        "protocol": environ["SERVER_PROTOCOL"],
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "content_length": environ.get("CONTENT_LENGTH"),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "port": environ["REMOTE_PORT"],
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(shown).encode()]


@dataclass
class Served:
    url: str  # https://127.0.0.1:PORT (ALPN h2) or http://127.0.0.1:PORT (h2c)
    running: RunningServer


@contextmanager
def server_for(transport: str, certs: Certs, app: App = digest_app) -> Iterator[Served]:
    """A server with HTTP/2 on; once the block ends, every request it recorded was HTTP/2."""
    context = tls_server(app, certs, threads=2) if transport == "tls" else h2c_server(app)
    with context as running:
        scheme = "https" if transport == "tls" else "http"
        yield Served(f"{scheme}://127.0.0.1:{running.port}", running)
    records = running.access_records
    assert records, "no request reached the server"
    assert {r.version for r in records} == {"2"}, [(r.target, r.version) for r in records]


def payload(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"z" * (size % 256)


TRANSPORTS = ["tls", "h2c"]


# -- curl --------------------------------------------------------------------------------


def curl_args(transport: str, certs: Certs) -> list[str]:
    """curl speaking HTTP/2 only: ALPN h2 over TLS (--http2 falls back to HTTP/1.1 when the
    server does not offer h2, which the version check catches), prior knowledge in clear."""
    version = (
        ["--http2", "--cacert", certs.ca] if transport == "tls" else ["--http2-prior-knowledge"]
    )
    return [tool("curl"), "-sS", "--fail-with-body", *version, "-w", "\n%{http_version}"]


def curl_json(argv: list[str], stdin: bytes | None = None) -> dict[str, object]:
    body, _, version = run(*argv, stdin=stdin).rpartition("\n")
    assert version == "2", f"curl spoke HTTP/{version}"
    shown: dict[str, object] = json.loads(body)
    return shown


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_curl_get_and_uploads(transport: str, certs: Certs, tmp_path: Path) -> None:
    data = payload(3 * MIB + 5)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    expected = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with server_for(transport, certs) as served:
        url, curl = served.url, curl_args(transport, certs)
        got = curl_json([*curl, url + "/get"])
        assert (got["protocol"], got["method"], got["size"]) == ("HTTP/2", "GET", 0)
        sized = curl_json([*curl, "--data-binary", f"@{upload}", url + "/sized"])
        assert sized | expected == sized
        assert sized["content_length"] == str(len(data))
        # `-T -` reads stdin to its end: over HTTP/2 the body goes without a length, in DATA
        # frames until END_STREAM (RFC 9113 section 8.1).
        streamed = curl_json([*curl, "-X", "POST", "-T", "-", url + "/stdin"], stdin=data)
        assert streamed | expected == streamed
        assert streamed["method"] == "POST"
        # The server received it whole before the app ran, and gave the app its length.
        assert streamed["content_length"] == str(len(data))
        sent = served.running.wait_for_requests(3)
    # In any order: a record is written just after its response, when curl may have gone on.
    lengths = [r.request_header("content-length") for r in sent]
    assert sorted(lengths, key=str) == sorted([None, str(len(data)), None], key=str)


# -- nghttp ------------------------------------------------------------------------------


def nghttp_args() -> list[str]:
    """nghttp uses prior knowledge for http:// URIs unless told to upgrade (-u)."""
    return [tool("nghttp"), "--no-dep", "-t", str(int(TOOL_LIMIT))]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nghttp_concurrent_requests_on_one_connection(transport: str, certs: Certs) -> None:
    with server_for(transport, certs) as served:
        out = run(*nghttp_args(), "-m", "8", served.url + "/many")
    replies = [json.loads(line) for line in re.findall(r"\{[^}]*\}", out)]
    assert len(replies) == 8, out
    assert {r["protocol"] for r in replies} == {"HTTP/2"}
    assert len({r["port"] for r in replies}) == 1, "nghttp -m uses one connection"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nghttp_upload(transport: str, certs: Certs, tmp_path: Path) -> None:
    data = payload(MIB + 3)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    with server_for(transport, certs) as served:
        out = run(*nghttp_args(), "-d", str(upload), served.url + "/upload")
    shown = json.loads(out)
    assert (shown["method"], shown["size"]) == ("POST", len(data))
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()


class SlowAndFast:
    """/slow answers only once /fast has been answered in full: its iterable's close() runs
    after the server sent the last byte. If the server served the connection's streams one
    after another, /slow would hold the connection, /fast would never start, and /slow would
    give up after BOUND seconds with a 500."""

    def __init__(self) -> None:
        self.slow_entered = threading.Event()
        self.fast_done = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            self.slow_entered.set()
            released = self.fast_done.wait(BOUND)
            start_response("200 OK" if released else "500 Blocked", [])
            return [b"slow\n" if released else b"blocked\n"]
        start_response("200 OK", [])
        return Finished([b"fast\n"], self.fast_done)


class Finished(list[bytes]):
    def __init__(self, chunks: list[bytes], done: threading.Event) -> None:
        super().__init__(chunks)
        self.done = done

    def close(self) -> None:
        self.done.set()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_slow_stream_does_not_hold_back_a_fast_one(transport: str, certs: Certs) -> None:
    app = SlowAndFast()
    with server_for(transport, certs, app) as served:
        # Both requests go at once over one connection, /slow first.
        out = run(*nghttp_args(), "-v", served.url + "/slow", served.url + "/fast")
    bodies = [line for line in out.splitlines() if line in ("slow", "fast", "blocked")]
    assert bodies == ["fast", "slow"], out[-3000:]
    streams = re.findall(r"recv HEADERS frame <length=\d+, flags=0x\d+, stream_id=(\d+)>", out)
    assert len(set(streams)) == 2, "both requests on one connection"


# -- h2load -------------------------------------------------------------------------------

H2LOAD_RESULT = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]


@pytest.mark.parametrize(("transport", "count"), [("h2c", 2000), ("tls", 200)])
def test_h2load_every_request_succeeds(transport: str, count: int, certs: Certs) -> None:
    h2load = tool("h2load")
    with server_for(transport, certs, hello) as served:
        out = run(h2load, "-n", str(count), "-c", "10", "-m", "10", served.url + "/")
    match = H2LOAD_RESULT.search(out)
    assert match is not None, out
    total, started, done, succeeded, failed, errored, timeout = map(int, match.groups())
    assert (total, started, done, succeeded) == (count,) * 4, out
    assert (failed, errored, timeout) == (0, 0, 0), out
    assert f"status codes: {count} 2xx, 0 3xx, 0 4xx, 0 5xx" in out
    assert "Application protocol: h2" in out


# -- httpx --------------------------------------------------------------------------------


def test_httpx_over_tls_with_concurrent_requests(certs: Certs) -> None:
    """Sixteen uploads at once on one HTTP/2 connection over TLS, from httpx's async client.

    Not from threads sharing a sync client: httpcore (1.0.9) takes a stream id and sends
    that stream's HEADERS without a lock between them, so two threads can open stream 9
    before stream 5, and a server must then end the connection with PROTOCOL_ERROR (RFC
    9113 section 5.1.1; the server logged `StreamIDTooLowError: 5 is lower than 9`). That
    made this test fail about once in fifty runs on a loaded machine, for the client's bug.
    """
    data = payload(50_000)  # received before the app runs (below --prebuffer)
    digest = hashlib.sha256(data).hexdigest()

    async def requests(base: str) -> tuple[httpx.Response, list[httpx.Response]]:
        async with httpx.AsyncClient(http2=True, verify=h2_context(certs), timeout=BOUND) as client:
            first = await client.get(base + "/first")
            posts = [client.post(f"{base}/{n}", content=data) for n in range(16)]
            return first, list(await asyncio.gather(*posts))

    with tls_server(digest_app, certs, threads=4) as running:
        first, responses = asyncio.run(requests(f"https://127.0.0.1:{running.port}"))
    assert first.http_version == "HTTP/2"
    assert [r.http_version for r in responses] == ["HTTP/2"] * 16
    shown = [r.json() for r in responses]
    assert [s["path"] for s in shown] == [f"/{n}" for n in range(16)]
    assert {s["sha256"] for s in shown} == {digest}
    # One connection for all of them: the client multiplexed the requests.
    assert {s["port"] for s in shown} == {first.json()["port"]}


def test_httpx_h2c_prior_knowledge_streams_interleave() -> None:
    app = SlowAndFast()
    with (
        h2c_server(app) as running,
        httpx.Client(http1=False, http2=True, timeout=30) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        slow = pool.submit(client.get, running.url + "/slow")
        assert app.slow_entered.wait(BOUND)  # /slow is in the app, holding its thread
        fast = client.get(running.url + "/fast")
        assert (fast.status_code, fast.text, fast.http_version) == (200, "fast\n", "HTTP/2")
        assert (slow.result().status_code, slow.result().text) == (200, "slow\n")


def test_httpx_streams_in_flight_at_a_graceful_stop_all_get_their_responses() -> None:
    """httpx (through h2 and httpcore) fails every stream still open when a GOAWAY comes,
    even those the GOAWAY says will be answered: a black-box probe lost 38 of 40 requests
    at a graceful stop, and half of them at each worker recycle. The GOAWAY now waits for
    the connection's streams to end."""
    count = 6
    entered = threading.Semaphore(0)
    release = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        entered.release()
        assert release.wait(BOUND)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with (
        h2c_server(app, threads=count, process=ProcessRole(drain=True)) as running,
        httpx.Client(http1=False, http2=True, timeout=BOUND) as client,
        ThreadPoolExecutor(count) as pool,
    ):
        paths = [f"/{i}" for i in range(count)]
        futures = [pool.submit(client.get, running.url + path) for path in paths]
        for _ in paths:
            assert entered.acquire(timeout=BOUND)  # every stream is in the app
        stopper = threading.Thread(target=running.server.shutdown)
        stopper.start()
        assert running.server._stopping.wait(BOUND)  # the connection is marked closing
        release.set()
        assert [(f.result().status_code, f.result().text) for f in futures] == [
            (200, path) for path in paths
        ]
        stopper.join(BOUND)
        assert not stopper.is_alive()


def test_concurrent_large_uploads_on_one_connection_all_arrive(tmp_path: Path) -> None:
    # Eight 1 MiB uploads at a time on one connection, more than the pool's threads: each
    # stream's app blocks reading its body, which only a thread serving the connection can
    # receive. Every upload must arrive whole (a stall ends in 408s, at body_timeout).
    h2load = tool("h2load")
    upload = tmp_path / "upload.bin"
    upload.write_bytes(payload(MIB))
    for _ in range(3):  # the stall this guards against was intermittent
        with h2c_server(digest_app, threads=4, body_timeout=5) as srv:
            out = run(h2load, "-n", "16", "-c", "1", "-m", "8", "-d", str(upload), srv.url + "/")
        # Read once the server has stopped: a record is written after its response ends.
        assert "status codes: 16 2xx, 0 3xx, 0 4xx, 0 5xx" in out, out
        assert [(r.status, r.request_bytes) for r in srv.access_records] == [(200, MIB)] * 16
