"""The admin listener (`--admin-bind`): /metrics, /healthz and /readyz, apart from the app.

Owns: its own listening socket and a tiny non-blocking selector loop that reads one request
head per connection (parsed by the protocol layer, with its strict grammar and limits),
answers it and closes. It never enters the app's poller or thread pool,
so it answers while every worker thread is stuck in the app. Must not: run the app, or block
on anything but its own sockets (answers are computed by callbacks that take no long locks).

It runs either in a dedicated daemon thread (`start()`, one process) or driven by a foreign
loop (`fileno()` + `step(0)`, the supervisor's select loop: no thread in a process that forks).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

from wsgiserver.config.bind import parse_bind
from wsgiserver.errors import ProtocolError
from wsgiserver.protocol import NEED_DATA, Limits, Request, ServerConnection
from wsgiserver.protocol.writers import error_response
from wsgiserver.server.listeners import create_listener, listener_address

log = logging.getLogger("wsgiserver.error")

# A scrape is a short GET: small limits, and a body is never read (the answer closes).
LIMITS = Limits(max_request_line=2048, max_header_count=50, max_head_size=8192, max_body_size=0)
CLIENT_TIMEOUT = 5.0  # seconds a scraper gets to send its request and read the answer
MAX_CLIENTS = 64
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# path -> (status, content type, body)
Handler = Callable[[str], tuple[int, str, bytes]]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}


def respond(
    path: str,
    *,
    metrics: Callable[[], str],
    alive: Callable[[], bool],
    ready: Callable[[], tuple[bool, str]],
) -> tuple[int, str, bytes]:
    """Route one admin request."""
    if path == "/metrics":
        return 200, METRICS_TYPE, metrics().encode("utf-8")
    if path == "/healthz":
        ok = alive()
        return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"not alive\n"
    if path == "/readyz":
        ok, why = ready()
        return (200 if ok else 503), "text/plain", (why + "\n").encode("utf-8")
    return 404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n"


class _Client:
    __slots__ = ("conn", "deadline", "outbox", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = ServerConnection(LIMITS)
        self.outbox: bytes | None = None
        self.deadline = time.monotonic() + CLIENT_TIMEOUT


class AdminServer:
    """Binds in the constructor (so `address` is known); serves until `close()`."""

    def __init__(self, bind: str, handler: Handler, *, backlog: int = 64) -> None:
        self._handler = handler
        self.listener = create_listener(parse_bind(bind), backlog)
        self.listener.setblocking(False)
        self.address = listener_address(self.listener)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._clients: dict[int, _Client] = {}
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)

    def fileno(self) -> int:
        """A descriptor that is readable when `step(0)` has work (for a select loop)."""
        return self._selector.fileno()  # DefaultSelector is epoll or kqueue on POSIX

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wsgiserver-admin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self.step(0.5)
            except Exception:  # never let the admin thread die silently
                log.exception("admin listener failed")
                return

    def step(self, timeout: float) -> None:
        """Handle whatever is ready, waiting at most `timeout` seconds."""
        if self._closed.is_set():
            return
        try:
            events = self._selector.select(timeout)
        except (OSError, ValueError):
            return
        for key, mask in events:
            if key.fileobj is self.listener:
                self._accept()
            elif key.fileobj is self._wake_r:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(64)
            else:
                client = self._clients.get(key.fd)
                if client is not None:
                    self._service(client, mask)
        now = time.monotonic()
        for client in [c for c in self._clients.values() if c.deadline <= now]:
            self._drop(client)

    def _accept(self) -> None:
        for _ in range(16):
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            if len(self._clients) >= MAX_CLIENTS:
                # Full of clients that send nothing: the oldest one that has not been
                # answered makes room. Refusing the newcomer instead let 64 idle connections
                # lock the liveness probe out (a restart loop under Kubernetes).
                waiting = [c for c in self._clients.values() if c.outbox is None]
                if not waiting:
                    sock.close()
                    continue
                self._drop(min(waiting, key=lambda c: c.deadline))
            sock.setblocking(False)
            client = _Client(sock)
            self._clients[sock.fileno()] = client
            self._selector.register(sock, selectors.EVENT_READ)

    def _service(self, client: _Client, mask: int) -> None:
        if client.outbox is None:
            try:
                data = client.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(client)
                return
            if not data:
                self._drop(client)
                return
            client.conn.receive_data(data)
            answer = self._answer(client.conn)
            if answer is None:
                return  # the head is not complete yet
            client.outbox = answer
            self._selector.modify(client.sock, selectors.EVENT_WRITE)
        try:
            sent = client.sock.send(client.outbox)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        client.outbox = client.outbox[sent:]
        if not client.outbox:
            self._drop(client)

    def _answer(self, conn: ServerConnection) -> bytes | None:
        """The whole answer to the request head in `conn`, or None until it is complete."""
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            return error_response(exc.status, exc.reason, exc.detail, extra="")
        if event is NEED_DATA:
            return None
        if type(event) is not Request:  # the client closed before sending a request
            return b""
        if event.method not in ("GET", "HEAD"):
            status, kind, body = 405, "text/plain", b"GET or HEAD only\n"
        else:
            path = event.path.decode("latin-1")
            try:
                status, kind, body = self._handler(path)
            except Exception:
                log.exception("admin endpoint %s failed", path)
                status, kind, body = 503, "text/plain", b"error\n"
        headers = [("Content-Type", kind), ("Cache-Control", "no-store")]
        if status == 405:
            headers.append(("Allow", "GET, HEAD"))  # RFC 9110 section 15.5.6: a 405 says which
        reason = _REASONS.get(status, "Service Unavailable")
        head = conn.send_response(f"{status} {reason}", headers, length_hint=len(body), close=True)
        return head + conn.send_data(body) + conn.send_end()

    def _drop(self, client: _Client) -> None:
        self._clients.pop(client.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(client.sock)
        client.sock.close()

    def close(self) -> None:
        """Stop serving and close every socket. Safe to call twice, from any thread."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        for client in list(self._clients.values()):
            self._drop(client)
        self._selector.close()
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()
        address = self.address
        if address.path is not None:
            with contextlib.suppress(OSError):
                import os

                os.unlink(address.path)

    def close_inherited(self) -> None:
        """In a forked child: close the descriptors without touching the shared state."""
        with contextlib.suppress(OSError):
            self._selector.close()
        for sock in (self.listener, self._wake_r, self._wake_w):
            sock.close()
        for client in self._clients.values():
            client.sock.close()
