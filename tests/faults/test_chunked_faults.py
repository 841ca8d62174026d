"""Faults while a chunked body is received before the app runs (wsgiserver/gateway/spool.py).

Every test runs under `no_leaks` (conftest.py): the body's memory and its temporary file are
released on every path (the fd check fails if a spool file stays open), no thread is left,
and each failed request gets exactly one access record.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import _rss
from tests.faults.test_faults import _assert_serving, _reset
from tests.server.helpers import Environ, RawClient, StartResponse, path_app
from tests.server.test_chunked_bodies import open_files
from wsgiserver.testing import serving

KIB = 1024
MIB = 1 << 20
HEAD = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
THRESHOLD = 16 * KIB  # small, so the spooled variants reach the temporary file quickly


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class UploadApp:
    """Counts the calls for /up; raises for /up when told to; answers /alive."""

    def __init__(self, raises: bool = False, spool_dir: Path | None = None) -> None:
        self.raises = raises
        self.spool_dir = spool_dir
        self.calls = 0
        self.spooled: list[bool] = []  # a file of spool_dir was open while the app ran

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/up":
            return path_app(environ, start_response)
        self.calls += 1
        stream = environ["wsgi.input"]
        if self.spool_dir is not None:
            self.spooled.append(any(p.startswith(str(self.spool_dir)) for p in open_files()))
        if self.raises:
            raise ValueError("the app fails with a spooled body in hand")
        stream.read()
        start_response("200 OK", [])
        return [b"ok"]


@pytest.mark.parametrize("where", ["memory", "spooled"])
@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("fin-mid-chunk", 400),
        ("rst-mid-chunk", 0),
        ("bad-chunk-size", 400),
        ("over-max-body-size", 413),
        ("app-raises", 500),
    ],
)
def test_a_failed_chunked_upload_releases_everything(
    fault: str, status: int, where: str, tmp_path: Path
) -> None:
    app = UploadApp(raises=fault == "app-raises", spool_dir=tmp_path)
    first = b"a" * (4 * KIB if where == "memory" else 3 * THRESHOLD)
    options: dict[str, Any] = {
        "spool_threshold": THRESHOLD,
        "spool_dir": str(tmp_path),
        "max_body_size": 256 * KIB,
    }
    with serving(app, **options) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(HEAD + _chunk(first))
        if fault == "fin-mid-chunk":
            client.sendall(b"100\r\nonly part of it")
            client.shutdown(socket.SHUT_WR)
        elif fault == "rst-mid-chunk":
            client.sendall(b"100\r\nonly part of it")
            _reset(client)
        elif fault == "bad-chunk-size":
            client.sendall(b"zz\r\n")
        elif fault == "over-max-body-size":
            client.sendall(b"%x\r\n" % (256 * KIB))  # the decoded size would pass the limit
        else:
            client.sendall(b"0\r\n\r\n")
        if fault != "rst-mid-chunk":
            with RawClient.__new__(RawClient) as raw:  # the answer on this socket
                raw.sock, raw.buf, raw.eof = client, b"", False
                response = raw.read_response()
            assert response.status == status
            assert response.closes
        [record] = srv.wait_for_requests(1)
        assert record.status == status  # once, with the status sent (none after a reset)
        assert record.method == "POST"
        _assert_serving(srv)
        assert len(srv.wait_for_requests(2)) == 2  # /alive: no second record for /up
    assert app.calls == (1 if fault == "app-raises" else 0)
    if fault == "app-raises":
        assert app.spooled == [where == "spooled"]  # the file the fd check finds closed
    assert list(tmp_path.iterdir()) == []


def test_a_large_upload_stays_out_of_memory() -> None:
    """An 80 MiB chunked body costs about --spool-threshold (1 MiB) of memory, not 80 MiB:
    measured inside the app, when the whole body has been received."""
    piece = os.urandom(64 * KIB)
    count = 1280
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(piece)
    grown: list[int] = []
    digests: list[str] = []
    baseline = _rss()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        grown.append(_rss() - baseline)
        digest = hashlib.sha256()
        stream = environ["wsgi.input"]
        while block := stream.read(64 * KIB):
            digest.update(block)
        digests.append(digest.hexdigest())
        start_response("200 OK", [])
        return [environ["CONTENT_LENGTH"].encode()]

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(HEAD)
        encoded = _chunk(piece)
        for _ in range(count):
            client.send(encoded)
        client.send(b"0\r\n\r\n")
        assert client.read_response().body == str(count * len(piece)).encode()
    assert digests == [expected.hexdigest()]
    assert grown[0] < 32 * MIB, f"resident memory grew by {grown[0] >> 20} MiB"


def test_a_stop_during_a_spooled_upload_whose_client_vanishes(tmp_path: Path) -> None:
    """A graceful stop lets an upload in progress go on; if its client then resets, the
    spool file and the thread that served it are released all the same."""
    app = UploadApp()
    options: dict[str, Any] = {"spool_threshold": THRESHOLD, "spool_dir": str(tmp_path)}
    with serving(app, **options) as srv:
        client = socket.create_connection((srv.host, srv.port), timeout=5)
        client.sendall(HEAD.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
        assert client.recv(100).startswith(b"HTTP/1.1 100 ")
        client.sendall(_chunk(b"s" * 3 * THRESHOLD))
        stopped = threading.Thread(target=srv.server.shutdown)
        stopped.start()
        _reset(client)
        stopped.join(10)
        assert not stopped.is_alive()
    assert app.calls == 0
