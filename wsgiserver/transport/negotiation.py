"""Which protocol a connection speaks: HTTP/1.1, or HTTP/2 by ALPN or by prior knowledge.

Owns: what a server's transports need to know about HTTP/2 (`Http2`: its limits, who may
speak cleartext h2c), recognising the HTTP/2 client connection preface at the start of a
cleartext connection (RFC 9113 section 3.3), and the answer to a preface from a peer that
may not use h2c (a GOAWAY HTTP_1_1_REQUIRED, RFC 9113 section 7). Must not: import `h2`:
HTTP/1.1-only servers run through here too, on the standard library alone. The HTTP/1.1
`Upgrade: h2c` dance is deliberately absent: RFC 9113 section 3.1 deprecates it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from wsgiserver.http2.limits import H2Limits

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 section 3.4
ALPN_H2 = "h2"  # RFC 9113 section 3.2
MATCH, PARTIAL, OTHER = 0, 1, 2
_HTTP_1_1_REQUIRED = 0xD
_GOAWAY, _SETTINGS = 0x7, 0x4


H2C_TRUSTED_ONLY = b"h2c is accepted from trusted peers only"  # the refused's GOAWAY says


@dataclass(frozen=True, slots=True)
class Http2:
    """How a server serves HTTP/2 (`None` in its place: HTTP/1.1 only).

    `h2c(peer)`: may this socket peer open a cleartext connection with the HTTP/2 preface?
    (The peer is the proxy's address under PROXY protocol: h2c is for the trusted hop.)
    `h2c_refusal`: what the refused are told (the reason a GOAWAY carries).
    """

    limits: H2Limits
    h2c: Callable[[str | None], bool]
    h2c_refusal: bytes = H2C_TRUSTED_ONLY


def preface_state(data: bytes) -> int:
    """MATCH if `data` starts with the HTTP/2 preface, PARTIAL if it is a beginning of it
    (wait for more), OTHER otherwise."""
    if data.startswith(PREFACE):
        return MATCH
    if PREFACE.startswith(data):
        return PARTIAL
    return OTHER


def _frame(kind: int, payload: bytes) -> bytes:
    # RFC 9113 section 4.1: 24-bit length, type, flags, 31-bit stream identifier (0 here).
    return struct.pack(">I", len(payload))[1:] + bytes((kind, 0)) + b"\x00\x00\x00\x00" + payload


def h1_required(detail: bytes) -> bytes:
    """Our side of a refused cleartext HTTP/2 connection: an empty SETTINGS (a server's
    preface must be one, section 3.4) and GOAWAY HTTP_1_1_REQUIRED with `detail` as its debug
    data. A client then says why, instead of reading an HTTP/1.1 answer as frames."""
    goaway = struct.pack(">II", 0, _HTTP_1_1_REQUIRED) + detail
    return _frame(_SETTINGS, b"") + _frame(_GOAWAY, goaway)
