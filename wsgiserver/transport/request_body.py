"""How a request body reaches the app: taken whole from the buffer, or pulled as it is read.

Owns: choosing, for one request, between a body already complete in the connection's buffer
(handed over in one piece, so the app's reads cost no pulls and nothing is left to drain) and
a `BodyPuller` that receives the next piece when the app asks, sending `100 Continue` first
when the client asked for it (RFC 9110 section 10.1.1). A chunked body received before the
app runs is `wsgiserver/gateway/spool.py`'s. Must not: block except inside a pull (which is
the app's read), nor decide timeouts (the `receive` callable owns them).
"""

from __future__ import annotations

from collections.abc import Callable

from wsgiserver.protocol import NEED_DATA, Data, Request, ServerConnection


def body_for(
    conn: ServerConnection,
    request: Request,
    receive: Callable[[], bytes],
    send: Callable[[bytes], None],
) -> bytes | BodyPuller:
    """The body of `request`, the current request of `conn`, for the gateway."""
    if conn.request_complete:
        return b""
    length = request.content_length
    if length is not None and not request.expect_continue and conn.buffered_size >= length:
        # All of it is here already (the transport prebuffers small bodies). Not with
        # 100-continue: that goes out on the app's first read.
        return take_buffered(conn, length)
    return BodyPuller(conn, receive, send)


def take_buffered(conn: ServerConnection, length: int) -> bytes:
    """A Content-Length body that is entirely in the connection's buffer, in one piece."""
    chunks: list[bytes] = []
    while True:
        event = conn.next_event(max(length, 1))
        if type(event) is not Data:
            return b"".join(chunks)  # EndOfMessage (never NEED_DATA: all of it is buffered)
        chunks.append(event.data)


class BodyPuller:
    """Pulls the next body piece from the connection, sending 100 Continue first if asked."""

    __slots__ = ("_conn", "_receive", "_send", "pulled")

    def __init__(
        self,
        conn: ServerConnection,
        receive: Callable[[], bytes],
        send: Callable[[bytes], None],
    ) -> None:
        self._conn = conn
        self._receive = receive  # blocks for the next bytes, within the body timeouts
        self._send = send
        self.pulled = 0

    def __call__(self) -> bytes:
        conn = self._conn
        interim = conn.send_continue()
        if interim:
            self._send(interim)
        while True:
            event = conn.next_event()
            if type(event) is Data:
                self.pulled += len(event.data)
                return event.data
            if event is NEED_DATA:
                conn.receive_data(self._receive())
                continue
            return b""  # EndOfMessage, or PAUSED: the body was already complete
