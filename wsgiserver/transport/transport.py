"""One connected socket: the imperative shell around a `ServerConnection`.

Owns: recv/send/sendfile on one socket, the request-head and keep-alive deadlines, waiting
for a body piece or for a slow reader (with timeouts), error responses (the single place that
turns an `HTTPError` into bytes on the wire), lingering close, and the access-log record.
Must not: own threads or the poller. `serve()` runs until it would block waiting for the
next request and then tells the server to park it (`PARK`) or that it is finished (`CLOSE`);
it never blocks waiting for a request head, so idle connections never hold a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from wsgiserver.errors import (
    ApplicationError,
    BadRequest,
    ClientRequestTimeout,
    ConnectionLost,
    HTTPError,
    ProtocolError,
    ResponseFramingError,
    ServiceUnavailable,
)
from wsgiserver.gateway.gateway import Gateway, Outcome
from wsgiserver.gateway.spool import SPOOL_THRESHOLD, BodySpool, SpoolError
from wsgiserver.observability import metrics as m
from wsgiserver.observability.accesslog import RequestRecord, escape
from wsgiserver.protocol import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    Limits,
    Request,
    ServerConnection,
)
from wsgiserver.protocol.writers import error_response
from wsgiserver.transport import setup as setup
from wsgiserver.transport.deadlines import RequestDeadlines

log = logging.getLogger("wsgiserver.error")

PARK = 1  # wait (in the poller) until readable or until `deadline`
CLOSE = 2  # the transport is closed

# One read takes a prebuffered body (up to 64 KiB) together with its head: one recv instead
# of two per request. Below glibc's 128 KiB mmap threshold on purpose: recv() allocates its
# full size first, and a mapped block costs fresh pages on every call (several times slower).
RECV_SIZE = 126976
SEND_FILE_BLOCK = 65536  # TLS has no sendfile: the file goes out in blocks of this size


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. See docs: every timeout is listed in one table.

    These defaults are wsgiserver's: the `Config` options that set them (`keepalive_timeout`
    ...) take their defaults from a `Timeouts()`, so each is written once, here.
    """

    keepalive: float = 5.0  # idle time allowed between requests
    header: float = 20.0  # a whole request head, from accept or from its first byte
    body: float = 30.0  # inactivity while the app reads the request body
    send: float = 60.0  # a whole write to a slow reader
    linger: float = 2.0  # reading and discarding after an error, before closing
    prebuffer: int = 65536  # bodies up to this size are received before the app runs
    # A body must arrive at `min_body_rate` bytes/s on average once `body_rate_grace` seconds
    # have passed (0 disables): a client trickling a body cannot hold a worker for
    # body_timeout per byte. Deadline = start + grace + received / rate (as Apache MinRate).
    min_body_rate: int = 500
    body_rate_grace: float = 10.0


@dataclass(frozen=True, slots=True)
class ChunkedBodies:
    """How chunked request bodies reach the app (docs/frameworks.rst, "Request bodies").

    By default a chunked body is received whole before the app runs (in memory up to
    `spool_threshold` bytes, then in an unnamed temporary file in `spool_dir`), so the app
    gets a CONTENT_LENGTH; `stream=True` hands it over as it arrives instead. The defaults
    are the `Config` options' (`stream_chunked`, `spool_threshold`, `spool_dir`).
    """

    stream: bool = False
    spool_threshold: int = SPOOL_THRESHOLD
    spool_dir: str | None = None


class Transport:
    """Serves requests on one accepted socket. Exactly one thread uses it at a time."""

    __slots__ = (
        "_access",
        "_body_received",
        "_body_started",
        "_chunked",
        "_environ",
        "_extra",
        "_gateway",
        "_head_at",
        "_head_deadline",
        "_linger_until",
        "_metrics",
        "_open_record",
        "_outcome",
        "_overload",
        "_pending",
        "_send_lock",
        "_setup",
        "_spool",
        "_timed_out",
        "_timeouts",
        "_tls",
        "conn",
        "deadline",
        "ready_since",
        "remote",
        "sock",
    )

    def __init__(
        self,
        sock: socket.socket,
        remote: tuple[str, int] | None,
        gateway: Gateway,
        limits: Limits,
        timeouts: Timeouts,
        access: Callable[[RequestRecord], None] | None = None,
        edge: setup.Edge | None = None,
        *,
        metrics: m.ProcessMetrics | None = None,
        overload: Overload | None = None,
        chunked: ChunkedBodies = ChunkedBodies(),
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.remote = remote
        # A PROXY header and/or TLS come before HTTP (wsgiserver/transport/setup.py); the environ
        # additions of this connection (TLS variables, the proxy's address) are kept here.
        self._setup = setup.ConnectionSetup(edge, sock, remote) if edge is not None else None
        self._extra: dict[str, object] | None = None
        self._environ: dict[str, object] | None = None  # the gateway's connection_environ
        self._tls = False
        self.conn = ServerConnection(limits)
        self._gateway = gateway
        self._timeouts = timeouts
        self._access = access
        now = time.monotonic()
        # RFC 9112 section 9.5 leaves timeouts to us: the first head must arrive within
        # `header` seconds of accept, each later head within `header` of its first byte.
        self._head_deadline: float | None = now + timeouts.header
        self._linger_until: float | None = None
        self._pending: Request | None = None
        self._chunked = chunked
        # The chunked body of `_pending`, received before the app runs (gateway/spool.py).
        self._spool: BodySpool | None = None
        self._head_at = 0.0  # monotonic: when the current head was complete (access log only)
        self._body_started: float | None = None  # when we first waited for body bytes
        self._body_received = 0
        self.deadline = self._head_deadline
        # Observability and overload control (docs/observability.rst); all None/0
        # by default, so a plain request pays only `is not None` tests.
        self._metrics = metrics
        self._overload = overload
        self._outcome: Outcome | None = None
        # An access record whose request ended in an HTTPError: `_fail` completes it with
        # the error it sends.
        self._open_record: tuple[RequestRecord, Outcome] | None = None
        self.ready_since = 0.0  # when this connection's work became ready (the server sets it)
        self._timed_out = False
        self._send_lock = (
            threading.Lock() if overload is not None and overload.deadlines is not None else None
        )

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def receiving_body(self) -> bool:
        """A request head was read and its body is being received before the app runs (a
        graceful stop lets it finish, like any request in flight)."""
        return self._pending is not None

    # -- the request loop -----------------------------------------------------------------

    def serve(self) -> int:
        """Serve every request that can be served without waiting; PARK or CLOSE."""
        conn = self.conn
        try:
            if self._linger_until is not None:
                return self._linger()
            if self._setup is not None:
                step = self._set_up(self._setup)
                if step is not None:
                    return step
            if (
                self._pending is None
                and not conn.has_buffered_data
                and not conn.eof_received
                and not self._receive_nowait()
            ):
                # Woken by the poller with nothing buffered: the bytes are in the socket, so
                # read before asking the parser (which could only answer NEED_DATA).
                return self._park_idle()
            while True:
                if self._pending is not None:
                    request = self._pending
                    spool = self._spool
                    if spool is not None:
                        if not self._collect(spool):
                            if not self._receive_nowait():
                                now = time.monotonic()
                                deadline = now + self._timeouts.body
                                return self._park(min(deadline, self._rate_deadline(now)))
                            continue
                    elif conn.buffered_size < (request.content_length or 0):
                        if conn.eof_received:
                            return self._lost()  # the client left before sending its body
                        if not self._receive_nowait():
                            now = time.monotonic()
                            deadline = now + self._timeouts.body
                            return self._park(min(deadline, self._rate_deadline(now)))
                        continue
                    self._pending = None
                    if not self._respond(request):
                        return self._finish()
                    continue
                event = conn.next_event()
                if event is NEED_DATA:
                    if not self._receive_nowait():
                        return self._park_idle()
                    continue
                if type(event) is Request:
                    self._head_deadline = None
                    if self._access is not None:
                        self._head_at = time.monotonic()
                    self._body_started = None
                    self._body_received = 0
                    if event.chunked and not self._chunked.stream:
                        self._start_spool(event)
                        continue
                    length = event.content_length
                    if (
                        length is not None
                        and not event.expect_continue
                        and length <= self._timeouts.prebuffer
                        and conn.buffered_size < length
                    ):
                        # Receive a small body before the app runs, so a slow uploader
                        # waits in the poller instead of holding a worker thread.
                        self._pending = event
                        continue
                    if not self._respond(event):
                        return self._finish()
                    if not conn.has_buffered_data:
                        # A keep-alive client sends its next request only after reading
                        # this response: park now rather than pay for a recv that would
                        # almost surely find nothing (the poller reports it when it comes).
                        return self._park_idle()
                    continue
                if type(event) is ConnectionClosed or event is PAUSED:
                    return self.close()
        except HTTPError as exc:
            return self._fail(exc)
        except (ConnectionLost, OSError):
            return self._lost()

    def _lost(self) -> int:
        """The client went away (or the socket failed): close. A request whose body was
        still arriving gets its one access record, with no status (none was sent)."""
        if self._pending is not None and self._access is not None:
            self._record_error(0, 0)
        return self.close()

    def _start_spool(self, request: Request) -> None:
        """Receive this chunked body whole before the app runs, waiting in the poller."""
        chunked = self._chunked
        self._spool = BodySpool(chunked.spool_threshold, chunked.spool_dir)
        self._pending = request
        # RFC 9110 section 10.1.1: the app is not asked first here, so the server answers
        # the expectation itself as it starts to read (the head's own checks have passed).
        interim = self.conn.send_continue()
        if interim:
            self.send(interim)

    def _collect(self, spool: BodySpool) -> bool:
        """Move the decoded body bytes buffered so far into `spool`; True once complete.

        The trailer section was validated by the protocol layer and is dropped here (PEP 3333
        has no place for it).
        """
        conn = self.conn
        while True:
            event = conn.next_event()
            if type(event) is not Data:
                return event is not NEED_DATA  # else EndOfMessage
            try:
                spool.write(event.data)
            except SpoolError as exc:
                log.error("%s", exc.detail)
                raise

    def _release_spool(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.close()

    def _set_up(self, pending: setup.ConnectionSetup) -> int | None:
        """Advance the PROXY header / TLS handshake; None once HTTP can be served."""
        step = pending.advance()
        self.sock = pending.sock  # wrapped for TLS (the same fd; the old object is detached)
        if step == setup.WAIT:
            return self._park_idle()
        if step == setup.PLAINTEXT:
            self._setup = None
            return self._fail(BadRequest(setup.PLAINTEXT_DETAIL), pending.plaintext_head)
        if step != setup.READY:
            return self.close()
        self._setup = None
        self.remote = pending.remote
        self._extra = pending.environ
        self._tls = isinstance(pending.sock, ssl.SSLSocket)
        return None

    def _respond(self, request: Request) -> bool:
        """Run the app for `request`; True if the connection can carry another request."""
        if self._metrics is not None or self._overload is not None:
            return self._respond_observed(request)
        return self._respond_app(request)

    def _respond_observed(self, request: Request) -> bool:
        """`_respond_app` with queue-timeout shedding, a request deadline and metrics."""
        now = time.monotonic()
        since = self.ready_since
        self.ready_since = 0.0  # pipelined requests after this one did not wait in a queue
        wait = now - since if 0.0 < since < now else 0.0
        counters = self._metrics.here() if self._metrics is not None else None
        overload = self._overload
        if overload is not None and overload.queue_timeout and wait > overload.queue_timeout:
            if counters is not None:
                counters.add(m.SHED)
                counters.timeout("queue")
                counters.request(request.method, 503, 0.0, wait)
            raise ServiceUnavailable(f"waited {wait:.3f}s for a worker thread (queue_timeout)")
        entry = None
        deadlines = overload.deadlines if overload is not None else None
        if deadlines is not None:
            label = f"{request.method} {_printable(request.target)}"
            entry = deadlines.start(now, self._abort_for_timeout, label)
        if counters is not None:
            counters.add(m.IN_FLIGHT)
        status = 500
        try:
            keep = self._respond_app(request)
            outcome = self._outcome
            status = int(outcome.status[:3]) if outcome is not None and outcome.status else 0
            return keep and not self._timed_out
        except HTTPError as exc:
            status = exc.status
            raise
        finally:
            if entry is not None and deadlines is not None:
                deadlines.end(entry)
            if counters is not None:
                counters.add(m.IN_FLIGHT, -1)
                if self._timed_out:
                    status = 504
                counters.request(request.method, status, time.monotonic() - now, wait)

    def _abort_for_timeout(self) -> None:
        """Another thread (the housekeeper): the request deadline passed. 504 if no head was
        sent, then shut the socket down (never close it: its owner thread still holds it)."""
        lock = self._send_lock
        got = lock.acquire(blocking=False) if lock is not None else False
        try:
            self._timed_out = True
            # Not over TLS: the SSL object must not be used by two threads at once.
            if got and not self.conn.response_started and not self._tls:
                with contextlib.suppress(OSError):
                    self.sock.send(
                        error_response(
                            504,
                            "Gateway Timeout",
                            "the application did not answer in time",
                            extra=self._gateway.date(),
                            head_request=self.conn.answers_head,
                        )
                    )
        finally:
            if got and lock is not None:
                lock.release()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _respond_app(self, request: Request) -> bool:
        conn = self.conn
        record = self._start_record(request) if self._access is not None else None
        outcome = Outcome()
        self._outcome = outcome
        status: int | None = None  # for the record, when no response head carried one
        try:
            environ = self._environ
            if environ is None:
                environ = self._environ = self._gateway.connection_environ(
                    self, self.remote, self._extra
                )
            self._gateway.handle(
                conn, self, request, environ, self.remote, outcome, spool=self._spool
            )
        except HTTPError as exc:
            status = exc.status
            if isinstance(exc, ApplicationError):
                self._log_failure(request, outcome, exc.detail, exc.__cause__ or exc)
            if record is not None and not conn.response_started:
                self._open_record = (record, outcome)  # `_fail` logs it with its answer
                record = None
            raise
        except ResponseFramingError as exc:
            self._log_failure(request, outcome, str(exc), None)
            outcome.aborted = True
        except (ConnectionLost, OSError):
            # The client went away mid-request: still one access-log line, with what was
            # sent before the connection broke.
            raise
        except BaseException as exc:
            if not conn.response_started:
                # A BaseException (SystemExit, KeyboardInterrupt...) from the app before any
                # head went out: answer 500 like any other app failure, not a bare close.
                status = 500
                message = f"the application raised {type(exc).__name__}"
                self._log_failure(request, outcome, message, exc)
                raise ApplicationError("the application raised an exception") from exc
            message = "the application failed after the response head was sent"
            self._log_failure(request, outcome, message, exc)
            outcome.aborted = True
        finally:
            self._release_spool()
            if outcome.close_error is not None:
                self._log_close_error(outcome)
            if record is not None:
                self._end_record(record, outcome, status)
        if outcome.aborted or conn.failed or not conn.keep_alive:
            return False
        if not conn.request_complete and not self._drain():
            return False
        conn.start_next_cycle()
        # A pipelined request already begun has its head deadline start now.
        self._head_deadline = (
            time.monotonic() + self._timeouts.header if conn.has_buffered_data else None
        )
        return True

    def _drain(self) -> bool:
        """Read and drop the body the app left unread, up to the drain limit."""
        conn = self.conn
        # Bytes already buffered cost no read: the same rule `send_response` used to promise
        # keep-alive (remaining - buffered <= max_drain_size). Counting them too made the
        # drain give up on a body the response had said it would drain: a silent close.
        budget = conn.limits.max_drain_size + conn.buffered_size
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                conn.receive_data(self.receive())
            elif type(event) is Data:
                budget -= len(event.data)
                if budget < 0:
                    return False
            else:
                return conn.request_complete

    # -- receiving ------------------------------------------------------------------------

    def _receive_nowait(self) -> bool:
        """Feed whatever the socket has; False if it has nothing right now."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        if self._tls and data:
            data = self._read_pending(data)
        conn = self.conn
        if (
            data
            and self._head_deadline is None
            and not conn.buffered_size
            and self._pending is None
        ) and conn.request is None:
            self._head_deadline = time.monotonic() + self._timeouts.header
        if conn.request is not None:
            self._body_received += len(data)
        if self._metrics is not None:
            self._metrics.here().add(m.BYTES_IN, len(data))
        conn.receive_data(data)
        return True

    def _read_pending(self, data: bytes) -> bytes:
        """TLS: take the bytes already decrypted inside the SSL object (the poller cannot
        see them: parking with them would stall the connection until its deadline)."""
        sock = self.sock
        if not isinstance(sock, ssl.SSLSocket):  # pragma: no cover - _tls implies SSLSocket
            return data
        while sock.pending():
            try:
                data += sock.recv(RECV_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
        return data

    def _rate_deadline(self, now: float) -> float:
        """When the body is too slow for the minimum rate (inf if disabled); starts the clock."""
        rate = self._timeouts.min_body_rate
        if not rate:
            return float("inf")
        if self._body_started is None:
            self._body_started = now
        return self._body_started + self._timeouts.body_rate_grace + self._body_received / rate

    def receive(self) -> bytes:
        """Channel: block for the next bytes of a body (b"" at EOF), within the body timeout."""
        if self._metrics is not None:
            data = self._receive_body()
            self._metrics.here().add(m.BYTES_IN, len(data))
            return data
        return self._receive_body()

    def _receive_body(self) -> bytes:
        sock = self.sock
        try:
            data = sock.recv(RECV_SIZE)
            self._body_received += len(data)
            return data
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError as exc:
            # A reset (or a broken TLS record) is the client's doing: the app must not see a
            # raw OSError, which it would turn into a 500 logged as its own failure.
            raise ConnectionLost(str(exc)) from exc
        timeout = self._timeouts.body
        left = self._rate_deadline(time.monotonic()) - time.monotonic()
        too_slow = left < timeout
        if left <= 0:
            raise ClientRequestTimeout("request body arrived too slowly")
        sock.settimeout(min(timeout, left))
        try:
            data = sock.recv(RECV_SIZE)
            self._body_received += len(data)
            return data
        except TimeoutError:
            if self._metrics is not None:
                self._metrics.here().timeout("body")
            if too_slow:
                raise ClientRequestTimeout("request body arrived too slowly") from None
            raise ClientRequestTimeout("request body not received in time") from None
        except OSError as exc:
            raise ConnectionLost(str(exc)) from exc
        finally:
            sock.setblocking(False)

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Channel: send all of `data`, waiting at most the send timeout for a slow reader."""
        if self._send_lock is not None:
            self._send_guarded(data)
            return
        if self._metrics is not None:
            self._metrics.here().add(m.BYTES_OUT, len(data))
        sock = self.sock
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            sent = 0
        except OSError as exc:
            raise ConnectionLost(str(exc)) from exc
        if sent == len(data):
            return
        sock.settimeout(self._timeouts.send)
        try:
            sock.sendall(memoryview(data)[sent:])
        except OSError as exc:
            if isinstance(exc, TimeoutError) and self._metrics is not None:
                self._metrics.here().timeout("send")
            raise ConnectionLost(str(exc)) from exc
        finally:
            sock.setblocking(False)

    def _send_guarded(self, data: bytes) -> None:
        """`send` when a request deadline may fire: nothing goes out after the 504."""
        lock = self._send_lock
        if lock is None:  # pragma: no cover - only called when set
            self.send(data)
            return
        with lock:
            if self._timed_out:
                raise ConnectionLost("the request timed out")
            self._send_lock = None  # the owner thread alone restores it (no other writer)
            try:
                self.send(data)
            finally:
                self._send_lock = lock

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int:
        """Channel: send `count` bytes of `file` from `offset` with os.sendfile where possible."""
        if self._tls:
            return self._send_file_blocks(file, offset, count)
        sock = self.sock
        sock.settimeout(self._timeouts.send)
        try:
            sent = sock.sendfile(file, offset, count)
        except OSError as exc:
            raise ConnectionLost(str(exc)) from exc
        finally:
            sock.setblocking(False)
        if sent < count:
            raise ConnectionLost("file ended before the promised length was sent")
        return sent

    def _send_file_blocks(self, file: IO[bytes], offset: int, count: int) -> int:
        """TLS: the kernel cannot encrypt, so read the file in blocks and send each one."""
        fd = file.fileno()
        sent = 0
        while sent < count:
            try:
                block = os.pread(fd, min(SEND_FILE_BLOCK, count - sent), offset + sent)
            except OSError as exc:
                raise ConnectionLost(f"reading the file failed: {exc}") from exc
            if not block:
                raise ConnectionLost("file ended before the promised length was sent")
            self.send(block)
            sent += len(block)
        file.seek(offset + sent)  # where socket.sendfile leaves it, too
        return sent

    # -- ending ---------------------------------------------------------------------------

    def _fail(self, exc: HTTPError, head_request: bool | None = None) -> int:
        """The one place an HTTPError becomes a response: answer, then close lingering.

        `head_request` says whether the answer is to a HEAD (no content); by default the
        connection knows, even for a head it refused.
        """
        conn = self.conn
        self._release_spool()  # a body refused mid-way (413, bad chunk): free it now
        if self._metrics is not None and isinstance(exc, ProtocolError):
            self._metrics.here().parse_error(exc.status)
        if not conn.response_started:
            extra = self._gateway.date()
            if exc.status == 503:
                extra += "Retry-After: 1\r\n"  # RFC 9110 section 10.2.3
            answer = error_response(
                exc.status,
                exc.reason,
                exc.detail,
                extra=extra,
                head_request=conn.answers_head if head_request is None else head_request,
            )
            try:
                self.send(answer)
            except (ConnectionLost, OSError):
                return self.close()
            finally:
                if self._access is not None:
                    self._record_error(exc.status, _content_size(answer))
        return self._start_linger()

    def _record_error(self, status: int, body_bytes: int) -> None:
        """One access record for a request the server answered with an error itself."""
        opened, self._open_record = self._open_record, None
        if opened is not None:
            record, outcome = opened
        else:
            request = self.conn.request
            if request is not None:  # refused before the app ran (--queue-timeout)
                record = self._start_record(request)
            else:  # a head that could not be parsed: no method or target to report
                record = RequestRecord(
                    remote=self.remote[0] if self.remote else "-", started=time.time()
                )
            outcome = Outcome()
        self._end_record(record, outcome, status, body_bytes)

    def _finish(self) -> int:
        """After the last response: close, lingering if the client may still be sending."""
        conn = self.conn
        if conn.has_buffered_data or not conn.request_complete:
            return self._start_linger()
        self._close_notify()
        return self.close()

    def _close_notify(self) -> None:
        """TLS: tell the client the response ended here (RFC 8446 section 6.1), not cut."""
        sock = self.sock
        if self._tls and isinstance(sock, ssl.SSLSocket):
            # Non-blocking: the alert goes out; not waiting for the client's (WantRead).
            with contextlib.suppress(OSError, ValueError):
                sock.unwrap()

    def _start_linger(self) -> int:
        # RFC 9112 section 9.6: close the sending side first and keep reading for a moment,
        # so the client receives our response before any reset caused by its unread data.
        self._close_notify()
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return self.close()
        self._linger_until = time.monotonic() + self._timeouts.linger
        return self._linger()

    def _linger(self) -> int:
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                if self._linger_until is None:
                    return self.close()
                return self._park(self._linger_until)
            except OSError:
                return self.close()
            if not data:
                return self.close()

    def _park_idle(self) -> int:
        if self._head_deadline is not None:
            return self._park(self._head_deadline)
        return self._park(time.monotonic() + self._timeouts.keepalive)

    def _park(self, deadline: float) -> int:
        self.deadline = deadline
        self.ready_since = 0.0  # waiting for the client now, not for a thread
        return PARK

    def expire(self) -> None:
        """The deadline passed while parked: 408 if a head was due, then close."""
        if (
            self._linger_until is None
            and self._setup is None  # nothing may be sent before a PROXY header / TLS is done
            and (self._head_deadline is not None or self._pending)
        ):
            detail = "request not received in time"
            if self._pending is not None and self._rate_deadline(time.monotonic()) <= self.deadline:
                detail = "request body arrived too slowly"
            if self._metrics is not None:
                self._metrics.here().timeout("body" if self._pending is not None else "header")
            answer = error_response(
                408,
                "Request Timeout",
                detail,
                extra=self._gateway.date(),
                head_request=self.conn.answers_head,
            )
            with contextlib.suppress(OSError):
                self.sock.send(answer)
            if self._pending is not None and self._access is not None:
                # A complete head was answered: one access record, as for any other error.
                self._record_error(408, _content_size(answer))
        elif self._metrics is not None and self._linger_until is None:
            self._metrics.here().timeout("keepalive")
        self.close()

    def close(self) -> int:
        self._release_spool()
        self._pending = None
        with contextlib.suppress(OSError):
            self.sock.close()
        return CLOSE

    # -- logging --------------------------------------------------------------------------

    def _start_record(self, request: Request) -> RequestRecord:
        headers = dict(request.headers)
        now = time.monotonic()
        head_at = self._head_at or now
        return RequestRecord(
            remote=self.remote[0] if self.remote else "-",
            method=request.method,
            target=request.target.decode("latin-1"),
            version=request.http_version,
            referer=headers.get(b"referer", b"").decode("latin-1"),
            user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
            started=time.time(),
            queue_us=int((now - head_at) * 1e6),
            request_headers=request.headers,
        )

    def _log_failure(
        self,
        request: Request,
        outcome: Outcome,
        message: str,
        exc: BaseException | None,
    ) -> None:
        log.error(
            "%s%s (%s %s)",
            _tag(outcome),
            message,
            request.method,
            _printable(request.target),
            exc_info=exc,
            extra={"request_id": outcome.request_id},
        )

    def _end_record(
        self,
        record: RequestRecord,
        outcome: Outcome,
        status: int | None,
        body_bytes: int | None = None,
    ) -> None:
        """Complete `record` (status from the response head unless `status` is given; body
        bytes from `outcome` unless `body_bytes` is)."""
        if status is None:
            status = int(outcome.status[:3]) if outcome.status else 0
        record.status = status
        record.body_bytes = outcome.body_bytes if body_bytes is None else body_bytes
        head_at = self._head_at
        if head_at:
            record.duration_us = int((time.monotonic() - head_at) * 1e6)
        else:
            record.duration_us = int((time.time() - record.started) * 1e6)
        self._head_at = 0.0
        environ = outcome.environ
        if environ is not None:
            record.environ = environ
            client = environ.get("REMOTE_ADDR")
            if client is not None:
                record.client = client
        record.request_id = outcome.request_id
        record.request_bytes = outcome.request_bytes
        record.response_headers = outcome.headers
        if self._access is not None:
            self._access(record)

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks.

        Plain TCP: peek at one byte; EOF or a reset means gone, bytes (a pipelined request)
        or nothing yet mean still there. TLS cannot peek through the record layer, so the
        socket is polled for a hang-up (POLLRDHUP: the peer shut down its sending side).
        """
        if self.conn.eof_received:
            return True
        sock = self.sock
        try:
            if self._tls:
                poller = select.poll()
                poller.register(sock.fileno(), _HANGUP)
                return bool(poller.poll(0))
            return sock.recv(1, socket.MSG_PEEK | _DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True  # ECONNRESET, EBADF (closed): the client is gone

    @staticmethod
    def _log_close_error(outcome: Outcome) -> None:
        if outcome.close_error is not None:
            log.error("the response iterable's close() failed", exc_info=outcome.close_error)
            outcome.close_error = None


_HANGUP = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def _content_size(answer: bytes) -> int:
    """The content bytes of a whole error response (for its access record)."""
    return len(answer) - answer.index(b"\r\n\r\n") - 4


def _tag(outcome: Outcome) -> str:
    """The "[request-id] " prefix of error messages (ids are printable ASCII: requestid.py)."""
    return f"[{outcome.request_id}] " if outcome.request_id else ""


@dataclass(frozen=True, slots=True)
class Overload:
    """Overload control shared by a server's transports (docs/observability.rst)."""

    queue_timeout: float = 0.0  # 0: never shed
    deadlines: RequestDeadlines | None = None  # --request-timeout


def _printable(target: bytes) -> str:
    # Escape controls too (not only non-ASCII): request bytes must never reach a log raw,
    # even if the grammar ever let one through (it allows VCHAR only today).
    return escape(target.decode("latin-1"))[:200]
