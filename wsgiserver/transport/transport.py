"""The request loop of one connection: the imperative shell around a `ServerConnection`.

A connection that negotiates HTTP/2 (ALPN "h2" after the TLS handshake, or the HTTP/2
preface from a peer allowed cleartext h2c) is handed to an `H2Session` (`h2session.py`,
imported only then, so `h2` is never imported by an HTTP/1.1-only server), and every entry
point the server calls is passed on to it.

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
from functools import partial
from typing import TYPE_CHECKING, Protocol

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
from wsgiserver.gateway.spool import BodySpool, SpoolError
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
from wsgiserver.protocol.readers import TRUNCATED_BODY
from wsgiserver.protocol.writers import error_response
from wsgiserver.transport import setup as setup
from wsgiserver.transport.channel import SocketChannel
from wsgiserver.transport.negotiation import (
    ALPN_H2,
    H2C_TRUSTED_ONLY,
    MATCH,
    PARTIAL,
    Http2,
    h1_required,
    preface_state,
)
from wsgiserver.transport.overload import Overload
from wsgiserver.transport.records import (
    Records,
    content_size,
    log_close_error,
    log_failure,
    printable,
)
from wsgiserver.transport.request_body import body_for
from wsgiserver.transport.settings import CLOSE, PARK, SERVE, ChunkedBodies, Timeouts

if TYPE_CHECKING:
    from wsgiserver.transport.h2session import H2Session
    from wsgiserver.transport.h2stream import StreamCall

__all__ = ["CLOSE", "PARK", "SERVE", "ChunkedBodies", "Host", "Timeouts", "Transport"]


class Host(Protocol):
    """What the server offers a transport whose work outlives one `serve()`: an HTTP/2
    connection runs each stream's app call as a task of the server's pool, and asks to be
    served again when a stream thread leaves it something to do."""

    def submit_task(self, task: StreamCall) -> None: ...

    def serve_again(self, transport: Transport) -> None: ...


log = logging.getLogger("wsgiserver.error")


_CHUNKED = ChunkedBodies()


class _H2cRefused(Exception):
    """A peer not allowed cleartext HTTP/2 sent its preface (answered with a GOAWAY)."""


class Transport:
    """Serves requests on one accepted socket. Exactly one thread uses it at a time."""

    __slots__ = (
        "_access",
        "_channel",
        "_chunked",
        "_environ",
        "_error_id",
        "_extra",
        "_gateway",
        "_h2",
        "_head_deadline",
        "_host",
        "_http2",
        "_linger_until",
        "_metrics",
        "_observed",
        "_outcome",
        "_overload",
        "_peer",
        "_pending",
        "_records",
        "_setup",
        "_sniff",
        "_spool",
        "_timed",
        "_timeouts",
        "conn",
        "deadline",
        "fd",
        "ready_since",
        "remote",
        "rerun",
        "send",
        "sendfile",
        "taken_at",
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
        chunked: ChunkedBodies = _CHUNKED,
        http2: Http2 | None = None,
        host: Host | None = None,
    ) -> None:
        interruptible = overload is not None and overload.deadlines is not None
        channel = SocketChannel(
            sock,
            body_timeout=timeouts.body,
            send_timeout=timeouts.send,
            min_body_rate=timeouts.min_body_rate,
            body_rate_grace=timeouts.body_rate_grace,
            metrics=metrics,
            interruptible=interruptible,
        )
        self._channel = channel
        self.fd = sock.fileno()  # the same number after a TLS wrap; the server's key for it
        # The gateway's Channel: bound methods of the socket's channel, called directly.
        self.send = channel.send if interruptible else channel.send_unguarded
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
        self._records = (
            Records(access, remote, self._identify_refused) if access is not None else None
        )
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
        self._observed = metrics is not None or overload is not None  # `_respond_observed`
        self._outcome: Outcome | None = None
        # The id of the request whose HTTPError `_fail` answers (the app's 500...), for the
        # echo header: its answer is the request's response, and says its id as any other.
        self._error_id = ""
        # The request under a deadline: (method, when it started, its queue wait), for the
        # metrics the deadline counts when it answers 504 (`_abort_for_timeout`).
        self._timed: tuple[str, float, float] | None = None
        self.ready_since = 0.0  # when this connection's work became ready (the server sets it)
        # HTTP/2 (docs/http2.rst): how, if at all; the session once negotiated; and the
        # first bytes of a cleartext connection while they may still be the h2c preface.
        self._http2 = http2 if host is not None else None
        self._host = host
        self._access = access
        self._peer = remote  # the socket's peer: whom h2c trust is about
        self._h2: H2Session | None = None
        cleartext = edge is None or edge.tls is None
        self._sniff: bytes | None = b"" if self._http2 is not None and cleartext else None
        self.rerun = False  # the server is asked to serve it once more before parking it
        self.taken_at = 0.0  # monotonic: since when the app runs its request (0.0: it does not)

    def fileno(self) -> int:
        return self._channel.fileno()

    @property
    def sock(self) -> socket.socket:
        """The connected socket (after a TLS handshake, the wrapped one)."""
        return self._channel.sock

    @property
    def multiplexed(self) -> bool:
        """HTTP/2: streams run on other threads while the connection is parked."""
        return self._h2 is not None

    @property
    def receiving_body(self) -> bool:
        """A request head was read and its body is being received before the app runs (a
        graceful stop lets it finish, like any request in flight)."""
        return self._pending is not None

    @property
    def unfinished_request(self) -> bool:
        """A request of this connection is in progress when no thread serves it: its body
        being received before the app runs, or HTTP/2 streams in the app. A graceful stop
        lets it finish."""
        return self._pending is not None or (self._h2 is not None and not self._h2.idle)

    @property
    def between_requests(self) -> bool:
        """No request is in progress and no byte of a next one has arrived: closing now
        loses nothing the client has sent (what it sends later, it sees refused)."""
        if self._h2 is not None:
            return self._h2.idle
        return self._pending is None and not self.conn.in_request

    @property
    def requests_in_flight(self) -> int:
        """Requests of this connection in progress (an estimate, for a message): its open
        streams for HTTP/2, else 1 unless it is between requests."""
        if self._h2 is not None:
            return len(self._h2.streams)
        return 0 if self.between_requests else 1

    def _request_id_now(self) -> str:
        """The id of the request in the app (its deadline's log lines name it)."""
        outcome = self._outcome
        return outcome.request_id if outcome is not None else ""

    def describe_in_flight(self) -> str:
        """What this connection is busy with, for a log line: `[id] METHOD target` of the
        request in the app (as on every per-request line), or its HTTP/2 streams."""
        if self._h2 is not None:
            return f"{len(self._h2.streams)} HTTP/2 stream(s)"
        request = self.conn.request
        if request is None:
            return "a request whose head is not complete"
        outcome = self._outcome  # the current request's only while it is in the app
        request_id = outcome.request_id if self.taken_at and outcome is not None else ""
        prefix = f"[{request_id}] " if request_id else ""
        return f"{prefix}{request.method} {printable(request.target)}"

    def request_close(self) -> None:
        """The server is stopping: the response in progress (or the next) ends this
        connection with `Connection: close` (RFC 9112 section 9.6). HTTP/2: a GOAWAY on the
        next `serve()`, which a multiplexed connection is given at once (`serve_again`)."""
        self.conn.close_requested = True
        if self._h2 is not None:
            self._h2.request_close()

    def has_input(self) -> bool:
        """Bytes (or EOF) wait in the socket; never blocks (for a stopping server)."""
        return self._channel.readable()

    def waits_for_a_thread(self) -> bool:
        """Its deadline passed while parked, but what the client owed is already in the
        socket: a next request on an idle keep-alive connection, or the rest of a head. The
        wait was the server's (every thread busy), not the client's, so the deadline must
        not end it: it is served when a thread is free. (The head deadline still holds: a
        head that is incomplete when it is served is answered 408 then, see `_park_idle`.)
        Never during connection set-up, a body received before the app, or lingering.
        Never blocks."""
        if (
            self._h2 is not None
            or self._setup is not None
            or self._linger_until is not None
            or self._pending is not None
        ):
            return False
        return self._channel.readable()

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks."""
        return self.conn.eof_received or self._channel.client_disconnected()

    # -- the request loop -----------------------------------------------------------------

    def serve(self) -> int:
        """Serve every request that can be served without waiting; PARK or CLOSE."""
        if self._h2 is not None:
            return self._serve_h2()
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
                if self._http2 is not None and self.multiplexed:
                    # The h2c preface arrived (a property: mypy cannot see `_h2` set meanwhile).
                    return self._serve_h2()
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
                            # Half-closed (or gone): answered as when the app reads the body.
                            raise BadRequest(TRUNCATED_BODY)
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
                    if not (
                        self._respond_observed(event)
                        if self._observed
                        else self._respond_app(event)
                    ):
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
        except _H2cRefused:
            return self._start_linger()

    def _receive_nowait(self) -> bool:
        """Feed whatever the socket has to the parser; False if it has nothing right now."""
        data = self._channel.receive_nowait()
        if data is None:
            return False
        if self._sniff is not None:
            parsed = self._sniff_h2c(data)
            if parsed is None:
                return True  # the beginning of the h2c preface (wait), or HTTP/2 now
            data = parsed
        conn = self.conn
        if conn.request is not None:
            self._channel.body_received += len(data)
        elif data and self._head_deadline is None and not conn.buffered_size:
            self._head_deadline = time.monotonic() + self._timeouts.header  # a head begins
        conn.receive_data(data)
        return True

    def _sniff_h2c(self, data: bytes) -> bytes | None:
        """The first bytes of a cleartext connection: the HTTP/2 preface starts an h2c
        session (RFC 9113 section 3.3, prior knowledge) if this peer may use it; anything
        else goes to the HTTP/1.1 parser. Returns what the parser gets now, or None when
        it gets nothing (the preface may still be arriving, or HTTP/2 has begun)."""
        sniffed = (self._sniff or b"") + data
        if not data:  # EOF first: what came before it is the parser's, then the EOF
            self._sniff = None
            if sniffed:
                self.conn.receive_data(sniffed)
            return b""
        state = preface_state(sniffed)
        if state == PARTIAL:
            self._sniff = sniffed
            return None
        self._sniff = None
        if state != MATCH:
            return sniffed
        http2 = self._http2
        if http2 is not None and http2.h2c(self._peer[0] if self._peer else None):
            self._start_h2(sniffed)
            return None
        refusal = http2.h2c_refusal if http2 is not None else H2C_TRUSTED_ONLY
        log.info("cleartext HTTP/2 refused from %s: %s", self._peer, refusal.decode())
        self._channel.send_quietly(h1_required(refusal))
        raise _H2cRefused

    def _start_h2(self, received: bytes) -> None:
        """Hand the connection to an HTTP/2 session (imported only now: it needs `h2`)."""
        from wsgiserver.transport.h2session import H2Session
        from wsgiserver.transport.h2stream import StreamServing

        http2 = self._http2
        host = self._host
        if http2 is None or host is None:  # pragma: no cover - negotiated only with both
            raise ConnectionLost("HTTP/2 is not configured")
        serving = StreamServing(
            gateway=self._gateway,
            timeouts=self._timeouts,
            chunked=self._chunked,
            fields=self.conn.limits,
            limits=http2.limits,
            submit=host.submit_task,
            wake=partial(host.serve_again, self),
            access=self._access,
            metrics=self._metrics,
            overload=self._overload,
        )
        self._h2 = H2Session(self._channel, serving, self.remote, self._extra, received)
        self._head_deadline = None

    def _serve_h2(self) -> int:
        session = self._h2
        if session is None:  # pragma: no cover - called once it exists
            return self.close()
        action = session.serve(self.ready_since)
        self.ready_since = 0.0
        self.deadline = session.deadline
        return action

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
        if pending.alpn == ALPN_H2 and self._http2 is not None:
            self._start_h2(b"")  # RFC 9113 section 3.2: "h2" chosen in the TLS handshake
            return self._serve_h2()
        return None

    # -- one request ----------------------------------------------------------------------

    def _respond(self, request: Request) -> bool:
        """Run the app for `request`; True if the connection can carry another request."""
        if self._observed:
            return self._respond_observed(request)
        return self._respond_app(request)

    def _respond_observed(self, request: Request) -> bool:
        """`_respond_app` with queue-timeout shedding, a request deadline and metrics."""
        now = time.monotonic()
        since = self.ready_since
        self.ready_since = 0.0  # pipelined requests after this one did not wait in a queue
        wait = now - since if 0.0 < since < now else 0.0
        if wait and self._records is not None:
            self._records.ready_since = since  # its queue_us, as the metric, counts from it
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
            self._timed = (request.method, now, wait)
            entry = deadlines.start(now, self._abort_for_timeout, label, self._request_id_now)
        if counters is not None:
            counters.add(m.IN_FLIGHT)
        status = 500
        timed_out = False
        refused = False
        try:
            keep = self._respond_app(request)
            outcome = self._outcome
            status = int(outcome.status[:3]) if outcome is not None and outcome.status else 0
            timed_out = self._channel.interrupted
            return keep and not timed_out
        except HTTPError as exc:
            status = exc.status
            # Refused before an environ was built (CONNECT's 501): `_fail` counts it as a
            # parse error, as every request the server refuses itself; not a request too.
            outcome = self._outcome
            refused = isinstance(exc, ProtocolError) and (outcome is None or not outcome.environ)
            raise
        finally:
            counted_elsewhere = refused
            if entry is not None and deadlines is not None:
                deadlines.end(entry)
                if entry.claimed:
                    counted_elsewhere = True  # the 504, when it was sent
            if counters is not None:
                counters.add(m.IN_FLIGHT, -1)
                if timed_out or self._channel.interrupted:
                    status = 504
                if not counted_elsewhere:
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
                extra=self._gateway.date() + self._echo_line(self._request_id_now()),
                head_request=conn.answers_head,
            )
        timed = self._timed
        if self._metrics is not None and timed is not None:
            # Counted now, before the client can read the answer and scrape: a thread that
            # never comes back from the app would never count it, and the duration is the
            # client's, which ends here.
            method, started, wait = timed
            self._metrics.here().request(method, 504, time.monotonic() - started, wait)
        self._channel.interrupt(last_word, reset=self._cut_unframed())

    def _echo_line(self, request_id: str) -> str:
        """The request id's response field (--echo-request-id) for an answer of the server's
        own, as a header line; "" without the option or an id."""
        header = self._gateway.echo_header
        return f"{header}: {request_id}\r\n" if header and request_id else ""

    def _cut_unframed(self) -> bool:
        """The response under way is close-delimited: if it ends early, only a reset tells
        the client so (its framing cannot: a clean close would make it look whole)."""
        writer = self.conn.current_writer
        return writer is not None and writer.close_delimited

    def _respond_app(self, request: Request) -> bool:
        conn = self.conn
        records = self._records
        record = records.start(request) if records is not None else None
        outcome = Outcome()
        self._outcome = outcome
        status: int | None = None  # for the record, when no response head carried one
        try:
            environ = self._connection_environ()
            body: RequestBody
            if self._spool is not None:
                body = self._spool
            elif conn.request_complete:
                body = b""  # no body, or one already taken
            else:
                body = body_for(conn, request, self._channel.receive, self.send)
            self.taken_at = time.monotonic()  # the server counts long requests (`_hogs`)
            self._gateway.handle(conn, self, request, environ, self.remote, outcome, body)
        except HTTPError as exc:
            if self._channel.interrupted:  # see the BaseException case below
                outcome.aborted = True
                return False
            status = exc.status
            self._error_id = outcome.request_id
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
            if self._channel.interrupted:
                # The request deadline passed: its answer (a 504, or the cut) is out and the
                # housekeeper logged it; RequestTimeout, or what the shut socket made the app
                # raise, needs no second answer nor a second record.
                outcome.aborted = True
                return False
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
            self.taken_at = 0.0
            if self._spool is not None:
                self._release_spool()
            writer = conn.current_writer
            if writer is not None and writer.surplus:
                # Cut to the declared length and closed (RFC 9112 section 6.3), and said
                # once, like a body shorter than its Content-Length.
                log_failure(request, outcome, writer.overrun() or "", None)
            if outcome.close_error is not None:
                log_close_error(request, outcome)
            if record is not None and records is not None:
                channel = self._channel
                said = channel.last_word if channel.interrupted else None
                if said is not None:  # the request deadline's 504 (`_abort_for_timeout`)
                    records.end(record, outcome, 504, content_size(said))
                elif channel.interrupted and not outcome.status:
                    records.end(record, outcome, 504, 0)  # TLS: it could not be sent
                elif channel.unsent:  # cut: what the failed sends did not get out is not sent
                    records.end(
                        record, outcome, status, max(0, outcome.body_bytes - channel.unsent)
                    )
                else:
                    records.end(record, outcome, status)
        if outcome.aborted:
            return False
        reused = conn.reuse()
        if reused is None:  # the app left some of the body unread
            if not self._drain():
                return False
            reused = conn.reuse()
        if not reused:
            return False
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
        error_id, self._error_id = self._error_id, ""
        if not conn.response_started:
            extra = self._gateway.date() + self._echo_line(error_id)
            if exc.status == 503:
                extra += "Retry-After: 1\r\n"  # RFC 9110 section 10.2.3
            answer = error_response(
                exc.status,
                exc.reason,
                exc.client_detail,
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

    def _connection_environ(self) -> dict[str, object]:
        environ = self._environ
        if environ is None:
            environ = self._environ = self._gateway.connection_environ(
                self, self.remote, self._extra
            )
        return environ

    def _identify_refused(self, request: Request | None) -> tuple[str | None, str]:
        return self._gateway.identify_refused(request, self._connection_environ(), self.remote)

    def _finish(self) -> int:
        """After the last response: close, lingering if the client may still be sending; a
        close-delimited response the app cut (it failed after its head) ends in a reset."""
        conn = self.conn
        outcome = self._outcome
        if outcome is not None and outcome.aborted and self._cut_unframed():
            self._channel.abort()
            return self.close()
        if (
            conn.has_buffered_data
            or not conn.request_complete
            # The server ends a keep-alive connection (stopping, --max-requests...): the
            # client may have sent more (pipelined requests, a body) that is still unread
            # in the kernel, and closing on it would reset the connection (RFC 9112
            # section 9.6), perhaps before the client has read this response.
            or (conn.close_requested and self._channel.input_waiting())
        ):
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
        deadline = self._head_deadline
        if deadline is None:
            return self._park(time.monotonic() + self._timeouts.keepalive)
        if deadline <= time.monotonic():
            # Served after its head deadline (`waits_for_a_thread` let it wait for a thread)
            # and the head is still incomplete: the client was too slow after all.
            return self.expire()
        return self._park(deadline)

    def _park(self, deadline: float) -> int:
        self.deadline = deadline
        self.ready_since = 0.0  # waiting for the client now, not for a thread
        return PARK

    def expire(self) -> int:
        """The deadline passed while parked: 408 if a head was due, then close (CLOSE).
        HTTP/2: SERVE, the session acts on its deadlines in `serve()` on a worker thread."""
        if self._h2 is not None:
            return SERVE
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
            # A PROXY header or a TLS handshake still under way is part of the first head's
            # wait (--header-timeout), though nothing may be answered on it.
            self._metrics.here().timeout("header" if self._setup is not None else "keepalive")
        return self.close()

    def abandon(self) -> None:
        """Another thread (the server, at --graceful-timeout): give up on this connection.

        The request in progress gets its access record now (no status: nothing was
        answered); the socket is shut down and closed, so the thread that serves it fails its
        next read or write and unwinds, releasing the rest itself.
        """
        if self._h2 is not None:
            self._h2.abandon()
            return
        if self._records is not None:
            self._records.abandon(self._pending or self.conn.request)
        self._channel.interrupt(None)
        self._channel.close()

    def close_idle(self) -> int:
        """Close at a stop, with nothing of the client's in flight: an HTTP/2 client is told
        with a GOAWAY first."""
        if self._h2 is not None:
            return self._h2.close_idle()
        return self.close()

    def close(self) -> int:
        if self._h2 is not None:
            return self._h2.close()
        self._release_spool()
        self._pending = None
        self._channel.close()
        return CLOSE
