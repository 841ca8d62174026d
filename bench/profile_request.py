"""Where one request's microseconds go: `python -m bench.profile_request`.

Times each stage of a keep-alive `GET /` with a 13-byte answer, in-process and without
threads, so the numbers show the Python cost per request that the server adds to the app:
parsing the head, building the environ, calling the app, serializing the head, and the
socket calls (over a socketpair). Each stage runs many times; the median of several rounds
is reported in microseconds. Run it on a quiet machine; the ratios matter more than the
absolute values.
"""

from __future__ import annotations

import io
import socket
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from wsgiserver.gateway.gateway import Gateway, Outcome, ServerInfo
from wsgiserver.gateway.response import CheckedHeads
from wsgiserver.protocol import Limits, Request, ServerConnection
from wsgiserver.server.connections import DateHeader
from wsgiserver.transport.transport import Timeouts, Transport

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
ROUNDS = 7
LOOPS = 20000


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!"]


def measure(stage: Callable[[], object]) -> float:
    """Median microseconds per call over ROUNDS rounds of LOOPS calls."""
    results = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(LOOPS):
            stage()
        results.append((time.perf_counter() - start) / LOOPS * 1e6)
    return statistics.median(results)


def parse() -> Request:
    conn = ServerConnection()
    conn.receive_data(REQUEST)
    event = conn.next_event()
    if not isinstance(event, Request):
        raise RuntimeError(event)
    return event


def main() -> None:
    gateway = Gateway(hello, ServerInfo("127.0.0.1", "8080"), date=DateHeader())

    class Sink:
        def send(self, data: bytes) -> None:
            pass

        def sendfile(self, file: Any, offset: int, count: int) -> int:
            return count

        def client_disconnected(self) -> bool:
            return False

        def receive(self) -> bytes:
            return b""

    request = parse()
    stages: dict[str, Callable[[], object]] = {}
    stages["parse head (ServerConnection)"] = parse
    remote = ("127.0.0.1", 1)
    sink = Sink()
    base = gateway.connection_environ(sink, remote)
    environs = gateway.environs
    stages["build environ"] = lambda: environs.for_request(request, io.BytesIO(), base, remote)

    def app_only() -> object:
        return hello({}, lambda status, headers, exc_info=None: None)

    stages["call the app (13-byte list)"] = app_only

    heads = CheckedHeads()

    def head() -> bytes:
        conn = ServerConnection()
        conn.receive_data(REQUEST)
        conn.next_event()
        # As the gateway does it: checked once per (status, headers), then framed.
        checked = heads.check("200 OK", [("Content-Type", "text/plain")])
        return conn.send_head(checked.fields, length_hint=13, extra=gateway.date())

    stages["parse + check and serialize response head"] = head

    def full_gateway() -> None:
        conn = ServerConnection()
        conn.receive_data(REQUEST)
        event = conn.next_event()
        if isinstance(event, Request):
            gateway.handle(conn, sink, event, base, remote, Outcome(), b"")

    stages["parse + gateway (no socket)"] = full_gateway

    server_end, client_end = socket.socketpair()
    transport = Transport(server_end, ("127.0.0.1", 1), gateway, Limits(), Timeouts())

    def round_trip() -> None:
        client_end.send(REQUEST)
        transport.serve()
        client_end.recv(65536)

    stages["transport.serve over a socketpair (with client)"] = round_trip

    def sockets_only() -> None:
        client_end.send(REQUEST)
        server_end.recv(65536)
        server_end.send(b"x" * 140)
        client_end.recv(65536)

    stages["the same socket calls alone"] = sockets_only
    width = max(len(name) for name in stages)
    print(f"{'stage':<{width}}  us/request (median of {ROUNDS} x {LOOPS})")
    for name, stage in stages.items():
        print(f"{name:<{width}}  {measure(stage):6.2f}")
    server_end.close()
    client_end.close()


if __name__ == "__main__":
    main()
