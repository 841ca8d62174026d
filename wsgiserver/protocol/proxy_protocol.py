"""Sans-IO parser of the PROXY protocol header, versions 1 and 2 (HAProxy's proxy-protocol.txt).

Owns: recognising and validating the header a proxy sends before the first byte of the
client's own stream, and extracting the client (source) address from it. Must not: touch
sockets; the transport feeds it what it has received (or peeked) so far and consumes exactly
`ProxyHeader.length` bytes once it is complete, so no byte of the client's stream (HTTP or a
TLS ClientHello) is ever taken by mistake.

`parse_proxy_header(data)` returns None while `data` is a valid but incomplete prefix (every
byte of such a prefix belongs to the header, so the caller may consume it), a `ProxyHeader`
once complete, and raises `ProxyProtocolError` for anything malformed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the longest v1 line, CRLF included (section 2.1)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER = 16  # signature, version/command, family/transport, length

_V2_ADDRESS_SIZES = {0x1: 12, 0x2: 36, 0x3: 216}  # AF_INET, AF_INET6, AF_UNIX
_FAMILIES = {0x0: "UNSPEC", 0x1: "INET", 0x2: "INET6", 0x3: "UNIX"}
_DIGITS = frozenset(b"0123456789")


class ProxyProtocolError(ValueError):
    """The bytes are not a valid PROXY protocol header: the connection must be closed."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete header. `source` is the client as (address, port) for INET/INET6 PROXY."""

    length: int  # bytes the header takes on the wire
    version: int
    local: bool  # LOCAL command (v2) or UNKNOWN (v1): use the real connection's addresses
    family: str  # "INET", "INET6", "UNIX" or "UNSPEC"
    source: tuple[str, int] | None = None
    destination: tuple[str, int] | None = None
    source_path: str | None = None  # AF_UNIX


def parse_proxy_header(data: bytes) -> ProxyHeader | None:
    """Parse a PROXY header at the start of `data`; None if more bytes are needed."""
    if not data:
        return None
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    if data[0] == V1_PREFIX[0]:
        return _parse_v1(data)
    raise ProxyProtocolError("the connection does not start with a PROXY protocol header")


def _parse_v1(data: bytes) -> ProxyHeader | None:
    head = data[: len(V1_PREFIX)]
    if head != V1_PREFIX[: len(head)]:
        raise ProxyProtocolError("not a PROXY protocol v1 header")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX or b"\n" in data[:V1_MAX]:
            raise ProxyProtocolError("PROXY protocol v1 line too long or without CRLF")
        return None
    line = data[len(V1_PREFIX) : end]
    parts = line.split(b" ")
    length = end + 2
    if parts[0] == b"UNKNOWN":
        return ProxyHeader(length=length, version=1, local=True, family="UNSPEC")
    if len(parts) != 5 or parts[0] not in (b"TCP4", b"TCP6"):
        raise ProxyProtocolError("malformed PROXY protocol v1 line")
    version = 4 if parts[0] == b"TCP4" else 6
    source = _v1_address(parts[1], version)
    destination = _v1_address(parts[2], version)
    source_port = _v1_port(parts[3])
    destination_port = _v1_port(parts[4])
    return ProxyHeader(
        length=length,
        version=1,
        local=False,
        family="INET" if version == 4 else "INET6",
        source=(source, source_port),
        destination=(destination, destination_port),
    )


def _v1_address(raw: bytes, version: int) -> str:
    try:
        text = raw.decode("ascii")
        address = ipaddress.ip_address(text)
    except (UnicodeDecodeError, ValueError):
        raise ProxyProtocolError("bad address in PROXY protocol v1 line") from None
    if address.version != version or (version == 6 and "%" in text):
        raise ProxyProtocolError("address family mismatch in PROXY protocol v1 line")
    return str(address)


def _v1_port(raw: bytes) -> int:
    # Section 2.1: decimal, no leading zeros, 0..65535. Never int() on wire bytes unchecked.
    if not raw or len(raw) > 5 or not set(raw) <= _DIGITS or (len(raw) > 1 and raw[0] == 0x30):
        raise ProxyProtocolError("bad port in PROXY protocol v1 line")
    port = int(raw)
    if port > 65535:
        raise ProxyProtocolError("bad port in PROXY protocol v1 line")
    return port


def _parse_v2(data: bytes) -> ProxyHeader | None:
    sig = data[: len(V2_SIGNATURE)]
    if sig != V2_SIGNATURE[: len(sig)]:
        raise ProxyProtocolError("not a PROXY protocol v2 header")
    if len(data) < V2_HEADER:
        return None
    version_command = data[12]
    if version_command >> 4 != 2:
        raise ProxyProtocolError("unsupported PROXY protocol v2 version")
    command = version_command & 0x0F
    if command not in (0x0, 0x1):
        raise ProxyProtocolError("unknown PROXY protocol v2 command")
    family_code = data[13] >> 4
    transport = data[13] & 0x0F
    if family_code not in _FAMILIES or transport > 2:
        raise ProxyProtocolError("unknown PROXY protocol v2 address family")
    body_length = int.from_bytes(data[14:16], "big")
    length = V2_HEADER + body_length
    if len(data) < length:
        return None
    if command == 0x0:  # LOCAL: health checks and the like; the addresses are ignored
        return ProxyHeader(length=length, version=2, local=True, family="UNSPEC")
    family = _FAMILIES[family_code]
    if family == "UNSPEC":
        return ProxyHeader(length=length, version=2, local=True, family="UNSPEC")
    if transport != 0x1:
        raise ProxyProtocolError("PROXY protocol v2 for a non-stream transport")
    size = _V2_ADDRESS_SIZES[family_code]
    if body_length < size:
        raise ProxyProtocolError("PROXY protocol v2 address block too short")
    block = data[V2_HEADER : V2_HEADER + size]  # TLVs after the addresses are skipped
    if family == "UNIX":
        path = block[:108].split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")
        return ProxyHeader(length=length, version=2, local=False, family=family, source_path=path)
    half = 4 if family == "INET" else 16
    if family == "INET":
        source = str(ipaddress.IPv4Address(block[:half]))
        destination = str(ipaddress.IPv4Address(block[half : 2 * half]))
    else:
        source = str(ipaddress.IPv6Address(block[:half]))
        destination = str(ipaddress.IPv6Address(block[half : 2 * half]))
    ports = block[2 * half :]
    return ProxyHeader(
        length=length,
        version=2,
        local=False,
        family=family,
        source=(source, int.from_bytes(ports[:2], "big")),
        destination=(destination, int.from_bytes(ports[2:4], "big")),
    )
