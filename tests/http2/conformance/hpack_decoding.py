"""The `hpack` group (RFC 7541): field blocks the server cannot decode.

Each case adds one broken representation to an otherwise good request; the decoding error
ends the connection with COMPRESSION_ERROR (RFC 9113 section 4.3).
"""

from __future__ import annotations

from tests.http2.conformance import rules
from tests.http2.conformance.case import Group, Target
from tests.http2.conformance.generic import send_request_with
from tests.http2.conformance.rules import Verdict
from tests.http2.conformance.wire import (
    DEFAULT_HEADER_TABLE_SIZE,
    ErrorCode,
    RawConnection,
    Setting,
)

GROUP = Group()

# (case id, description, the representation appended to the request's block)
BROKEN = [
    ("hpack/2.3.3/1", "an indexed field past the end of both tables", b"\xc6"),
    ("hpack/2.3.3/2", "a literal whose name index is past both tables", b"\x7f\x07\x00"),
    ("hpack/4.2/1", "a dynamic table size update after a field", b"\x21"),
    (
        "hpack/5.2/1",
        "a Huffman string padded with more than 7 bits",
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff",
    ),
    (
        "hpack/5.2/2",
        "a Huffman string padded with zero bits instead of ones",
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90",
    ),
    (
        "hpack/5.2/3",
        "a Huffman string with the EOS symbol in it",
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x87\x49\x51\xff\xff\xff\xfa\x7f",
    ),
    ("hpack/6.1/1", "an indexed field with index 0", b"\x80"),
]


def _broken_case(id_: str, what: str, representation: bytes) -> None:
    def run(target: Target, conn: RawConnection) -> Verdict:
        send_request_with(target, conn, representation)
        return rules.connection_error(conn, ErrorCode.COMPRESSION_ERROR)

    GROUP.case(id_, f"a request ending in {what} cannot be decoded")(run)


for _id, _what, _representation in BROKEN:
    _broken_case(_id, _what, _representation)


def table_size_update(size: int) -> bytes:
    """A dynamic table size update (001 then a 5-bit prefix integer, RFC 7541 sections 5.1
    and 6.3)."""
    if size < 31:
        return bytes([0x20 | size])
    out, size = bytearray([0x20 | 31]), size - 31
    while size >= 128:
        out.append(0x80 | size & 0x7F)
        size >>= 7
    out.append(size)
    return bytes(out)


@GROUP.case("hpack/6.3/1", "a table size update over the server's SETTINGS_HEADER_TABLE_SIZE")
def table_size_over_limit(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    limit = conn.settings.get(Setting.HEADER_TABLE_SIZE, DEFAULT_HEADER_TABLE_SIZE)
    block = table_size_update(limit + 1) + conn.encode(target.request())
    conn.write_headers(1, block)
    return rules.connection_error(conn, ErrorCode.COMPRESSION_ERROR)
