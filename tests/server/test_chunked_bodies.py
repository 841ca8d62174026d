"""What the app sees of a request body, for each framing (docs/configuration.rst).

By default a chunked body is received whole before the app runs (in memory, or in an unnamed
temporary file above --spool-threshold) and the app gets CONTENT_LENGTH and no
Transfer-Encoding, as PEP 3333 asks of a server; `--stream-chunked` hands it over as it
arrives instead. A Content-Length body is passed through as the client framed it, 0 included.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.server.helpers import Environ, RawClient, StartResponse, get
from wsgiserver.errors import ConfigError
from wsgiserver.server.server import Server
from wsgiserver.testing import serving

KIB = 1024


def chunked_body(data: bytes, size: int = 1000) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def chunked_head(path: str = "/", extra: bytes = b"") -> bytes:
    return (
        b"POST "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        + extra
        + b"\r\n"
    )


class Seen:
    """An app that records the body-related environ of each request and echoes a digest."""

    KEYS = ("CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "wsgiserver.transfer_encoding")

    def __init__(self, read: str = "all", spool_dir: Path | None = None) -> None:
        self.read = read
        self.spool_dir = spool_dir
        self.environs: list[dict[str, Any]] = []
        self.input_types: list[type] = []
        self.spooled: list[bool] = []  # a file of spool_dir was open while the app ran

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self.environs.append(
            {key: environ.get(key) for key in self.KEYS}
            | {"terminated": environ["wsgi.input_terminated"]}
        )
        stream = environ["wsgi.input"]
        self.input_types.append(type(stream))
        if self.spool_dir is not None:
            self.spooled.append(any(p.startswith(str(self.spool_dir)) for p in open_files()))
        if self.read == "content-length":
            # PEP 3333 to the letter: read exactly CONTENT_LENGTH bytes, never to EOF.
            body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        else:
            body = stream.read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())]


def open_files() -> list[str]:
    """Where this process's descriptors point ("/dir/#123 (deleted)" for unnamed files)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
    return found


def digest(data: bytes) -> bytes:
    return b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())


@pytest.mark.parametrize("size", [0, 1, 5000, 300 * KIB])
@pytest.mark.parametrize("read", ["all", "content-length"])
def test_a_chunked_body_reaches_the_app_whole_with_a_content_length(size: int, read: str) -> None:
    data = os.urandom(size)
    app = Seen(read)
    with serving(app, spool_threshold=100 * KIB) as srv, RawClient((srv.host, srv.port)) as c:
        response = c.request(chunked_head() + chunked_body(data))
        assert response.status == 200
        assert response.body == digest(data)
        assert not response.closes  # nothing left unread: the connection carries on
        assert c.request(get("/again")).status == 200
    assert app.environs[0] == {
        "CONTENT_LENGTH": str(size),
        "HTTP_TRANSFER_ENCODING": None,  # hop-by-hop, and no longer true of wsgi.input
        "wsgiserver.transfer_encoding": "chunked",
        "terminated": True,
    }


def test_a_body_above_the_threshold_is_spooled_to_a_file_in_spool_dir(tmp_path: Path) -> None:
    data = os.urandom(200 * KIB)
    app = Seen(spool_dir=tmp_path)
    options: dict[str, Any] = {"spool_threshold": 64 * KIB, "spool_dir": str(tmp_path)}
    with serving(app, **options) as srv, RawClient((srv.host, srv.port)) as client:
        small = client.request(chunked_head() + chunked_body(data[:1000]))
        assert small.body == digest(data[:1000])
        big = client.request(chunked_head() + chunked_body(data, size=7000))
        assert big.body == digest(data)
    # Only the large body went to a file, in the configured directory, with no name left.
    assert app.spooled == [False, True]
    assert list(tmp_path.iterdir()) == []
    # Either way the app gets the same read-only stream, never the server's file.
    assert app.input_types[0] is app.input_types[1]
    assert not any(hasattr(app.input_types[1], name) for name in ("write", "seek", "fileno"))


def test_a_spool_that_cannot_be_written_is_a_500_that_names_no_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    app = Seen()
    options: dict[str, Any] = {"spool_threshold": 1000, "spool_dir": str(spool_dir)}
    with serving(app, **options) as srv, RawClient((srv.host, srv.port)) as client:
        spool_dir.rmdir()  # checked at start; gone by the time a body needs it
        response = client.request(chunked_head() + chunked_body(b"s" * 5000))
        assert response.status == 500
        assert response.closes
        assert str(tmp_path).encode() not in response.body
    # The operator's log says where and why (logged by the worker thread that received it).
    assert any(str(spool_dir) in r.getMessage() for r in caplog.records)
    assert app.environs == []


def test_an_app_that_dechunks_when_it_sees_transfer_encoding_gets_the_right_bytes() -> None:
    """Some apps de-chunk wsgi.input themselves when HTTP_TRANSFER_ENCODING says chunked;
    the server removes that field along with the framing, so they read plain bytes."""
    data = b"".join(b"line %d\n" % i for i in range(500))

    def dechunking_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = b""
            while (size := int(stream.readline().split(b";")[0], 16)) > 0:
                body += stream.read(size)
                stream.read(2)
        else:
            body = stream.read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [])
        return [digest(body)]

    with serving(dechunking_app) as srv, RawClient((srv.host, srv.port)) as client:
        assert client.request(chunked_head() + chunked_body(data, 333)).body == digest(data)


def test_trailers_are_validated_and_dropped() -> None:
    app = Seen()
    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        body = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"
        response = client.request(chunked_head(extra=b"Trailer: X-Checksum\r\n") + body)
        assert response.body == digest(b"hello")
        forbidden = b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"
        assert client.request(chunked_head() + forbidden).status == 400
    assert len(app.environs) == 1


def test_content_length_zero_is_passed_through() -> None:
    """PEP 3333: CONTENT_LENGTH holds what the client sent; "0" is not "absent"."""
    app = Seen()
    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        for value in (b"0", b"00"):
            head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n"
            assert client.request(head).body == digest(b"")
        assert client.request(get("/no-body")).body == digest(b"")
    assert [seen["CONTENT_LENGTH"] for seen in app.environs] == ["0", "0", None]


def test_expect_100_continue_is_answered_by_the_server_before_the_body() -> None:
    data = b"z" * 3000
    app = Seen()
    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(chunked_head(extra=b"Expect: 100-continue\r\n"))
        interim = client.read_response(head=True)
        assert interim.status == 100
        assert app.environs == []  # the app was not asked: the server answered for it
        client.send(chunked_body(data))
        response = client.read_response()
        assert response.body == digest(data)
        assert not response.closes


def test_a_body_over_max_body_size_is_refused_as_soon_as_it_passes_the_limit() -> None:
    app = Seen()
    with serving(app, max_body_size=10_000) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(chunked_head() + b"1000\r\n" + b"a" * 4096 + b"\r\n")
        # The next chunk size line takes the total past the limit: answered without waiting
        # for the rest of the body (which never comes).
        client.send(b"2000\r\n" + b"b" * 100)
        response = client.read_response()
        assert response.status == 413
        assert response.closes
    assert app.environs == []
    assert [record.status for record in srv.access_records] == [413]


def test_a_slow_chunked_upload_waits_in_the_poller_not_in_a_thread() -> None:
    """While a chunked body trickles in, the connection waits in the poller: one thread
    serves other clients meanwhile (with threads=1 and max_threads=1 it is the only one)."""
    app = Seen()
    with (
        serving(app, threads=1, max_threads=1) as srv,
        RawClient((srv.host, srv.port)) as uploader,
        RawClient((srv.host, srv.port)) as other,
    ):
        uploader.send(chunked_head() + b"3\r\nabc\r\n")
        assert other.request(get("/other")).status == 200
        uploader.send(b"3\r\ndef\r\n")
        assert other.request(get("/other")).status == 200
        uploader.send(b"0\r\n\r\n")
        assert uploader.read_response().body == digest(b"abcdef")


def test_stream_chunked_restores_streaming() -> None:
    """--stream-chunked: the app runs at the head, reads the body as it arrives, sees
    Transfer-Encoding and no CONTENT_LENGTH, and relies on wsgi.input_terminated."""
    first_piece = threading.Event()
    pieces: list[bytes] = []
    seen: list[dict[str, Any]] = []

    def streaming_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append({key: environ.get(key) for key in Seen.KEYS})
        stream = environ["wsgi.input"]
        while piece := stream.read(3):
            pieces.append(piece)
            first_piece.set()
        start_response("200 OK", [])
        return [b"".join(pieces)]

    with (
        serving(streaming_app, stream_chunked=True) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(chunked_head() + b"3\r\nabc\r\n")
        assert first_piece.wait(5)  # the app has the first chunk before the body is complete
        client.send(b"3\r\ndef\r\n0\r\n\r\n")
        assert client.read_response().body == b"abcdef"
    assert seen == [
        {
            "CONTENT_LENGTH": None,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgiserver.transfer_encoding": None,
        }
    ]


def test_shutdown_lets_an_upload_in_progress_finish() -> None:
    """A graceful stop treats a body being received as a request in flight: it completes,
    and the answer says Connection: close."""
    app = Seen()
    data = b"q" * 5000
    body = chunked_body(data)
    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(chunked_head(extra=b"Expect: 100-continue\r\n"))
        assert client.read_response(head=True).status == 100  # the server is receiving
        client.send(body[:2000])
        srv.server.shutdown(timeout=0)  # asks for the stop, returns at once
        client.send(body[2000:])
        response = client.read_response()
        assert response.body == digest(data)
        assert response.closes


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"spool_dir": "/nonexistent/spool"}, "spool_dir: '/nonexistent/spool' is not a dir"),
        ({"spool_threshold": -1}, "spool_threshold must not be negative"),
        ({"spool_dir": ""}, "spool_dir: give a directory"),
    ],
)
def test_bad_spool_options_are_one_line_config_errors(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Server(Seen(), bind="127.0.0.1:0", **options)
