"""Transport edges: small bodies received before the app runs; error answers to HEAD."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from wsgiserver.testing import serving

Environ = dict[str, Any]


def recording_app(calls: list[str]) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d" % len(body)]

    return app


def read_until_close(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_client_leaving_mid_body_gets_a_400_without_running_the_app() -> None:
    calls: list[str] = []
    with serving(recording_app(calls)) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            client.shutdown(socket.SHUT_WR)
            assert read_until_close(client).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        # The connection was handled and closed; a new request still works.
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_close(client).endswith(b"\r\n\r\n0")
    assert calls == ["/next"]


def test_slow_small_upload_does_not_hold_a_thread() -> None:
    calls: list[str] = []
    with serving(recording_app(calls), threads=1, max_threads=1) as server:
        slow = socket.create_connection((server.host, server.port), timeout=5)
        slow.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        # With one thread only, another request is still served while the body is pending.
        with socket.create_connection((server.host, server.port), timeout=5) as other:
            other.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_close(other).endswith(b"\r\n\r\n0")
        assert calls == ["/fast"]
        slow.sendall(b"56789")
        response = slow.recv(65536)
        assert response.startswith(b"HTTP/1.1 200 OK")
        assert response.endswith(b"\r\n\r\n10")
        slow.close()
    assert calls == ["/fast", "/slow"]


def test_error_answer_to_head_request_has_no_body() -> None:
    def failing(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise RuntimeError("boom")

    with serving(failing) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            response = read_until_close(client)
        server.take_app_errors()
    assert response.startswith(b"HTTP/1.1 500 ")
    assert b"Content-Length: " in response
    assert response.endswith(b"\r\n\r\n")


def test_closed_connections_are_not_retained_by_their_deadlines() -> None:
    # Regression: a connection parked once (here: accepted in a batch) kept its deadline
    # entry, and so the whole Transport, alive until header_timeout passed; under a stream
    # of `Connection: close` requests that grew without bound. (A plain Server: the test
    # helpers' capture keeps every request's record, and records hold their environ.)
    import gc

    from wsgiserver import Server
    from wsgiserver.transport.transport import Transport

    def live_transports() -> int:
        gc.collect()
        return sum(isinstance(obj, Transport) for obj in gc.get_objects())

    calls: list[str] = []
    request = b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    rounds, batch = 15, 20
    with Server(recording_app(calls), bind="127.0.0.1:0", threads=1, max_threads=1) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        server.wait_serving()
        address = server.address
        assert isinstance(address, tuple)
        for _ in range(rounds):
            clients = [socket.create_connection(address, timeout=5) for _ in range(batch)]
            for client in clients:
                client.sendall(request)
            for client in clients:
                assert read_until_close(client).endswith(b"\r\n\r\n0")
                client.close()
        assert len(calls) == rounds * batch
        # Stale deadline entries are bounded (rebuilt once they are the majority); before
        # the fix every one of the 300 transports was still alive here.
        assert live_transports() < 100
        server.shutdown()
        thread.join()
