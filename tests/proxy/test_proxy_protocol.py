"""PROXY protocol v1/v2: the sans-IO parser, and a real server fed by raw sockets."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest

from tests.tls.helpers import Certs, environ_app
from wsgiserver.protocol.proxy_protocol import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyProtocolError,
    parse_proxy_header,
)
from wsgiserver.testing import serving

TIMEOUT = 5.0
REQUEST = b"GET /p HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"


def v2(command: int, family: int, body: bytes) -> bytes:
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


V2_INET = v2(1, 0x11, bytes([192, 0, 2, 1, 10, 0, 0, 1]) + struct.pack("!HH", 5555, 80))
V2_INET6 = v2(
    1,
    0x21,
    socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    + socket.inet_pton(socket.AF_INET6, "::1")
    + struct.pack("!HH", 4711, 443),
)
V2_TLVS = v2(
    1,
    0x11,
    bytes([198, 51, 100, 2, 10, 0, 0, 1]) + struct.pack("!HH", 1, 2) + b"\x04\x00\x02ab",
)
V2_UNIX = v2(1, 0x31, b"/run/client.sock".ljust(108, b"\x00") + b"\x00" * 108)
V2_LOCAL = v2(0, 0x00, b"")


@pytest.mark.parametrize(
    ("data", "source", "local"),
    [
        (b"PROXY TCP4 192.0.2.1 10.0.0.1 5555 80\r\n", ("192.0.2.1", 5555), False),
        (b"PROXY TCP6 2001:db8::7 ::1 4711 443\r\n", ("2001:db8::7", 4711), False),
        (b"PROXY UNKNOWN\r\n", None, True),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None, True),
        (V2_INET, ("192.0.2.1", 5555), False),
        (V2_INET6, ("2001:db8::7", 4711), False),
        (V2_TLVS, ("198.51.100.2", 1), False),
        (V2_LOCAL, None, True),
    ],
)
def test_parse_whole_and_byte_by_byte(
    data: bytes, source: tuple[str, int] | None, local: bool
) -> None:
    following = b"GET / HTTP/1.1\r\n"
    header = parse_proxy_header(data + following)
    assert isinstance(header, ProxyHeader)
    assert header.length == len(data)
    assert header.source == source
    assert header.local is local
    for end in range(len(data)):  # every proper prefix is "need more", never an error
        assert parse_proxy_header(data[:end]) is None


def test_parse_unix() -> None:
    header = parse_proxy_header(V2_UNIX)
    assert header is not None
    assert header.family == "UNIX"
    assert header.source is None
    assert header.source_path == "/run/client.sock"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 5555\r\n",
        b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 +1 2\r\n",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 01 2\r\n",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 65536 2\r\n",
        b"PROXY TCP5 192.0.2.1 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\n",
        b"PROXY " + b"x" * 120,
        b"PROXX",
        V2_SIGNATURE[:5] + b"X",
        V2_SIGNATURE + b"\x31\x11\x00\x00",  # version 3
        V2_SIGNATURE + b"\x22\x11\x00\x00",  # command 2
        V2_SIGNATURE + b"\x21\x12\x00\x0c" + b"\x00" * 12,  # DGRAM
        V2_SIGNATURE + b"\x21\x11\x00\x04" + b"\x00" * 4,  # address block too short
        V2_SIGNATURE + b"\x21\x41\x00\x00",  # unknown family
    ],
)
def test_malformed_headers_raise(data: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse_proxy_header(data)


def exchange(port: int, *pieces: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        for piece in pieces:
            sock.sendall(piece)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # closed with our request unread: a reset, no answer
            pass
    return received


def body_of(response: bytes) -> dict[str, Any]:
    assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response[:200]
    result: dict[str, Any] = json.loads(response.partition(b"\r\n\r\n")[2])
    return result


@pytest.mark.parametrize(
    ("header", "address", "port"),
    [
        (b"PROXY TCP4 192.0.2.1 10.0.0.1 5555 80\r\n", "192.0.2.1", "5555"),
        (V2_INET6, "2001:db8::7", "4711"),
        (V2_TLVS, "198.51.100.2", "1"),
    ],
)
def test_server_takes_the_client_from_the_header(header: bytes, address: str, port: str) -> None:
    with serving(environ_app, proxy_protocol=True) as srv:
        # Sent in two pieces: the header, then (after it) the request.
        environ = body_of(exchange(srv.port, header, REQUEST))
    assert environ["REMOTE_ADDR"] == address
    assert environ["REMOTE_PORT"] == port
    assert environ["wsgiserver.peer_addr"][0] == "127.0.0.1"


def test_header_split_across_packets_and_local_command() -> None:
    header = b"PROXY TCP4 192.0.2.1 10.0.0.1 5555 80\r\n"
    with serving(environ_app, proxy_protocol=True) as srv:
        environ = body_of(exchange(srv.port, header[:7], header[7:20], header[20:] + REQUEST))
        assert environ["REMOTE_ADDR"] == "192.0.2.1"
        environ = body_of(exchange(srv.port, V2_LOCAL[:10], V2_LOCAL[10:], REQUEST))
        assert environ["REMOTE_ADDR"] == "127.0.0.1"  # LOCAL: the real connection


def test_untrusted_peer_and_malformed_header_are_closed_without_http() -> None:
    header = b"PROXY TCP4 192.0.2.1 10.0.0.1 5555 80\r\n"
    with serving(environ_app, proxy_protocol=True, forwarded_allow_ips="10.0.0.1") as srv:
        assert exchange(srv.port, header + REQUEST) == b""
    with serving(environ_app, proxy_protocol=True) as srv:
        assert exchange(srv.port, REQUEST) == b""  # no header: not even a 400
        assert exchange(srv.port, b"PROXY TCP4 bad\r\n" + REQUEST) == b""


def test_proxy_header_then_tls(certs: Certs) -> None:
    options: dict[str, Any] = {"certfile": certs.cert, "keyfile": certs.key, "proxy_protocol": True}
    with serving(environ_app, **options) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        sock.sendall(V2_INET)
        with certs.client_context().wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(REQUEST)
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    environ = body_of(received)
    assert environ["REMOTE_ADDR"] == "192.0.2.1"
    assert environ["wsgi.url_scheme"] == "https"
