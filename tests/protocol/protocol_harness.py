"""Feed bytes to a `ServerConnection` in different splits and normalise what comes out.

Shared by the corpus, differential and fuzz tests. The outcome of one input is a tuple of
plain tuples, so two runs compare with `==`:

- ("request", method, target, version, headers)
- ("data", bytes)  (consecutive Data events are merged: chunking is not observable)
- ("end", trailers)
- ("closed",)  the client closed between requests
- ("close",)  the server decided not to keep the connection alive after answering
- ("error", status)  a ProtocolError; always the last item
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from wsgiserver.errors import ProtocolError
from wsgiserver.protocol import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Limits,
    Request,
    ServerConnection,
)

Item = tuple[object, ...]
Outcome = tuple[Item, ...]
Splitter = Callable[[bytes], list[bytes]]


def split_whole(data: bytes) -> list[bytes]:
    return [data]


def split_lines(data: bytes) -> list[bytes]:
    """Split after each LF (so a CRLF stays together and a bare LF ends a piece)."""
    parts = data.split(b"\n")
    pieces = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        pieces.append(parts[-1])
    return pieces


def split_bytes(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


SPLITTERS: dict[str, Splitter] = {
    "whole": split_whole,
    "lines": split_lines,
    "bytes": split_bytes,
}


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split `data` at the given offsets (any order, duplicates and out-of-range ignored)."""
    points = sorted({cut for cut in cuts if 0 < cut < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds) if b > a]


@dataclass
class Run:
    """Everything one feeding produced."""

    outcome: Outcome
    requests: list[Request] = field(default_factory=list)
    error: ProtocolError | None = None
    conn: ServerConnection | None = None

    @property
    def status(self) -> int | None:
        return None if self.error is None else self.error.status


def normalise_request(request: Request) -> Item:
    return (
        "request",
        request.method,
        request.target,
        request.http_version,
        tuple(request.headers),
    )


def _respond(conn: ServerConnection) -> bool:
    """Answer a complete request with an empty 200; True if the connection stays open."""
    conn.send_response("200 OK", [], length_hint=0)
    conn.send_end()
    if not conn.keep_alive:
        return False
    conn.start_next_cycle()
    return True


def _pump(conn: ServerConnection, items: list[Item], requests: list[Request]) -> bool:
    """Take events until more bytes are needed (True) or the exchange is over (False)."""
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return True
        if event is PAUSED:
            if not _respond(conn):
                items.append(("close",))
                return False
        elif isinstance(event, Request):
            requests.append(event)
            items.append(normalise_request(event))
        elif isinstance(event, Data):
            if items and items[-1][0] == "data":
                previous = items[-1][1]
                assert isinstance(previous, bytes)
                items[-1] = ("data", previous + event.data)
            else:
                items.append(("data", event.data))
        elif isinstance(event, EndOfMessage):
            items.append(("end", tuple(event.trailers)))
        elif isinstance(event, ConnectionClosed):
            items.append(("closed",))
            return False
        else:  # pragma: no cover - the event union is exhaustive
            raise AssertionError(f"unexpected event {event!r}")


def feed(
    pieces: list[bytes],
    limits: Limits | None = None,
    *,
    eof: bool = False,
) -> Run:
    """Feed `pieces` one `receive_data` call each, taking all events after each one."""
    conn = ServerConnection(limits or Limits())
    items: list[Item] = []
    requests: list[Request] = []
    error: ProtocolError | None = None
    try:
        more = True
        for piece in pieces:
            if not piece:
                continue  # receive_data(b"") means end of stream, not "no bytes yet"
            conn.receive_data(piece)
            more = _pump(conn, items, requests)
            if not more:
                break
        if more and eof:
            conn.receive_data(b"")
            _pump(conn, items, requests)
    except ProtocolError as exc:
        error = exc
        items.append(("error", exc.status))
    return Run(tuple(items), requests, error, conn)


def iter_modes(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    for name, splitter in SPLITTERS.items():
        yield name, splitter(data)


def assert_failed_for_good(run: Run) -> None:
    """RFC 9112 section 6.3 and 11.2: after a framing error nothing more is parsed."""
    conn = run.conn
    error = run.error
    assert conn is not None
    assert error is not None
    assert conn.failed
    for more in (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"\r\n\r\n", b""):
        with pytest.raises(ProtocolError) as again:
            conn.next_event()
        assert again.value.status == error.status
        conn.receive_data(more)
    with pytest.raises(ProtocolError) as last:
        conn.next_event()
    assert last.value.status == error.status
