"""WSGI over HTTP/2 streams, end to end over sockets with a strict h2 client.

Each stream is one WSGI call with a complete environ; bodies go both ways with flow control;
the response follows PEP 3333 (file_wrapper, close(), write(), early hints); errors end the
stream, never the connection; and streams of one connection do not wait for each other.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from h2.settings import SettingCodes

from tests.http2.client import Reply
from tests.http2.helpers import (
    BOUND,
    Environ,
    Gate,
    StartResponse,
    client,
    echo,
    environ_app,
    h2c_server,
)
from wsgiserver.http2.connection import INTERNAL_ERROR, PROTOCOL_ERROR
from wsgiserver.transport.channel import SEND_FILE_BLOCK

MIB = 1 << 20


def test_a_stream_gets_a_complete_environ() -> None:
    with h2c_server(environ_app) as srv, client(srv) as c:
        reply = c.get(
            "/caf%C3%A9/x?q=1&r=%20",
            headers=[
                ("cookie", "a=1"),
                ("x-custom", "value"),
                ("cookie", "b=2"),
            ],
            authority="example.test:8443",
        )
        assert reply.status == 200
        environ = json.loads(reply.body)
        assert environ == {
            "SERVER_PROTOCOL": "HTTP/2",
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/caf\xc3\xa9/x",
            "QUERY_STRING": "q=1&r=%20",
            "REQUEST_URI": "/caf%C3%A9/x?q=1&r=%20",
            "HTTP_HOST": "example.test:8443",
            "HTTP_COOKIE": "a=1; b=2",  # RFC 9113 section 8.2.3: joined with "; "
            "HTTP_X_CUSTOM": "value",
            "CONTENT_LENGTH": None,
            "CONTENT_TYPE": None,
            "REMOTE_ADDR": "127.0.0.1",
            "SCRIPT_NAME": "",
            "wsgi.url_scheme": "http",
            "HTTPS": None,
            "wsgiserver.request_id": environ["wsgiserver.request_id"],  # generated
            "body": "",
            "early_hints": True,
            "disconnected": False,
        }
        assert reply.header(b"content-type") == b"application/json"
        assert reply.header(b"date") is not None
        assert reply.header(b"server") == b"wsgiserver"
    record = srv.access_records[0]
    assert (record.version, record.method, record.status) == ("2", "GET", 200)
    assert srv.access_lines("common")[0].endswith(
        f'"GET /caf%C3%A9/x?q=1&r=%20 HTTP/2" 200 {len(reply.body)}'
    )


def test_forwarded_fields_request_ids_and_https_from_a_trusted_proxy() -> None:
    """Over h2c from a trusted hop (a TLS-terminating proxy), the client's address, the
    request id and :scheme https count, as X-Forwarded-* and absolute URIs do on HTTP/1.1."""
    with h2c_server(environ_app, echo_request_id=True) as srv, client(srv) as c:
        reply = c.get(
            "/",
            scheme="https",
            headers=[("x-forwarded-for", "203.0.113.9"), ("x-request-id", "abc-123")],
        )
        environ = json.loads(reply.body)
        assert environ["REMOTE_ADDR"] == "203.0.113.9"
        assert environ["wsgi.url_scheme"] == "https"
        assert environ["wsgiserver.request_id"] == "abc-123"
        assert reply.header(b"x-request-id") == b"abc-123"


def test_the_servers_own_500_echoes_the_request_id() -> None:
    # Over HTTP/1.1 it did; the stream's answer went out without it.
    def failing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise RuntimeError("boom")

    with h2c_server(failing, echo_request_id=True) as srv, client(srv) as c:
        reply = c.get("/", headers=[("x-request-id", "rid-500")])
        srv.take_app_errors()
    assert reply.status == 500
    assert reply.header(b"x-request-id") == b"rid-500"


def test_the_same_from_an_untrusted_peer_is_ignored() -> None:
    with h2c_server(environ_app, h2c="all", forwarded_allow_ips="192.0.2.1") as srv:
        with client(srv) as c:
            reply = c.get("/", scheme="https", headers=[("x-forwarded-for", "203.0.113.9")])
        environ = json.loads(reply.body)
        assert environ["REMOTE_ADDR"] == "127.0.0.1"
        assert environ["wsgi.url_scheme"] == "http"
        assert environ["wsgiserver.request_id"] not in (None, "")  # generated here


@pytest.mark.parametrize(
    ("size", "declared"),
    [
        pytest.param(1000, True, id="small-received-first"),
        pytest.param(3 * MIB + 7, True, id="large-pulled-with-flow-control"),
        pytest.param(5000, False, id="no-length-spooled"),
        pytest.param(2 * MIB, False, id="no-length-spooled-to-a-file"),
    ],
)
def test_request_bodies_reach_the_app_whole(size: int, declared: bool) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    seen: list[str | None] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ.get("CONTENT_LENGTH"))
        digest = hashlib.sha256(environ["wsgi.input"].read()).hexdigest()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [digest.encode()]

    headers = [("content-length", str(size))] if declared else []
    with h2c_server(app, spool_threshold=MIB) as srv, client(srv) as c:
        reply = c.reply(c.request("/up", method="POST", headers=headers, body=payload))
        assert reply.status == 200
        assert reply.body.decode() == hashlib.sha256(payload).hexdigest()
    # A body of unannounced length is received whole first, so the app gets its length.
    assert seen == [str(size)]


def test_with_stream_chunked_a_body_of_unknown_length_is_read_to_its_end() -> None:
    seen: list[str | None] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ.get("CONTENT_LENGTH"))
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [str(len(body)).encode()]

    with h2c_server(app, stream_chunked=True) as srv, client(srv) as c:
        reply = c.reply(c.request("/", method="POST", body=b"z" * 300_000))
    assert reply.body == b"300000"
    assert seen == [None]


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "spooled"])
def test_a_body_over_max_body_size_is_413(declared: bool) -> None:
    headers = [("content-length", "70000")] if declared else []
    with h2c_server(echo, max_body_size=65536) as srv, client(srv) as c:
        stream = c.request("/", method="POST", headers=headers, end=False)
        if not declared:
            c.send_body(stream, b"a" * 70000)
        reply = c.reply(stream)
        assert reply.status == 413
        assert c.get("/after").status == 200  # the connection carries on
    # The 413's record is written just after its answer: /after may be recorded first.
    assert sorted(r.status for r in srv.access_records) == [200, 413]


def test_a_body_longer_than_its_content_length_is_cut_and_logged_as_over_http11() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "5")])
        yield from [b"12345", b"6789X"]  # of unknown length: cut while it streams

    with h2c_server(app) as srv, client(srv) as c:
        assert c.get("/long").body == b"12345"
        srv.wait_for_requests(1)  # recorded after the line is said
        said = [r.getMessage() for r in srv.log_records if r.levelname == "ERROR"]
        assert len(srv.take_app_errors()) == 1
    assert len(said) == 1
    assert said[0].endswith("application sent 5 bytes more than its Content-Length (GET /long)")


def test_a_refused_stream_from_a_trusted_proxy_keeps_its_id_and_client() -> None:
    headers = [
        ("content-length", "70000"),
        ("x-request-id", "from-proxy-8"),
        ("x-forwarded-for", "203.0.113.9"),
    ]
    with h2c_server(echo, max_body_size=65536) as srv, client(srv) as c:
        assert c.reply(c.request("/", method="POST", headers=headers, end=False)).status == 413
        (record,) = srv.wait_for_requests(1)
    assert record.request_id == "from-proxy-8"
    assert record.client == "203.0.113.9"


def test_a_slow_app_reading_its_body_does_not_stall_other_streams() -> None:
    """The upload of a stream whose app does not read is held by that stream's window only:
    another stream's upload and response go through meanwhile."""
    gate = threading.Event()
    entered = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/lazy":
            entered.set()
            assert gate.wait(BOUND)
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [str(len(body)).encode()]

    big = b"b" * (2 * MIB)
    with h2c_server(app, http2_initial_window_size=65535) as srv, client(srv) as c:
        lazy = c.request(
            "/lazy", method="POST", headers=[("content-length", str(len(big)))], end=False
        )
        c.send_body(lazy, big[:60000], end=False)  # within its window; the app reads none
        assert entered.wait(BOUND)
        other = c.reply(c.request("/other", method="POST", body=b"o" * 200_000))
        assert other.body == b"200000"
        gate.set()
        c.send_body(lazy, big[60000:])
        assert c.reply(lazy).body == str(len(big)).encode()


def test_body_bytes_an_app_never_read_are_given_back_to_the_connection_window() -> None:
    """An app that answers without reading its upload (a 401, a 413) leaves the received
    bytes unread; they still count against the connection's window (RFC 9113 section 6.9)
    until the server gives them back. Streams past the connection window's worth of such
    uploads must not find the connection stalled."""
    gate = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/refuse":
            assert gate.wait(BOUND)
            gate.clear()
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"no"]
        return echo(environ, start_response)

    window = 65535
    with h2c_server(app, http2_initial_window_size=window) as srv, client(srv) as c:
        for _ in range(6):  # the connection window is 4 stream windows
            stream = c.request(
                "/refuse", method="POST", headers=[("content-length", str(4 * MIB))], end=False
            )
            c.send_body(stream, b"r" * window, end=False)  # the whole stream window
            c.ping_and_wait()  # frames are taken in order: the body is on the server now
            gate.set()
            reply = c.reply(stream)
            assert reply.status == 401
        upload = b"u" * MIB
        reply = c.reply(c.request("/echo", method="POST", body=upload))
        assert reply.status == 200
        assert reply.body.endswith(upload)


def test_a_stream_the_client_resets_gives_its_unread_bytes_back_at_once() -> None:
    """Its app may run on for a while; what it can no longer read is given back to the
    connection's window when the reset arrives, not when the app returns."""
    gate = threading.Event()
    entered = threading.Semaphore(0)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/stuck":
            entered.release()
            # Longer than the client's read timeout: only the reset may free the window.
            assert gate.wait(3 * BOUND)
        return echo(environ, start_response)

    window = 65535
    with h2c_server(app, http2_initial_window_size=window) as srv, client(srv) as c:
        try:
            for _ in range(6):  # the connection window is 4 stream windows
                stream = c.request(
                    "/stuck", method="POST", headers=[("content-length", str(MIB))], end=False
                )
                assert entered.acquire(timeout=BOUND)
                c.send_body(stream, b"s" * window, end=False)
                c.reset(stream)
            upload = b"u" * MIB
            reply = c.reply(c.request("/echo", method="POST", body=upload))
            assert reply.status == 200
            assert reply.body.endswith(upload)
        finally:
            gate.set()


def test_a_body_whose_stream_is_reset_before_the_app_read_it_is_not_complete() -> None:
    """The whole body arrived (END_STREAM), then the client reset the stream: the app that
    reads it now must get an error, never an empty or short body that ends normally."""
    entered = threading.Event()
    go = threading.Event()
    seen: list[object] = []
    done = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        entered.set()
        assert go.wait(BOUND)
        try:
            seen.append(len(environ["wsgi.input"].read()))
        except Exception as exc:
            seen.append(exc)
        done.set()
        start_response("200 OK", [])
        return [b"x"]

    body = b"b" * 200_000  # over the prebuffer size: read as the app reads it
    with h2c_server(app, http2_initial_window_size=MIB) as srv, client(srv) as c:
        stream = c.request(
            "/", method="POST", headers=[("content-length", str(len(body)))], end=False
        )
        assert entered.wait(BOUND)
        c.send_body(stream, body, end=True)
        c.reset(stream)
        c.ping_and_wait()  # frames are taken in order: the body and the reset are in
        go.set()
        assert done.wait(BOUND)
    assert len(seen) == 1
    assert not isinstance(seen[0], int), f"the app read {seen[0]} bytes as a whole body"


def test_a_streamed_response_arrives_piece_by_piece() -> None:
    next_piece = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first "
        assert next_piece.wait(BOUND)
        yield b"second"

    with h2c_server(app) as srv, client(srv) as c:
        stream = c.request("/")
        reply = c.replies[stream]
        c.read_until(lambda: reply.body == b"first ")
        assert not reply.ended  # the first piece crossed the network on its own
        assert reply.header(b"content-length") is None
        next_piece.set()
        assert c.reply(stream).body == b"first second"


def test_a_large_response_waits_for_the_clients_window() -> None:
    """A client that opens its window as it reads (a small initial window) still gets every
    byte: the writer waits for WINDOW_UPDATE instead of overrunning it."""
    data = hashlib.sha256(b"seed").digest() * (MIB // 32)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [data[: MIB // 2], data[MIB // 2 :]]

    with h2c_server(app) as srv, client(srv, settings={4: 1000}) as c:  # INITIAL_WINDOW_SIZE
        reply = c.get("/")
    assert reply.body == data
    assert reply.header(b"content-length") == str(len(data)).encode()


def test_a_window_opened_by_settings_alone_resumes_the_response() -> None:
    """RFC 9113 section 6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE changes the window of every
    open stream at once. A client that starts at 0 and opens windows only that way must get
    its response then, not after --send-timeout."""
    data = b"w" * 5000

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [data]

    with h2c_server(app) as srv, client(srv, settings={4: 0}, auto_ack=False) as c:
        stream = c.request("/")
        reply = c.replies[stream]
        c.read_until(lambda: reply.status == 200)  # the head needs no window
        c.ping_and_wait()
        assert reply.body == b""
        c.conn.update_settings({4: 65535})
        c.flush()
        assert c.reply(stream).body == data


@pytest.mark.parametrize(
    ("method", "status", "body", "length"),
    [
        pytest.param("HEAD", "200 OK", b"", b"5", id="head"),
        pytest.param("GET", "204 No Content", b"", None, id="204"),
        pytest.param("GET", "304 Not Modified", b"", None, id="304"),
        pytest.param("GET", "200 OK", b"hello", b"5", id="200"),
    ],
)
def test_what_a_response_may_carry(
    method: str, status: str, body: bytes, length: bytes | None
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain")])
        return [b"hello"]

    with h2c_server(app) as srv, client(srv) as c:
        reply = c.get("/", method=method)
        assert (reply.status, reply.body, reply.ended) == (int(status[:3]), body, True)
        assert reply.header(b"content-length") == length
        # One HEADERS frame ended the stream when there was no body to send.
        if not body:
            headers = [e for e in c.events if type(e).__name__ == "ResponseReceived"]
            assert headers[0].stream_ended is not None  # type: ignore[attr-defined]


def test_file_wrapper_is_sent_in_data_frames(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    content = hashlib.sha256(b"file").digest() * 40_000  # 1.28 MB
    path.write_bytes(content)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapped: Iterable[bytes] = environ["wsgi.file_wrapper"](open(path, "rb"))  # noqa: SIM115 - closed by close()
        return wrapped

    with h2c_server(app) as srv, client(srv) as c:
        reply = c.get("/")
    assert reply.body == content
    assert reply.header(b"content-length") == str(len(content)).encode()


class Tracked:
    def __init__(self, pieces: list[bytes], fail_at: int | None = None) -> None:
        self.pieces = pieces
        self.fail_at = fail_at
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, piece in enumerate(self.pieces):
            if index == self.fail_at:
                raise RuntimeError("boom")
            yield piece

    def close(self) -> None:
        self.closed += 1


def test_app_errors_end_the_stream_and_close_is_always_called() -> None:
    made: list[Tracked] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/raise":
            raise RuntimeError("before the head")
        if path == "/header":
            start_response("200 OK", [("X-Token", "secret\n")])
            return [b"never sent"]
        start_response("200 OK", [])
        tracked = Tracked([b"one", b"two"], fail_at=1 if path == "/midway" else None)
        made.append(tracked)
        return tracked

    with h2c_server(app) as srv, client(srv) as c:
        failed = c.get("/raise")
        assert failed.status == 500
        assert failed.body.startswith(b"500 Internal Server Error")
        broken = c.get("/header")  # what the app got wrong is for the log, not the client
        assert broken.status == 500
        assert b"secret" not in broken.body
        assert b"error log" in broken.body
        midway = c.get("/midway")
        assert midway.reset == INTERNAL_ERROR  # after the head: the stream is reset
        assert midway.body == b"one"
        fine = c.get("/fine")  # the connection lives on
        assert fine.body == b"onetwo"
        errors = srv.take_app_errors()
    assert len(errors) == 3
    assert [t.closed for t in made] == [1, 1]
    assert sorted(r.status for r in srv.access_records) == [200, 200, 500, 500]


def test_write_callable_and_early_hints_over_http2() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.early_hints"]([("Link", "</s.css>; rel=preload; as=style")])
        environ["wsgi.early_hints"]([(b"Link", b"</a.js>; rel=preload; as=script")])
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        environ["wsgi.early_hints"]([("Link", "</late.css>")])  # too late: a no-op
        return [b"returned"]

    with h2c_server(app) as srv, client(srv) as c:
        reply = c.get("/")
    assert reply.interim == [
        (103, [(b"link", b"</s.css>; rel=preload; as=style")]),
        (103, [(b"link", b"</a.js>; rel=preload; as=script")]),
    ]
    assert (reply.status, reply.body) == (200, b"written returned")


def test_streams_do_not_wait_for_each_other() -> None:
    """No head-of-line blocking inside the server: with one stream stuck in the app, others
    on the same connection are answered (the pool adds a thread for the queued call)."""
    gate = Gate()
    with h2c_server(gate, threads=1) as srv, client(srv) as c:
        slow = c.request("/slow")
        assert gate.entered.wait(BOUND)
        fast = [c.request(f"/fast{i}") for i in range(5)]
        for stream in fast:
            assert c.reply(stream).status == 200
        assert not c.replies[slow].done
        gate.release.set()
        assert c.reply(slow).body == b"/slow"
    # Every fast stream finished while the slow one waited. (Among themselves they may
    # finish in any order: the pool may run two at once.)
    assert sorted(gate.order[:-1]) == [f"/fast{i}" for i in range(5)]
    assert gate.order[-1] == "/slow"


def test_many_streams_on_many_connections() -> None:
    with h2c_server(echo, threads=4) as srv:
        clients = [client(srv) for _ in range(4)]
        try:
            streams = [
                (c, c.request(f"/{n}", method="POST", body=str(n).encode() * 100))
                for n in range(25)
                for c in clients
            ]
            for c, stream in streams:
                reply = c.reply(stream)
                path = c.replies[stream]
                assert reply.status == 200, path
        finally:
            for c in clients:
                c.close()
    assert len(srv.access_records) == 100


def test_hooks_and_access_records_come_per_stream() -> None:
    seen: list[str] = []

    class Hooks:
        def on_request_start(self, environ: dict[str, Any]) -> None:
            seen.append("start " + environ["PATH_INFO"])

        def on_request_end(self, environ: dict[str, Any], record: Any) -> None:
            seen.append(f"end {record.target} {record.status}")

    with h2c_server(echo, hooks=Hooks()) as srv, client(srv) as c:
        for path in ("/a", "/b"):
            assert c.get(path).status == 200
        srv.wait_for_requests(2)
    # A stream's end hook runs just after its response went out: the next stream, on
    # another thread, may start before it.
    assert sorted(seen) == ["end /a 200", "end /b 200", "start /a", "start /b"]
    for path in ("/a", "/b"):
        assert seen.index(f"start {path}") < seen.index(f"end {path} 200")


def test_an_http11_request_on_an_http2_server_is_served_as_before() -> None:
    from tests.server.helpers import RawClient, get

    with h2c_server(echo) as srv, RawClient((srv.host, srv.port)) as raw:
        response = raw.request(get("/plain"))
        assert (response.version, response.status) == ("HTTP/1.1", 200)
        assert response.body.startswith(b"GET /plain 0")


def test_the_preface_may_arrive_byte_by_byte() -> None:
    with h2c_server(echo) as srv, client(srv, preface_byte_by_byte=True) as c:
        assert c.get("/bytes").body.startswith(b"GET /bytes 0")


def test_metrics_count_each_stream() -> None:
    from tests.metrics.promtext import value
    from tests.metrics.test_metrics import admin, scrape

    with h2c_server(echo, admin_bind="127.0.0.1:0") as srv, client(srv) as c:
        for path in ("/a", "/b", "/c"):
            assert c.get(path).status == 200
        # Each stream is counted once its response is over, just after the client has it.
        deadline = time.monotonic() + BOUND
        while True:
            families = scrape(admin(srv))
            counted = value(families, "wsgiserver_requests_total", method="GET", status="2xx")
            if counted >= 3 or time.monotonic() > deadline:
                break
    assert counted == 3
    assert value(families, "wsgiserver_request_duration_seconds_count") == 3


def test_a_file_cut_by_a_reset_is_recorded_with_what_went_out(tmp_path: Path) -> None:
    # The response counts a file's bytes as it hands them over; those the stream never
    # took (the client reset it while the server waited for its window) are subtracted.
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"f" * MIB)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(MIB))])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](blob.open("rb"))
        return wrapper

    window = 200_000  # three blocks of the file and part of a fourth
    settings = {SettingCodes.INITIAL_WINDOW_SIZE: window}
    with h2c_server(app) as srv, client(srv, auto_ack=False, settings=settings) as c:
        c.conn.increment_flow_control_window(MIB)  # the connection's window is not the limit
        stream_id = c.request("/file")
        reply = c.replies.setdefault(stream_id, Reply())
        c.read_until(lambda: len(reply.body) >= window or reply.done)  # the window is spent
        c.reset(stream_id)
        (record,) = srv.wait_for_requests(1)
    assert len(reply.body) == window
    # Counted by whole blocks: the one the reset cut is not (it was: all of the file).
    assert record.body_bytes == 3 * SEND_FILE_BLOCK


def read_content_length(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Reads exactly CONTENT_LENGTH bytes, as Django's `request.body` does, never to EOF."""
    data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [hashlib.sha256(data).hexdigest().encode()]


def test_a_stream_whose_body_all_arrived_is_not_reset_while_its_end_stream_is_awaited() -> None:
    # httpx sends END_STREAM in a frame of its own, late on a busy connection: the
    # RST_STREAM (NO_ERROR) sent after the response made it drop a 200 the app had
    # handled (a probe: 26 of 100 concurrent uploads failed). A body this long reaches
    # the app as it arrives (a short one is taken whole first, END_STREAM included).
    data = bytes(range(256)) * 800
    with h2c_server(read_content_length) as srv, client(srv) as c:
        stream = c.request(
            "/", method="POST", headers=[("content-length", str(len(data)))], body=data, end=False
        )
        reply = c.reply(stream)
        assert (reply.status, reply.ended) == (200, True)
        assert reply.body == hashlib.sha256(data).hexdigest().encode()
        c.ping_and_wait()
        assert reply.reset is None
        c.conn.end_stream(stream)
        c.ping_and_wait()
        assert reply.reset is None
        short = c.get("/", method="POST", headers=[("content-length", "2")], body=b"ok")
        assert short.status == 200
        # More body than its content-length, after the response: malformed (RFC 9113
        # section 8.1.1), a stream error.
        stream = c.request(
            "/", method="POST", headers=[("content-length", str(len(data)))], body=data, end=False
        )
        reply = c.reply(stream)
        assert (reply.status, reply.reset) == (200, None)
        c.send_body(stream, b"d", end=False)
        c.ping_and_wait()
        assert reply.reset == PROTOCOL_ERROR
        short = c.get("/", method="POST", headers=[("content-length", "1")], body=b"x")
        assert short.status == 200  # the connection goes on
