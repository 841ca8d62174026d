"""The request loop of one connection: the imperative shell around a `ServerConnection`.

Owns: feeding received bytes to the protocol layer and acting on its events, the request-head
and keep-alive deadlines, how each body reaches the app (received before it runs, spooled, or
pulled as it reads), calling the gateway, draining what the app left unread, error responses
(the single place that turns an `HTTPError` into bytes on the wire), lingering close, and
queue-timeout shedding and request deadlines around the app. The socket's bytes are
`channel.py`'s, access records `records.py`'s.
Must not: own threads or the poller. `serve()` runs until it would block waiting for the
next request and then tells the server to park it (`PARK`) or that it is finished (`CLOSE`);
it never blocks waiting for a request head, so idle connections never hold a thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from wsgiserver.errors import (
    ApplicationError,
    BadRequest,
    ConnectionLost,
    HTTPError,
    ProtocolError,
    ResponseFramingError,
    ServiceUnavailable,
)
from wsgiserver.gateway.gateway import Gateway, Outcome, RequestBody
from wsgiserver.gateway.spool import SPOOL_THRESHOLD, BodySpool, SpoolError
from wsgiserver.observability import metrics as m
from wsgiserver.observability.accesslog import RequestRecord
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
from wsgiserver.transport.channel import SocketChannel
from wsgiserver.transport.overload import Overload
from wsgiserver.transport.records import (
    Records,
    content_size,
    log_close_error,
    log_failure,
    printable,
)
from wsgiserver.transport.request_body import body_for

log = logging.getLogger("wsgiserver.error")

PARK = 1  # wait (in the poller) until readable or until `deadline`
CLOSE = 2  # the transport is closed


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
        "_channel",
        "_chunked",
        "_environ",
        "_extra",
        "_gateway",
        "_head_deadline",
        "_linger_until",
        "_metrics",
        "_outcome",
        "_overload",
        "_pending",
        "_records",
        "_setup",
        "_spool",
        "_timeouts",
        "conn",
        "deadline",
        "ready_since",
        "remote",
        "send",
        "sendfile",
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
        channel = SocketChannel(
            sock,
            body_timeout=timeouts.body,
            send_timeout=timeouts.send,
            min_body_rate=timeouts.min_body_rate,
            body_rate_grace=timeouts.body_rate_grace,
            metrics=metrics,
            interruptible=overload is not None and overload.deadlines is not None,
        )
        self._channel = channel
        # The gateway's Channel: bound methods of the socket's channel, called directly.
        self.send = channel.send
        self.sendfile = channel.sendfile
        self.remote = remote
        # A PROXY header and/or TLS come before HTTP (setup.py); the environ additions of
        # this connection (TLS variables, the proxy's address) are kept here.
        self._setup = setup.ConnectionSetup(edge, sock, remote) if edge is not None else None
        self._extra: dict[str, object] | None = None
        self._environ: dict[str, object] | None = None  # the gateway's connection_environ
        self.conn = ServerConnection(limits)
        self._gateway = gateway
        self._timeouts = timeouts
        self._records = Records(access, remote) if access is not None else None
        # RFC 9112 section 9.5 leaves timeouts to us: the first head must arrive within
        # `header` seconds of accept, each later head within `header` of its first byte.
        self._head_deadline: float | None = time.monotonic() + timeouts.header
        self._linger_until: float | None = None
        self._pending: Request | None = None  # a request whose body arrives before the app
        self._chunked = chunked
        # The chunked body of `_pending`, received before the app runs (gateway/spool.py).
        self._spool: BodySpool | None = None
        self.deadline = self._head_deadline
        # Observability and overload control (docs/observability.rst); all None/0
        # by default, so a plain request pays only `is not None` tests.
        self._metrics = metrics
        self._overload = overload
        self._outcome: Outcome | None = None
        self.ready_since = 0.0  # when this connection's work became ready (the server sets it)

    def fileno(self) -> int:
        return self._channel.fileno()

    @property
    def sock(self) -> socket.socket:
        """The connected socket (after a TLS handshake, the wrapped one)."""
        return self._channel.sock

    @property
    def receiving_body(self) -> bool:
        """A request head was read and its body is being received before the app runs (a
        graceful stop lets it finish, like any request in flight)."""
        return self._pending is not None

    @property
    def between_requests(self) -> bool:
        """No request is in progress and no byte of a next one has arrived: closing now
        loses nothing the client has sent (what it sends later, it sees refused)."""
        return self._pending is None and not self.conn.head_started

    def request_close(self) -> None:
        """The server is stopping: the response in progress (or the next) ends this
        connection with `Connection: close` (RFC 9112 section 9.6)."""
        self.conn.close_requested = True

    def has_input(self) -> bool:
        """Bytes (or EOF) wait in the socket; never blocks (for a stopping server)."""
        return self._channel.readable()

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks."""
        return self.conn.eof_received or self._channel.client_disconnected()

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
                                return self._park(self._channel.body_deadline(time.monotonic()))
                            continue
                    elif conn.buffered_size < (request.content_length or 0):
                        if conn.eof_received:
                            return self._lost()  # the client left before sending its body
                        if not self._receive_nowait():
                            return self._park(self._channel.body_deadline(time.monotonic()))
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
                    if self._records is not None:
                        self._records.head_at = time.monotonic()
                    if event.chunked:
                        self._channel.start_body()
                        if not self._chunked.stream:
                            self._start_spool(event)
                            continue
                    length = event.content_length
                    if length is not None:
                        self._channel.start_body()
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

    def _receive_nowait(self) -> bool:
        """Feed whatever the socket has to the parser; False if it has nothing right now."""
        data = self._channel.receive_nowait()
        if data is None:
            return False
        conn = self.conn
        if conn.request is not None:
            self._channel.body_received += len(data)
        elif data and self._head_deadline is None and not conn.buffered_size:
            self._head_deadline = time.monotonic() + self._timeouts.header  # a head begins
        conn.receive_data(data)
        return True

    def _lost(self) -> int:
        """The client went away (or the socket failed): close. A request whose body was
        still arriving gets its one access record, with no status (none was sent)."""
        if self._pending is not None and self._records is not None:
            self._records.error(self._pending, 0, 0)
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
            spool.write(event.data)

    def _release_spool(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.close()

    def _set_up(self, pending: setup.ConnectionSetup) -> int | None:
        """Advance the PROXY header / TLS handshake; None once HTTP can be served."""
        step = pending.advance()
        # Wrapped for TLS (the same fd; the old object is detached).
        self._channel.sock = pending.sock
        if step == setup.WAIT:
            return self._park_idle()
        if step == setup.PLAINTEXT:
            self._setup = None
            return self._fail(BadRequest(setup.PLAINTEXT_DETAIL), pending.plaintext_head)
        if step != setup.READY:
            return self.close()
        self._setup = None
        self.remote = pending.remote
        if self._records is not None:
            self._records.remote = pending.remote
        self._extra = pending.environ
        self._channel.tls = isinstance(pending.sock, ssl.SSLSocket)
        return None

    # -- one request ----------------------------------------------------------------------

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
            label = f"{request.method} {printable(request.target)}"
            entry = deadlines.start(now, self._abort_for_timeout, label)
        if counters is not None:
            counters.add(m.IN_FLIGHT)
        status = 500
        timed_out = False
        try:
            keep = self._respond_app(request)
            outcome = self._outcome
            status = int(outcome.status[:3]) if outcome is not None and outcome.status else 0
            timed_out = self._channel.interrupted
            return keep and not timed_out
        except HTTPError as exc:
            status = exc.status
            raise
        finally:
            if entry is not None and deadlines is not None:
                deadlines.end(entry)
            if counters is not None:
                counters.add(m.IN_FLIGHT, -1)
                if timed_out or self._channel.interrupted:
                    status = 504
                counters.request(request.method, status, time.monotonic() - now, wait)

    def _abort_for_timeout(self) -> None:
        """Another thread (the housekeeper): the request deadline passed. 504 if no head was
        sent, then the socket is shut down (see `SocketChannel.interrupt`)."""
        conn = self.conn
        last_word = None
        if not conn.response_started:
            last_word = error_response(
                504,
                "Gateway Timeout",
                "the application did not answer in time",
                extra=self._gateway.date(),
                head_request=conn.answers_head,
            )
        self._channel.interrupt(last_word)

    def _respond_app(self, request: Request) -> bool:
        conn = self.conn
        records = self._records
        record = records.start(request) if records is not None else None
        outcome = Outcome()
        self._outcome = outcome
        status: int | None = None  # for the record, when no response head carried one
        try:
            environ = self._environ
            if environ is None:
                environ = self._environ = self._gateway.connection_environ(
                    self, self.remote, self._extra
                )
            body: RequestBody
            if self._spool is not None:
                body = self._spool
            elif conn.request_complete:
                body = b""  # no body, or one already taken
            else:
                body = body_for(conn, request, self._channel.receive, self.send)
            self._gateway.handle(conn, self, request, environ, self.remote, outcome, body)
        except HTTPError as exc:
            status = exc.status
            if isinstance(exc, ApplicationError):
                log_failure(request, outcome, exc.detail, exc.__cause__ or exc)
            if record is not None and records is not None and not conn.response_started:
                records.leave_open(record, outcome)  # `_fail` ends it with its answer
                record = None
            raise
        except ResponseFramingError as exc:
            log_failure(request, outcome, str(exc), None)
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
                log_failure(request, outcome, message, exc)
                raise ApplicationError("the application raised an exception") from exc
            message = "the application failed after the response head was sent"
            log_failure(request, outcome, message, exc)
            outcome.aborted = True
        finally:
            self._release_spool()
            if conn.response_started:
                # Cut to the declared length and closed (RFC 9112 section 6.3), and said
                # once, like a body shorter than its Content-Length.
                overrun = conn.writer.overrun()
                if overrun is not None:
                    log_failure(request, outcome, overrun, None)
            if outcome.close_error is not None:
                log_close_error(outcome)
            if record is not None and records is not None:
                records.end(record, outcome, status)
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
                conn.receive_data(self._channel.receive())
            elif type(event) is Data:
                budget -= len(event.data)
                if budget < 0:
                    return False
            else:
                return conn.request_complete

    # -- ending ---------------------------------------------------------------------------

    def _fail(self, exc: HTTPError, head_request: bool | None = None) -> int:
        """The one place an HTTPError becomes a response: answer, then close lingering.

        `head_request` says whether the answer is to a HEAD (no content); by default the
        connection knows, even for a head it refused.
        """
        conn = self.conn
        self._release_spool()  # a body refused mid-way (413, bad chunk): free it now
        if isinstance(exc, SpoolError):
            log.error("%s", exc.log_detail)  # the client's answer says nothing of our files
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
                if self._records is not None:
                    line = conn.refused_request_line
                    self._records.error(conn.request, exc.status, content_size(answer), line)
        return self._start_linger()

    def _finish(self) -> int:
        """After the last response: close, lingering if the client may still be sending."""
        conn = self.conn
        if conn.has_buffered_data or not conn.request_complete:
            return self._start_linger()
        self._channel.close_notify()
        return self.close()

    def _start_linger(self) -> int:
        # RFC 9112 section 9.6: close the sending side first and keep reading for a moment,
        # so the client receives our response before any reset caused by its unread data.
        if not self._channel.shutdown_write():
            return self.close()
        self._linger_until = time.monotonic() + self._timeouts.linger
        return self._linger()

    def _linger(self) -> int:
        if self._channel.discard_input() or self._linger_until is None:
            return self.close()
        return self._park(self._linger_until)

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
            if (
                self._pending is not None
                and self._channel.rate_deadline(time.monotonic()) <= self.deadline
            ):
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
            self._channel.send_quietly(answer)
            if self._pending is not None and self._records is not None:
                # A complete head was answered: one access record, as for any other error.
                self._records.error(self._pending, 408, content_size(answer))
        elif self._metrics is not None and self._linger_until is None:
            self._metrics.here().timeout("keepalive")
        self.close()

    def abandon(self) -> None:
        """Another thread (the server, at --graceful-timeout): give up on this connection.

        The request in progress gets its access record now (no status: nothing was
        answered); the socket is shut down and closed, so the thread that serves it fails its
        next read or write and unwinds, releasing the rest itself.
        """
        if self._records is not None:
            self._records.abandon(self._pending or self.conn.request)
        self._channel.interrupt(None)
        self._channel.close()

    def close(self) -> int:
        self._release_spool()
        self._pending = None
        self._channel.close()
        return CLOSE
