"""Framing and desync over real sockets (RFC 9112 sections 6.3, 9.3.2, 9.6 and 11.2).

After a framing error: one answer, `Connection: close`, a lingering close that lets a client
still sending read it, and nothing after the error parsed. An unread body is drained within
a bound and a deadline, else the connection is closed. Pipelined responses, streamed or not,
are never interleaved or glued.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from tests.server.helpers import Environ, RawClient, StartResponse, count_responses, get
from wsgiserver.testing import serving


def ignoring_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Never reads the body."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


def streaming_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """/stream/N answers N pieces of 64 KiB (chunked), else a short body."""
    path = environ["PATH_INFO"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if path.startswith("/stream/"):
        count = int(path[8:])

        def pieces() -> Iterator[bytes]:
            for i in range(count):
                yield bytes([0x61 + i % 26]) * 65536

        return pieces()
    return iter([b"short ", path.encode()])


@pytest.mark.parametrize("size", [1 << 20, 8 << 20])
def test_client_still_sending_after_a_bad_head_reads_the_400(size: int) -> None:
    """RFC 9112 section 9.6: close lingering, so the error is read, not lost to a reset.

    The client sends a bad head and then a big body in one go and only then reads. If the
    server closed without reading (or with unread bytes), the client would get a RST: its
    sendall would fail or the 400 would be discarded. The server instead shuts down its
    sending side and reads and drops what follows until the client is done.
    """
    with serving(ignoring_app) as srv, RawClient((srv.host, srv.port), timeout=10) as client:
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n" + b"q" * size)
        response = client.read_response()
        assert response.status == 400
        assert response.closes
        client.sock.shutdown(1)  # SHUT_WR: done sending; the server then closes
        client.assert_closed()


def test_bytes_after_a_framing_error_are_never_answered() -> None:
    """RFC 9112 section 11.2: after an error nothing that follows is parsed (no desync)."""
    with serving(ignoring_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"GET /a HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n" + get("/smuggled") * 50)
        raw = client.read_until_close()
        assert count_responses(raw) == 1
        assert b"/smuggled" not in raw


def test_unread_body_is_drained_within_the_body_deadline_else_closed() -> None:
    """RFC 9112 section 9.3: a server MUST read the whole body or close. A body left unread
    and small enough to drain keeps the connection (the response says nothing of closing);
    if the rest never comes, the drain stops at --body-timeout and the connection closes,
    with no second status line."""
    with (
        serving(ignoring_app, body_timeout=0.3) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        # 70,000 bytes: above the prebuffer limit (the app runs at once) and, with the
        # 10,000 sent, at most 60,000 left: under the 64 KiB drain limit.
        client.send(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + b"b" * 10000)
        response = client.read_response()
        assert response.body == b"/p"
        assert not response.closes
        client.assert_closed()


def test_unread_body_is_drained_and_the_connection_reused() -> None:
    with serving(ignoring_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + b"b" * 10000)
        assert client.read_response().body == b"/p"
        client.send(b"b" * 60000 + get("/next"))
        assert client.read_response().body == b"/next"


def test_pipelined_streaming_responses_are_in_order_and_never_glued() -> None:
    """RFC 9112 section 9.3.2: responses in request order; each one framed on its own."""
    paths = ["/stream/40", "/a", "/stream/1", "/stream/0", "/b", "/stream/7"]
    with serving(streaming_app, threads=4) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"".join(get(p) for p in paths) + b"HEAD /stream/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        for path in paths:
            response = client.read_response()
            assert response.status == 200
            if path.startswith("/stream/"):
                count = int(path[8:])
                assert response.chunked or count == 0  # an empty stream gets a length
                assert len(response.body) == count * 65536
                for i in range(count):
                    piece = response.body[i * 65536 : (i + 1) * 65536]
                    assert piece == bytes([0x61 + i % 26]) * 65536
            else:
                assert response.body == b"short " + path.encode()
        head = client.read_response(head=True)
        assert head.status == 200
        assert client.buf == b""
        assert client.request(get("/last")).body == b"short /last"


def test_pipelined_requests_on_many_connections_at_once() -> None:
    """Responses on one connection never mix with another's, whatever the thread count."""
    with serving(streaming_app, threads=4, max_threads=8) as srv:
        clients = [RawClient((srv.host, srv.port)) for _ in range(8)]
        try:
            for n, client in enumerate(clients):
                client.send(b"".join(get(f"/stream/{(n + i) % 4}") for i in range(4)))
            for n, client in enumerate(clients):
                for i in range(4):
                    count = (n + i) % 4
                    body = client.read_response().body
                    assert body == b"".join(bytes([0x61 + k]) * 65536 for k in range(count))
        finally:
            for client in clients:
                client.close()
