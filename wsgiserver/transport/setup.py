"""What happens on a connection before its first HTTP byte: a PROXY header, then TLS.

Part of the transport layer: `ConnectionSetup.advance()` is called by `Transport.serve()` each
time the socket is readable and never blocks waiting for the client, so a slow or idle
handshake parks in the poller (under the request-head deadline) instead of holding a thread.

Order: the PROXY protocol header (only from trusted peers; consumed exactly, never a byte of
what follows), then a peek at the first byte: a TLS handshake record (0x16) starts a
non-blocking handshake; what looks like a plain HTTP request gets a clear 400 from the
transport; anything else is closed.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wsgiserver.protocol.proxy_protocol import ProxyProtocolError, parse_proxy_header
from wsgiserver.transport.tls import connection_environ

log = logging.getLogger("wsgiserver.error")

READY = 0  # the connection speaks HTTP now
WAIT = 1  # park until readable (under the head deadline)
CLOSE = 2  # close without a word
PLAINTEXT = 3  # plain HTTP on a TLS port: the transport answers 400 and closes

PROXY_PEEK = 536  # the v1 receive buffer the specification recommends
TLS_HANDSHAKE = 0x16  # the content type of a TLS handshake record (RFC 8446 section 5.1)
_HTTP_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # a method is a token; ours upper-case
PLAINTEXT_DETAIL = "this port speaks HTTPS (TLS); use an https:// URL"


@dataclass(frozen=True, slots=True)
class Edge:
    """Per-server connection options for the transport (no config object below the server)."""

    tls: ssl.SSLContext | None = None
    proxy_protocol: bool = False
    trusted: Callable[[str | None], bool] | None = None  # is this peer address a proxy?
    handshake_write_timeout: float = 10.0  # waiting to send handshake bytes to a slow reader


class ConnectionSetup:
    """The pre-HTTP state of one connection. Used by one thread at a time, like its transport."""

    __slots__ = (
        "_buffer",
        "_edge",
        "_stage",
        "alpn",
        "environ",
        "peer",
        "plaintext_head",
        "remote",
        "sock",
    )

    def __init__(self, edge: Edge, sock: socket.socket, remote: tuple[str, int] | None) -> None:
        self._edge = edge
        self.sock: socket.socket = sock
        self.peer = remote  # the socket's peer (a proxy when PROXY protocol is on)
        self.remote = remote  # the client, as the environ and access log see it
        self.environ: dict[str, Any] | None = None  # what this connection adds to environs
        self._buffer = b""
        self.plaintext_head = False  # PLAINTEXT: the request looks like a HEAD (no content)
        self.alpn: str | None = None  # the protocol chosen by ALPN in the TLS handshake
        self._stage = 0 if edge.proxy_protocol else (1 if edge.tls is not None else 3)

    def advance(self) -> int:
        """Make progress without blocking on the client: READY, WAIT, CLOSE or PLAINTEXT."""
        try:
            if self._stage == 0:
                result = self._proxy_header()
                if result != READY:
                    return result
                self._stage = 1 if self._edge.tls is not None else 3
            if self._stage == 1:
                result = self._sniff()
                if result != READY:
                    return result
                self._stage = 2
            if self._stage == 2:
                result = self._handshake()
                if result != READY:
                    return result
                self._stage = 3
        except OSError as exc:
            log.debug("connection from %s failed before HTTP: %s", self.peer, exc)
            return CLOSE
        return READY

    def _proxy_header(self) -> int:
        trusted = self._edge.trusted
        if trusted is not None and not trusted(self.peer[0] if self.peer else None):
            log.info("PROXY protocol header refused from untrusted %s", self.peer)
            return CLOSE
        try:
            peeked = self.sock.recv(PROXY_PEEK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return WAIT
        if not peeked:
            return CLOSE
        data = self._buffer + peeked
        try:
            header = parse_proxy_header(data)
        except ProxyProtocolError as exc:
            log.info("bad PROXY protocol header from %s: %s", self.peer, exc)
            return CLOSE
        if header is None or header.length > len(data):
            # Every byte of an incomplete header belongs to it: take them, so the socket
            # is not readable again until more arrive (a peek alone would spin the poller).
            self._buffer += _recv_exactly(self.sock, len(peeked))
            return WAIT
        _recv_exactly(self.sock, header.length - len(self._buffer))
        self._buffer = b""
        if not header.local:
            if header.source is not None:
                self.remote = header.source
            elif header.family == "UNIX":
                self.remote = None
            self.environ = {"wsgiserver.peer_addr": self.peer}
        return READY

    def _sniff(self) -> int:
        try:
            first = self.sock.recv(5, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return WAIT
        if not first:
            return CLOSE
        if first[0] == TLS_HANDSHAKE:
            tls = self._edge.tls
            if tls is None:  # pragma: no cover - stage 1 only runs with TLS
                return CLOSE
            self.sock = tls.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
            return READY
        if first[0] not in _HTTP_START:
            return CLOSE
        self.plaintext_head = first == b"HEAD "
        return PLAINTEXT

    def _handshake(self) -> int:
        sock = self.sock
        if not isinstance(sock, ssl.SSLSocket):  # pragma: no cover - wrapped in _sniff
            return CLOSE
        while True:
            try:
                sock.do_handshake()
                break
            except ssl.SSLWantReadError:
                return WAIT
            except ssl.SSLWantWriteError:
                # The poller waits for readability only; a handshake flight that does not
                # fit the send buffer (rare: a few KB) is waited for here, bounded.
                waiter = select.poll()
                waiter.register(sock, select.POLLOUT)
                if not waiter.poll(self._edge.handshake_write_timeout * 1000):
                    return CLOSE
            except ssl.SSLError as exc:
                log.debug("TLS handshake with %s failed: %s", self.peer, exc.reason or exc)
                return CLOSE
        self.alpn = sock.selected_alpn_protocol()
        environ = connection_environ(sock)
        if self.environ is not None:
            environ.update(self.environ)
        self.environ = environ
        return READY


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    """Take `count` bytes that a peek showed are already received."""
    data = b""
    while len(data) < count:
        piece = sock.recv(count - len(data))
        if not piece:
            raise ConnectionResetError("connection closed inside the PROXY header")
        data += piece
    return data
