"""Faults over real sockets: clients that vanish, apps that fail or break PEP 3333.

Every test runs under the `no_leaks` fixture (conftest.py): file descriptors, threads and
memory are back to their baseline once the server has stopped. Apps return a `Tracked`
iterable so each test can check PEP 3333's rule that `close()` is called exactly once, on
every path (PEP 3333 "Specification Details": the server must call close() "upon completion
of the current request, whether the request was completed normally, or terminated early").
"""

from __future__ import annotations

import io
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.server.helpers import (
    ConnectionEnded,
    Environ,
    RawClient,
    StartResponse,
    count_responses,
    get,
    path_app,
)
from wsgiserver.errors import ConnectionLost
from wsgiserver.testing import RunningServer, serving

MIB = 1 << 20


class Tracked:
    """A response iterable that counts close() calls and how many pieces were taken."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self.closed = 0
        self.taken = 0
        self.started = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.started.set()
        piece = next(self._pieces)
        self.taken += 1
        return piece

    def close(self) -> None:
        self.closed += 1


class Made:
    """Collects the `Tracked` iterables an app made, to check them after the server stops."""

    def __init__(self) -> None:
        self.items: list[Tracked] = []
        self._lock = threading.Lock()

    def add(self, pieces: Iterable[bytes]) -> Tracked:
        tracked = Tracked(pieces)
        with self._lock:
            self.items.append(tracked)
        return tracked

    def assert_all_closed_once(self) -> None:
        assert [t.closed for t in self.items] == [1] * len(self.items)


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _assert_serving(srv: RunningServer) -> None:
    with RawClient((srv.host, srv.port)) as client:
        assert client.request(get("/alive")).body == b"/alive"


# -- the client goes away -----------------------------------------------------------------


def test_client_disconnects_mid_body() -> None:
    """RFC 9112 section 8: an incomplete body is an error the app sees on read; close() once."""
    made = Made()
    seen: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)

        def body() -> Iterator[bytes]:
            try:
                environ["wsgi.input"].read()
            except Exception as exc:
                seen.append(exc)
                raise
            start_response("200 OK", [])
            yield b"never"

        return made.add(body())

    with serving(app) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % MIB)
        client.sendall(b"x" * 100_000)  # above the prebuffer limit: the app is reading
        client.shutdown(socket.SHUT_WR)
        with RawClient.__new__(RawClient) as raw:  # read what the server says, if anything
            raw.sock, raw.buf, raw.eof = client, b"", False
            response = raw.read_response()
        assert response.status == 400
        assert response.closes
        [record] = srv.wait_for_requests(1)
        assert record.status == 400
        _assert_serving(srv)
    assert len(seen) == 1
    made.assert_all_closed_once()


def test_client_resets_mid_body_is_not_an_app_error() -> None:
    """A reset that arrives while the app reads the body is the client leaving: the app's
    read fails with ConnectionLost, nothing is logged as an application error."""
    made = Made()
    seen: list[BaseException] = []
    reset = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        assert reset.wait(10)
        try:
            while environ["wsgi.input"].read(65536):
                pass
        except Exception as exc:
            seen.append(exc)
            raise
        start_response("200 OK", [])
        return made.add([b"never"])

    with serving(app) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % MIB)
        client.sendall(b"x" * 300_000)  # above the prebuffer limit: the app runs at once
        _reset(client)
        reset.set()
        [record] = srv.wait_for_requests(1)
        assert srv.take_app_errors() == []
        assert "application raised" not in srv.log_text()
        _assert_serving(srv)
    assert len(seen) == 1
    assert isinstance(seen[0], ConnectionLost), repr(seen[0])
    assert record.status != 500


def test_client_resets_while_streaming_100_mb() -> None:
    """A RST mid-response stops the app's iteration; close() once; nothing is left behind."""
    made = Made()
    block = b"x" * MIB

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return made.add(block for _ in range(100))

    with serving(app) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(get("/stream"))
        received = 0
        while received < 2 * MIB:
            data = client.recv(MIB)
            assert data
            received += len(data)
        _reset(client)
        [record] = srv.wait_for_requests(1)  # the access log still records it
        assert record.status == 200
        assert record.body_bytes < 100 * MIB
        _assert_serving(srv)
    [tracked] = made.items
    assert tracked.taken < 100
    made.assert_all_closed_once()


def test_client_resets_during_sendfile(tmp_path: Path) -> None:
    """The same through wsgi.file_wrapper (os.sendfile): the file is closed, once."""
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(64 * MIB)
    opened: list[IO[bytes]] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        file = big.open("rb")
        opened.append(file)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](file)
        return wrapper

    with serving(app) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(get("/file"))
        received = 0
        while received < MIB:
            data = client.recv(MIB)
            assert data
            received += len(data)
        _reset(client)
        srv.wait_for_requests(1)
        _assert_serving(srv)
    assert [f.closed for f in opened] == [True]


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_leaves_before_the_app_starts(how: str) -> None:
    """A client that leaves with a half-sent small body: the app is never run for it."""
    calls: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        return path_app(environ, start_response)

    with serving(app, threads=1, max_threads=1) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        if how == "rst":
            _reset(client)
        else:
            client.close()
        _assert_serving(srv)
    assert "/gone" not in calls


def test_client_resets_right_after_a_complete_request() -> None:
    """The app may or may not run (a race by nature); either way close() once, no leak."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        start_response("200 OK", [])
        return made.add([b"x" * MIB] * 4)

    with serving(app) as srv:
        for _ in range(10):
            client = socket.create_connection((srv.host, srv.port), timeout=5)
            client.sendall(get("/r"))
            _reset(client)
        _assert_serving(srv)
    made.assert_all_closed_once()


# -- the app fails ----------------------------------------------------------------------------


def _fail(exc: Exception) -> Iterator[bytes]:
    """Raise `exc` from inside the generator that delegates to this (`yield from`)."""
    raise exc


def _raises_before_start_response(made: Made) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ValueError("before start_response")

    return app


def _raises_lazily_before_start_response(made: Made) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def body() -> Iterator[bytes]:
            yield from _fail(ValueError("in the iterable, before start_response"))

        return made.add(body())

    return app


def _raises_after_start_response(made: Made) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def body() -> Iterator[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield from _fail(ValueError("after start_response, before the head was sent"))

        return made.add(body())

    return app


@pytest.mark.parametrize(
    "make",
    [
        _raises_before_start_response,
        _raises_lazily_before_start_response,
        _raises_after_start_response,
    ],
)
def test_app_error_before_the_head_is_sent_is_500(
    make: Callable[[Made], Callable[..., Iterable[bytes]]],
) -> None:
    """PEP 3333 error handling: nothing was sent, so the client gets a 500 and a close."""
    made = Made()
    inner = make(made)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        return inner(environ, start_response)

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            response = client.request(get("/boom"))
            assert response.status == 500
            assert response.closes
            client.assert_closed()
        assert len(srv.take_app_errors()) == 1
        _assert_serving(srv)
    made.assert_all_closed_once()


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_app_error_after_the_head_aborts_the_connection(framing: str) -> None:
    """Architecture step 6: after the head, an error aborts: no chunked terminator, a short
    Content-Length body, never a second status line (RFC 9112 section 6.3: incomplete)."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        headers = [("Content-Length", "100")] if framing == "content-length" else []

        def body() -> Iterator[bytes]:
            start_response("200 OK", headers)
            yield b"first"
            raise ValueError("mid-stream")

        return made.add(body())

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            client.send(get("/boom"))
            raw = client.read_until_close()
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert count_responses(raw) == 1
        if framing == "chunked":
            assert raw.endswith(b"5\r\nfirst\r\n")
        else:
            assert raw.endswith(b"\r\n\r\nfirst")
        assert len(srv.take_app_errors()) == 1
        _assert_serving(srv)
    made.assert_all_closed_once()


class KilledThread(KeyboardInterrupt):
    """A BaseException that is not an Exception."""


@pytest.mark.parametrize("when", ["before-head", "after-head"])
@pytest.mark.parametrize("exc_type", [KilledThread, SystemExit, GeneratorExit])
def test_base_exception_does_not_kill_the_pool(exc_type: type[BaseException], when: str) -> None:
    """With a single worker thread, repeated BaseExceptions still leave it serving."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)

        def body() -> Iterator[bytes]:
            start_response("200 OK", [])
            if when == "after-head":
                yield b"first"
            raise exc_type("from the app")

        return made.add(body())

    with serving(app, threads=1, max_threads=1) as srv:
        for _ in range(3):
            with RawClient((srv.host, srv.port)) as client:
                client.send(get("/die"))
                raw = client.read_until_close()
            assert count_responses(raw) == 1
            expected = b"HTTP/1.1 500 " if when == "before-head" else b"HTTP/1.1 200 "
            assert raw.startswith(expected)
        srv.take_app_errors()
        _assert_serving(srv)
    made.assert_all_closed_once()


# -- PEP 3333 misuse and wrong types ----------------------------------------------------------


def _misuse(kind: str, made: Made) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if kind == "never-called":
            return made.add([b"x"])
        if kind == "called-twice":
            start_response("200 OK", [])
            start_response("200 OK", [])
            return made.add([b"x"])
        if kind == "called-twice-lazily":

            def twice() -> Iterator[bytes]:
                start_response("200 OK", [])
                yield b""
                start_response("200 OK", [])
                yield b"x"

            return made.add(twice())
        if kind == "write-before-start-response":

            def early() -> Iterator[bytes]:
                start_response.__self__.write(b"x")  # type: ignore[attr-defined]
                yield b""

            return made.add(early())
        if kind == "status-bytes":
            start_response(b"200 OK", [])
        elif kind == "status-int":
            start_response(200, [])
        elif kind == "status-no-reason":
            start_response("200", [])
        elif kind == "headers-tuple":
            start_response("200 OK", (("A", "b"),))
        elif kind == "header-value-int":
            start_response("200 OK", [("Content-Length", 1)])
        elif kind == "header-bytes":
            start_response("200 OK", [(b"A", b"b")])
        elif kind == "header-newline":
            start_response("200 OK", [("A", "b\r\nSet-Cookie: x")])
        elif kind == "hop-by-hop":
            start_response("200 OK", [("Connection", "close")])
        elif kind == "header-not-latin1":
            start_response("200 OK", [("A", "\u20ac")])
        elif kind == "content-length-garbage":
            start_response("200 OK", [("Content-Length", "+1")])
        else:
            write = start_response("200 OK", [])
            if kind == "write-str":
                write("text")  # type: ignore[arg-type]
        if kind == "body-str":
            return made.add(["text"])  # type: ignore[list-item]
        if kind == "body-str-lazily":
            return made.add(iter(["text"]))  # type: ignore[arg-type]
        if kind == "returns-none":
            return None  # type: ignore[return-value]
        if kind == "returns-int":
            return 3  # type: ignore[return-value]
        return made.add([b"x"])

    return app


MISUSES = [
    "never-called",
    "called-twice",
    "called-twice-lazily",
    "write-before-start-response",
    "write-str",
    "status-bytes",
    "status-int",
    "status-no-reason",
    "headers-tuple",
    "header-value-int",
    "header-bytes",
    "header-newline",
    "hop-by-hop",
    "header-not-latin1",
    "content-length-garbage",
    "body-str",
    "body-str-lazily",
    "returns-none",
    "returns-int",
]


@pytest.mark.parametrize("kind", MISUSES)
def test_pep3333_misuse_and_wrong_types_are_500(kind: str) -> None:
    """PEP 3333: the server checks what the app hands it; a violation is a 500, not garbage."""
    made = Made()
    inner = _misuse(kind, made)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/alive":
            return path_app(environ, start_response)
        return inner(environ, start_response)

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            response = client.request(get("/bad"))
            assert response.status == 500, response
            assert response.closes
            client.assert_closed()
        assert len(srv.take_app_errors()) == 1
        _assert_serving(srv)
    made.assert_all_closed_once()


def test_start_response_with_exc_info_before_the_head_replaces_the_status() -> None:
    """PEP 3333: exc_info before anything was sent lets the app switch to an error page."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("oops")
        except ValueError:
            import sys

            start_response("503 Busy", [("Content-Type", "text/plain")], sys.exc_info())
        return made.add([b"sorry"])

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(get())
        assert (response.status, response.body) == (503, b"sorry")
    made.assert_all_closed_once()


def test_start_response_with_exc_info_after_the_head_aborts() -> None:
    """PEP 3333: after the head, start_response(exc_info) re-raises; the response is cut."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def body() -> Iterator[bytes]:
            start_response("200 OK", [])
            yield b"part"
            try:
                raise ValueError("late")
            except ValueError:
                import sys

                start_response("500 Oops", [], sys.exc_info())
            yield b"never"

        return made.add(body())

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            client.send(get())
            raw = client.read_until_close()
        assert raw.endswith(b"4\r\npart\r\n")
        assert count_responses(raw) == 1
        assert len(srv.take_app_errors()) == 1
    made.assert_all_closed_once()


# -- Content-Length mismatch ------------------------------------------------------------------


@pytest.mark.parametrize("lazily", [False, True])
def test_body_shorter_than_content_length_closes_after_the_short_body(lazily: bool) -> None:
    """RFC 9112 section 6.3: the client must see an incomplete message, never a reuse."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "10")])
        return made.add((chunk for chunk in [b"12345"]) if lazily else [b"12345"])

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            client.send(get() + get("/second"))
            with pytest.raises(ConnectionEnded):
                client.read_response()
        srv.take_app_errors()
    made.assert_all_closed_once()


@pytest.mark.parametrize("how", ["list", "lazily", "write"])
def test_body_longer_than_content_length_is_cut_closed_and_logged(how: str) -> None:
    """The surplus never reaches the wire, where it would read as a next response; the
    error log says so once, as it does for a body shorter than its Content-Length."""
    made = Made()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Length", "5")])
        if how == "write":
            write(b"1234567")
            write(b"89X")  # all surplus: the count goes on, the log line stays one
            return made.add([])
        return made.add((c for c in [b"12345", b"6789X"]) if how == "lazily" else [b"123456789X"])

    with serving(app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            client.send(get() + get("/second"))
            response = client.read_response()
            assert response.body == b"12345"
            client.assert_closed()
        errors = [(r.levelname, r.getMessage()) for r in srv.log_records]
        assert len(srv.take_app_errors()) == 1
    assert len(errors) == 1, errors
    level, message = errors[0]
    assert level == "ERROR"
    # The request id first, as on the line of a body shorter than its Content-Length.
    expected = r"\[[^\]\s]+\] application sent 5 bytes more than its Content-Length \(GET /\)"
    assert re.fullmatch(expected, message), message
    made.assert_all_closed_once()


@pytest.mark.parametrize("sendfile", [True, False], ids=["file", "in-memory"])
def test_a_file_longer_than_content_length_is_a_range_not_an_error(
    sendfile: bool, tmp_path: Path
) -> None:
    """PEP 3333: a wrapped file goes out "until the end is reached, or until Content-Length
    bytes have been written", which is how a byte range is served. It was cut, logged as
    the app's error and the keep-alive connection closed without Connection: close."""
    ten = tmp_path / "ten"
    ten.write_bytes(b"0123456789")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("206 Partial Content", [("Content-Length", "4")])
        file: IO[bytes] = ten.open("rb") if sendfile else io.BytesIO(ten.read_bytes())
        file.seek(3)
        wrapper: Callable[[IO[bytes]], Iterable[bytes]] = environ["wsgi.file_wrapper"]
        return wrapper(file)

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(get() + get("/second"))
        assert [client.read_response().body for _ in range(2)] == [b"3456", b"3456"]
        assert srv.take_app_errors() == []


def test_a_close_that_raises_is_logged_with_its_request() -> None:
    """Like every other per-request error line: the request id first, the request last (it
    had neither, so nothing tied it to an access record)."""

    class FailingClose:
        def __iter__(self) -> Iterator[bytes]:
            yield b"ok"

        def close(self) -> None:
            raise OSError("cannot release")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return FailingClose()

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        assert client.request(get("/closing")).body == b"ok"
        (record,) = srv.wait_for_requests(1)
        said = [r.getMessage() for r in srv.log_records if r.levelname == "ERROR"]
        raised = srv.take_app_errors()
    assert said == [f"[{record.request_id}] the response iterable's close() failed (GET /closing)"]
    assert [str(error) for error in raised] == ["cannot release"]


# -- logs -------------------------------------------------------------------------------------

_CONTROL = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]}


def test_logs_never_carry_raw_control_characters() -> None:
    """Request bytes are attacker-controlled: no terminal escape reaches a log line raw.

    obs-text (RFC 9110 section 5.5) lets \\x80-\\xff through the parser; as latin-1 that
    includes C1 controls such as CSI (\\x9b), which terminals honour.
    """

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ValueError("boom")

    with serving(app, access_log="-") as srv:
        with RawClient((srv.host, srv.port)) as client:
            client.send(
                b"GET /%1b%5b31m\x5c?q=\x22 HTTP/1.1\r\nHost: x\r\n"
                b"User-Agent: evil\x9b31m\x85\xff\tx\r\nReferer: \x9d\r\n\r\n"
            )
            response = client.read_response()
        assert response.status in (400, 500)
        srv.take_app_errors()
        lines = srv.access_lines() + [r.getMessage() for r in srv.log_records]
    assert lines
    for line in lines:
        assert not (set(line) & _CONTROL), repr(line)


def test_error_log_target_is_escaped() -> None:
    """The error-log helper escapes controls even if a future grammar let one through."""
    from wsgiserver.transport.records import printable

    text = printable(b"/a\x1b[31m\x9b\x00\x7f")
    assert not (set(text) & _CONTROL), repr(text)
