"""What the protocol layer hands to its caller: one request head, body pieces, the end.

Owns: the event types and the two sentinels. Must not: hold parsing logic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Sentinel(enum.Enum):
    """Non-event answers of `ServerConnection.next_event`."""

    NEED_DATA = "NEED_DATA"  # feed more bytes (or b"" at end of stream) and ask again
    PAUSED = "PAUSED"  # the request is complete; answer it before the next one is parsed


NEED_DATA = Sentinel.NEED_DATA
PAUSED = Sentinel.PAUSED


@dataclass(slots=True)
class Request:
    """A parsed, validated request head (RFC 9112 section 3 and 5).

    Field names are lower-cased; values are raw bytes with surrounding whitespace removed.
    `path` and `query` are still percent-encoded. `host` is the authority the request is for:
    from an absolute-form target if there is one (RFC 9112 section 3.2.2), else the Host field.
    """

    method: str
    target: bytes
    path: bytes
    query: bytes
    http_version: str  # "1.0" or "1.1" (higher 1.x minors are answered as 1.1)
    headers: list[tuple[bytes, bytes]]
    host: bytes | None
    content_length: int | None  # None when chunked or when there is no body
    chunked: bool
    keep_alive: bool
    expect_continue: bool
    scheme: str | None = None  # from an absolute-form target only


@dataclass(slots=True)
class Data:
    """A piece of the request body, with chunked framing already removed."""

    data: bytes


@dataclass(slots=True)
class EndOfMessage:
    """The request body is complete. Trailer fields are validated and then dropped by WSGI."""

    trailers: list[tuple[bytes, bytes]]


@dataclass(slots=True)
class ConnectionClosed:
    """The client closed its side between requests (a clean end of the connection)."""


Event = Request | Data | EndOfMessage | ConnectionClosed
