"""Runs the gateway against a fake channel: no sockets, so every path is deterministic."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import IO, Any

import h11

from wsgiserver.errors import HTTPError
from wsgiserver.gateway.gateway import Gateway, Outcome, ServerInfo
from wsgiserver.protocol import Limits, Request, ServerConnection
from wsgiserver.transport.request_body import body_for
from wsgiserver.types import WSGIApp

DATE = "Date: Tue, 24 Nov 2026 10:00:00 GMT\r\nServer: wsgiserver\r\n"


@dataclass
class FakeChannel:
    """Records what the gateway sends; hands out `incoming` pieces as the body arrives."""

    incoming: list[bytes] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    sendfile_calls: list[tuple[int, int]] = field(default_factory=list)
    receives: int = 0
    sends: int = 0

    def send(self, data: bytes) -> None:
        self.sent += data
        self.sends += 1

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int:
        self.sendfile_calls.append((offset, count))
        file.seek(offset)
        data = file.read(count)
        self.sent += data
        return len(data)

    def client_disconnected(self) -> bool:
        return False

    def receive(self) -> bytes:
        self.receives += 1
        return self.incoming.pop(0) if self.incoming else b""


@dataclass
class Exchange:
    """One request run through the gateway."""

    conn: ServerConnection
    channel: FakeChannel
    outcome: Outcome
    error: BaseException | None

    @property
    def raw(self) -> bytes:
        return bytes(self.channel.sent)

    def response(self) -> tuple[h11.Response, bytes]:
        """Parse what was sent with h11, an independent implementation."""
        client = h11.Connection(h11.CLIENT)
        method = self.conn.request.method if self.conn.request else "GET"
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(self.raw)
        head: Any = None
        body = b""
        while True:
            event = client.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) or event is h11.NEED_DATA:
                break
            else:
                raise AssertionError(f"unexpected {event!r}")
        assert head is not None, self.raw
        return head, body


def run(
    app: WSGIApp,
    request: bytes = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    *,
    incoming: list[bytes] | None = None,
    root_path: str = "",
    limits: Limits | None = None,
    errors: IO[str] | None = None,
) -> Exchange:
    conn = ServerConnection(limits or Limits())
    conn.receive_data(request)
    event = conn.next_event()
    assert isinstance(event, Request), event
    gateway = Gateway(
        app,
        ServerInfo("127.0.0.1", "8000", root_path=root_path),
        date=lambda: DATE,
        errors=errors or io.StringIO(),
    )
    channel = FakeChannel(list(incoming or []))
    outcome = Outcome()
    error: BaseException | None = None
    try:
        remote = ("10.0.0.1", 51234)
        base = gateway.connection_environ(channel, remote)
        # The body as the transport hands it over (request_body.py): whole when it is all
        # buffered, else pulled from `incoming` as the app reads.
        body = body_for(conn, event, channel.receive, channel.send)
        gateway.handle(conn, channel, event, base, remote, outcome, body)
    except (HTTPError, Exception) as exc:
        error = exc
    return Exchange(conn, channel, outcome, error)
