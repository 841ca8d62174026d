"""Sans-IO HTTP/1.1 for the server role (RFC 9110 and RFC 9112).

Owns: request parsing, body framing, response framing, limits and keep-alive decisions.
Must not: touch sockets, selectors, threads, clocks, logging or the OS. Bytes go in through
`ServerConnection.receive_data`, events come out of `next_event`, and response bytes come back
from the `send_*` methods for the caller to write. A test walks this package's imports to keep
it that way.
"""

from wsgiserver.protocol.connection import ServerConnection
from wsgiserver.protocol.events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    Request,
    Sentinel,
)
from wsgiserver.protocol.limits import Limits

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Limits",
    "Request",
    "Sentinel",
    "ServerConnection",
]
