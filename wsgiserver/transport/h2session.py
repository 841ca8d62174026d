"""One HTTP/2 connection (RFC 9113) on one socket: the imperative shell around `H2Protocol`.

Owns: reading the socket and feeding the protocol (`serve`, on the thread the server hands
the readable connection to), the streams of the connection, handing each stream's app call
to the server's pool (`StreamCall`, a task: no thread per stream), writing what the protocol
queues, request bodies received before the app runs (small ones, and bodies of unannounced
length, spooled as HTTP/1.1 chunked bodies are) and pulled with flow control otherwise, the
connection's deadlines (the preface, idle, a body arriving too slowly, lingering), GOAWAY
(graceful on a stop, then the open streams drain; at once on an error or an attack), and
answering a stream's errors (the HTTP/2 counterpart of the HTTP/1.1 transport's `_fail`).
Must not: own threads or the poller: when it has work for a thread it asks the server
(`submit` a stream's call, `wake` the connection to be served again).

Threads and locks. Streams run on pool threads while the connection sits parked in the
poller, so several threads touch one connection:
- `_state` guards the h2 state machine (`proto`) and every `Stream`; it is held briefly and
  never across a socket call. Each stream's condition is on it (a body piece arrived, a
  window opened, the stream was reset).
- `_io` is the socket: whichever thread reads or writes the socket holds it (TLS allows no
  more: one SSL object must not be used by two threads at once). Writers take the bytes the
  protocol queued and send them; a thread that finds `_io` busy may leave its bytes to the
  holder, which sends until nothing is queued (`flush(wait=False)`; see there why none is
  stranded). Lock order: the server's lock, then `_state`, then `_io` is never taken while
  holding `_state`.
- Closing (and the decision to park) stays with the thread the server gave the connection
  to, as for HTTP/1.1. A stream thread that ends the last stream, or finds the connection
  broken, asks the server to serve the connection again (`wake`) instead of closing it.

Flow control. The client's windows bound what a stream writes: a write waits (on its stream's
condition) for a window to open, at most `send_timeout` per write, then the stream is reset;
a client trickling WINDOW_UPDATEs cannot hold a thread longer. Received body bytes are given
back to the client's windows only as the app reads them, so a slow app stalls its own upload
only, and what waits unread is bounded by the stream window (and the connection window).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from wsgiserver.errors import (
    BadRequest,
    ClientRequestTimeout,
    ConnectionLost,
    ContentTooLarge,
    GatewayTimeout,
    HTTPError,
)
from wsgiserver.gateway.gateway import RequestBody
from wsgiserver.gateway.spool import BodySpool, SpoolError
from wsgiserver.http2.connection import (
    CANCEL,
    INTERNAL_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    BodyEnded,
    BodyMalformed,
    BodyReceived,
    ClientGoingAway,
    ConnectionFailed,
    H2Protocol,
    StreamCancelled,
    StreamOpened,
    WindowOpened,
)
from wsgiserver.http2.messages import Header, response_headers
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.protocol import Request
from wsgiserver.protocol.writers import error_body, prepare_fields
from wsgiserver.transport.channel import SocketChannel
from wsgiserver.transport.h2stream import (
    PREBUFFER,
    PULL,
    SPOOL,
    Stream,
    StreamCall,
    StreamServing,
    body_of,
)
from wsgiserver.transport.records import Records
from wsgiserver.transport.settings import CLOSE, PARK

log = logging.getLogger("wsgiserver.error")

READS_PER_SERVE = 16  # socket reads per `serve()`: a busy client cannot keep a thread forever
FLUSH_EVERY = 65536  # body bytes queued by a write before they are sent
GOAWAY_SEND_WAIT = 1.0  # seconds a failing connection waits for a stream's send to end
# Seconds a stopping connection waits for a moment without streams before its GOAWAY (or
# --keepalive-timeout, if shorter): well within any sane --graceful-timeout, so that the
# streams it names still have the rest of that time to end.
GOAWAY_QUIET_WAIT = 2.0
# Seconds without a stream before that GOAWAY. httpx (httpcore) looks for "the connection is
# terminated" before it looks at the events it has queued for a stream: a GOAWAY read with
# the last response's final frame failed that response all the same.
GOAWAY_AFTER_LAST = 0.1
# Past the wait, the GOAWAY goes out the moment no stream is in flight, or, when streams
# opened beside others since the wait keep one in flight, this many seconds later whatever
# is in flight.
GOAWAY_LAST_CHANCE = 0.5
_FOREVER = float("inf")


class H2Session:
    """The HTTP/2 side of one `Transport` (which hands every entry point over to it)."""

    def __init__(
        self,
        channel: SocketChannel,
        serving: StreamServing,
        remote: tuple[str, int] | None,
        extra: dict[str, Any] | None,
        received: bytes = b"",
    ) -> None:
        self._channel = channel
        self.serving = serving
        self.remote = remote
        self._state = threading.Lock()
        self._io = threading.Lock()
        self.proto = H2Protocol(serving.limits, serving.fields)
        self.proto.start()
        self.streams: dict[int, Stream] = {}
        self._received = received  # bytes read before HTTP/2 was recognised (the preface)
        self._environ = serving.gateway.environs.for_connection(self._gone, remote, extra)
        now = time.monotonic()
        timeouts = serving.timeouts
        self._preface_until: float | None = now + timeouts.header  # the client's SETTINGS
        self._idle_since: float | None = now
        self._overlapped_at = 0.0  # when a stream last opened beside another (monotonic)
        self._linger_until: float | None = None
        self._closing = False  # the server is stopping: GOAWAY, then drain
        self._closing_since: float | None = None  # when the server asked (monotonic)
        self.dead = False  # the connection failed or ended: streams stop
        self.deadline = self._preface_until

    # -- reading: on the thread the server gave the connection to -----------------------

    def serve(self, ready_since: float = 0.0) -> int:
        """Take what the client sent, start what it asked for; PARK or CLOSE.

        `ready_since`: when the connection became readable, if it then waited for a thread
        (the server knows): its new streams have waited since then (--queue-timeout)."""
        if self._linger_until is not None:
            return self._linger()
        now = time.monotonic()
        since = ready_since if 0.0 < ready_since < now else now
        calls: list[StreamCall] = []
        try:
            received: bytes | None = self._received
            self._received = b""
            for _ in range(READS_PER_SERVE):
                if not received:
                    with self._io:
                        received = self._channel.receive_nowait()
                    if received is None:
                        break
                    if not received:
                        return self._end("the client closed the connection")
                with self._state:
                    try:
                        self._receive(received, now, since, calls)
                    except ConnectionFailed:
                        # h2 closed the connection: a stream's thread that takes the lock
                        # before `_fail` ends them must find it dead, not write into h2
                        # (whose ProtocolError would read as the app's failure).
                        self.dead = True
                        raise
                received = b""
            with self._state:
                self._check_deadlines(now, calls)
                if self._closing and self._goaway_due(now):
                    self.proto.announce_shutdown()
                finished = self.proto.goaway_sent and not self.streams
        except ConnectionFailed as exc:
            self._submit(calls)  # what was accepted before the failure: it finds `dead`
            return self._fail(exc)
        except (ConnectionLost, OSError):
            self._submit(calls)
            return self._end("the connection failed")
        self._submit(calls)
        if finished:
            return self._finish()
        try:
            self.flush(wait=False)
        except ConnectionLost:
            return self._end("the connection failed")
        if self.dead:
            return self._end("the connection failed")
        self.deadline = self._next_deadline()
        return PARK

    def _receive(self, data: bytes, now: float, since: float, calls: list[StreamCall]) -> None:
        """Under `_state`: feed `data` and act on what happened."""
        self._preface_until = None  # the preface is checked by h2 as it arrives
        for happening in self.proto.receive(data, now):
            match happening:
                case BodyReceived():
                    self._body(happening, now)
                case StreamOpened():
                    self._open(happening, now, since, calls)
                case BodyEnded(stream_id=stream_id):
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        stream.ended = True
                        stream.cond.notify_all()
                        if not stream.submitted:
                            calls.append(self._queue(stream, now))
                case WindowOpened(stream_id=stream_id):
                    if stream_id == 0:
                        for stream in self.streams.values():
                            stream.cond.notify_all()
                    else:
                        stream = self.streams.get(stream_id)
                        if stream is not None:
                            stream.cond.notify_all()
                case BodyMalformed(stream_id=stream_id, error=error):
                    self._malformed_body(stream_id, error)
                case StreamCancelled(stream_id=stream_id):
                    stream = self.streams.get(stream_id)
                    if stream is not None:
                        self._cancel(stream)
                        if not stream.submitted:  # its body was still arriving: forget it
                            self._drop(stream)
                case ClientGoingAway(error_code=code):
                    # A graceful GOAWAY from a client only says it takes no pushed streams
                    # (RFC 9113 section 6.8), and this server pushes none. The connection
                    # goes on, answering what follows, until the client closes it or it
                    # idles out: closing at once would race a frame already on its way.
                    if code != NO_ERROR:
                        raise ConnectionFailed(code, "the client ended the connection")

    def _open(
        self, opened: StreamOpened, now: float, since: float, calls: list[StreamCall]
    ) -> None:
        request = opened.request
        if request is None or opened.error is not None:
            error = opened.error or HTTPError("bad request")
            head_request = request is not None and request.method == "HEAD"
            sent = self._answer_locked(opened.stream_id, error, head_request=head_request)
            self.proto.release(opened.stream_id)
            if self.serving.access is not None:
                records = self.records(self.serving.access)
                if request is not None:
                    records.head_at = now
                records.error(request, error.status, sent)
            if self.serving.metrics is not None:
                self.serving.metrics.here().parse_error(error.status)
            return
        stream = Stream(opened.stream_id, request, self._state, now)
        if self.streams:
            self._overlapped_at = now
        self.streams[stream.id] = stream
        self._idle_since = None
        if opened.ended:
            stream.ended = True
            calls.append(self._queue(stream, since))
            return
        timeouts = self.serving.timeouts
        length = request.content_length
        if length is not None and not request.expect_continue and length <= timeouts.prebuffer:
            # Received before the app runs, so a slow uploader waits with no thread.
            stream.mode = PREBUFFER
        elif length is None and not self.serving.chunked.stream:
            # No length announced: received whole first (as an HTTP/1.1 chunked body), so
            # the app gets a CONTENT_LENGTH.
            stream.mode = SPOOL
            chunked = self.serving.chunked
            stream.spool = BodySpool(chunked.spool_threshold, chunked.spool_dir)
            if request.expect_continue:
                self._continue(stream)
        else:
            calls.append(self._queue(stream, since))

    def _body(self, received: BodyReceived, now: float) -> None:
        stream = self.streams.get(received.stream_id)
        data = received.data
        if stream is None or stream.cancelled:
            self.proto.acknowledge(received.stream_id, len(data))
            return
        stream.received += len(data)
        stream.last_data = now
        if stream.mode == PULL:
            stream.inbound.append(data)
            stream.cond.notify_all()
            return
        # Received before the app runs: taken now, so the window is given back now.
        self.proto.acknowledge(stream.id, len(data))
        if stream.mode == PREBUFFER:
            stream.body_parts.append(data)
            return
        spool = stream.spool
        limit = self.serving.fields.max_body_size
        try:
            if stream.received > limit:
                raise ContentTooLarge(f"request body larger than {limit} bytes")
            if spool is not None:
                spool.write(data)
        except HTTPError as exc:
            if isinstance(exc, SpoolError):
                log.error("%s", exc.log_detail)
            self._refuse_body(stream, exc)

    def _malformed_body(self, stream_id: int, error: HTTPError) -> None:
        """Under `_state`: RFC 9113 section 8.1.1, a stream error. A stream not yet given to
        the app is answered, as HTTP/1.1 answers a malformed body, then reset; one the app
        has is reset and stops (its next read fails, its response cannot go out)."""
        log.debug("HTTP/2 stream %d from %s reset: %s", stream_id, _peer(self.remote), error.detail)
        if self.serving.metrics is not None:
            self.serving.metrics.here().parse_error(error.status)
        stream = self.streams.get(stream_id)
        if stream is not None and not stream.submitted:
            self._refuse_body(stream, error)
            return
        if stream is not None:
            self._cancel(stream)
        self.proto.reset(stream_id, PROTOCOL_ERROR)

    def _cancel(self, stream: Stream) -> None:
        """Under `_state`: nothing more is received or sent on the stream; its waits end, and
        a body left unread is incomplete now (`pull` raises) and given back."""
        stream.cancelled = True
        self._give_back(stream)
        stream.cond.notify_all()

    def _refuse_body(self, stream: Stream, error: HTTPError) -> None:
        """Under `_state`: a body received before the app runs cannot be taken: answer."""
        sent = self._answer_locked(stream.id, error, head_request=stream.request.method == "HEAD")
        if self.serving.access is not None:
            records = self.records(self.serving.access)
            records.head_at = stream.head_at
            records.error(stream.request, error.status, sent)
        self._drop(stream)

    def _drop(self, stream: Stream) -> None:
        """Under `_state`: a stream that will never reach the app is forgotten."""
        spool, stream.spool = stream.spool, None
        if spool is not None:
            spool.close()
        stream.cancelled = True
        self._forget(stream)
        if not self.streams:
            self._idle_since = time.monotonic()

    def _forget(self, stream: Stream) -> bool:
        """Under `_state`: the server is done with the stream; False if it was already."""
        if self.streams.pop(stream.id, None) is None:
            return False
        self.proto.release(stream.id)  # first: a reset stream needs no WINDOW_UPDATE of its own
        self._give_back(stream)
        return True

    def _give_back(self, stream: Stream) -> None:
        """Under `_state`: body bytes received and never to be read (the app answered
        without reading them all, or the stream was reset) still count against the
        connection's window until acknowledged (RFC 9113 section 6.9); without this, a few
        such uploads would leave the connection unable to receive any body."""
        unread = sum(map(len, stream.inbound))
        stream.inbound.clear()
        self.proto.acknowledge(stream.id, unread)

    def _queue(self, stream: Stream, now: float) -> StreamCall:
        stream.submitted = True
        stream.ready_at = now
        return StreamCall(self, stream)

    def _submit(self, calls: list[StreamCall]) -> None:
        """Hand the calls to the pool (outside `_state`: the server takes its own lock)."""
        for call in calls:
            self.serving.submit(call)

    def _check_deadlines(self, now: float, calls: list[StreamCall]) -> None:
        """Under `_state`: what passed its deadline (408 for a body too slow, GOAWAY for an
        idle or silent connection)."""
        timeouts = self.serving.timeouts
        for stream in list(self.streams.values()):
            if stream.submitted or stream.mode == PULL:
                continue
            late = stream.body_deadline(
                timeouts.body, timeouts.min_body_rate, timeouts.body_rate_grace
            )
            if late <= now:
                self._count_timeout("body")
                self._refuse_body(stream, ClientRequestTimeout("request body arrived too slowly"))
        if self._preface_until is not None and self._preface_until <= now:
            self._count_timeout("header")
            detail = "no connection preface within header_timeout"
            self.proto.go_away(PROTOCOL_ERROR, detail)  # RFC 9113 section 3.4
            raise ConnectionFailed(PROTOCOL_ERROR, detail)
        idle = self._idle_since
        if idle is not None and not self.streams and idle + timeouts.keepalive <= now:
            self._count_timeout("keepalive")
            self._closing = True  # idle: a graceful GOAWAY, then close

    def _next_deadline(self) -> float:
        with self._state:
            if self._preface_until is not None:
                return self._preface_until
            timeouts = self.serving.timeouts
            deadline = _FOREVER
            if self._idle_since is not None and not self.streams:
                deadline = self._idle_since + timeouts.keepalive
            if self._closing_since is not None and not self.proto.goaway_sent:
                deadline = min(deadline, self._goaway_at())
            for stream in self.streams.values():
                if not stream.submitted and stream.mode != PULL:
                    deadline = min(
                        deadline,
                        stream.body_deadline(
                            timeouts.body, timeouts.min_body_rate, timeouts.body_rate_grace
                        ),
                    )
            return deadline

    # -- writing: any thread ----------------------------------------------------------

    def flush(self, *, wait: bool = True) -> None:
        """Send what the protocol queued. `wait=False`: if another thread is writing, leave
        it to that thread, which sends until nothing is queued.

        Nothing is stranded: a writer looks again after releasing `_io`, so bytes queued just
        after its last look are sent by it, or by the thread that queued them and found the
        lock free by then.
        """
        while True:
            if wait:
                self._io.acquire()
            elif not self._io.acquire(blocking=False):
                return
            try:
                while True:
                    with self._state:
                        if self.dead:
                            raise ConnectionLost("the connection ended")
                        data = self.proto.take_output()
                    if not data:
                        break
                    self._channel.send(data)
            except ConnectionLost:
                self._broken()
                raise
            finally:
                self._io.release()
            with self._state:
                if not self.proto.output_pending:
                    return
            wait = False

    def _broken(self) -> None:
        """The socket failed under a writer: every stream stops, the owner closes."""
        with self._state:
            first = not self.dead
            self.dead = True
            for stream in self.streams.values():
                stream.cancelled = True
                stream.cond.notify_all()
        if first:
            self.serving.wake()

    def _writable(self, stream: Stream) -> None:
        """Under `_state`: ConnectionLost unless the stream may still send."""
        if self.dead:
            raise ConnectionLost("the connection ended")
        if stream.interrupted:
            raise ConnectionLost("the request timed out")
        if stream.cancelled or stream.finished:
            raise ConnectionLost("the client reset the stream")

    def write(self, stream: Stream, data: bytes, *, last: bool) -> None:
        """Send `data` on the stream (its pending HEADERS first), waiting for the client's
        windows at most `send_timeout`; `last` ends the stream with it."""
        proto = self.proto
        view = memoryview(data)
        deadline: float | None = None
        with self._state:
            if stream.finished and not data:
                return  # a write after the last byte (cut to its Content-Length)
            self._writable(stream)
            head = stream.pending_head
            if head is not None:
                stream.pending_head = None
                end = last and not data
                proto.send_headers(stream.id, head, end_stream=end)
                if end:
                    stream.finished = True
        while view:
            with self._state:
                while True:
                    self._writable(stream)
                    if proto.sendable(stream.id) > 0:
                        break
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self.serving.timeouts.send
                    if now >= deadline:
                        self._count_timeout("send")
                        stream.cancelled = True
                        proto.reset(stream.id, CANCEL)
                        raise ConnectionLost("the client's flow-control window stayed closed")
                    stream.cond.wait(deadline - now)
                queued = 0
                while view and queued < FLUSH_EVERY:
                    size = proto.sendable(stream.id)
                    if size <= 0:
                        break
                    piece = view[:size]
                    view = view[size:]
                    end = last and not view
                    proto.send_data(stream.id, piece, end_stream=end)
                    queued += len(piece)
                    if end:
                        stream.finished = True
            self.flush()
        if not data:
            self.flush()

    def end(self, stream: Stream) -> None:
        """The response is complete: END_STREAM (with the HEADERS if still pending)."""
        with self._state:
            if stream.finished:
                return
            self._writable(stream)
            head = stream.pending_head
            if head is not None:
                stream.pending_head = None
                self.proto.send_headers(stream.id, head, end_stream=True)
            else:
                self.proto.end_stream(stream.id)
            stream.finished = True
        self.flush()

    def informational(self, stream: Stream, block: list[Header]) -> None:
        """An interim response (103) on the stream, before its final one."""
        with self._state:
            if stream.writer is not None or stream.finished:
                return
            self._writable(stream)
            self.proto.send_headers(stream.id, block)
        self.flush()

    def _continue(self, stream: Stream) -> None:
        """Under `_state`: 100 Continue, once (RFC 9110 section 10.1.1, RFC 9113 8.1)."""
        if not stream.continue_sent and not stream.ended:
            stream.continue_sent = True
            self.proto.send_headers(stream.id, [(b":status", b"100")])

    def cancel(self, stream: Stream) -> None:
        """The response cannot be completed: RST_STREAM (INTERNAL_ERROR), if still open."""
        with self._state:
            if stream.finished or self.dead:
                return
            stream.finished = True
            self.proto.reset(stream.id, CANCEL if stream.cancelled else INTERNAL_ERROR)
        with contextlib.suppress(ConnectionLost):
            self.flush(wait=False)

    def answer(self, stream: Stream, error: HTTPError, request_id: str = "") -> int:
        """Answer the stream with `error` (no head sent yet); the body bytes sent.
        `request_id`: the request's id, sent back under --echo-request-id."""
        with self._state:
            if stream.finished or stream.cancelled or self.dead:
                return 0
            sent = self._answer_locked(
                stream.id,
                error,
                head_request=stream.request.method == "HEAD",
                request_id=request_id,
            )
            stream.finished = True
        with contextlib.suppress(ConnectionLost):
            self.flush()
        return sent

    def _answer_locked(
        self, stream_id: int, error: HTTPError, *, head_request: bool, request_id: str = ""
    ) -> int:
        """Under `_state`: an error response with a short text body, like HTTP/1.1's
        `error_response`; a body the client's window cannot take at once is left out.

        A malformed request (`BadRequest`) is a stream error (RFC 9113 section 8.1.1): the
        response does not end the stream, RST_STREAM (PROTOCOL_ERROR) does, as that section
        allows ("a server MAY send an HTTP response prior to ... resetting the stream")."""
        malformed = isinstance(error, BadRequest)
        body = b"" if head_request else error_body(error.status, error.reason, error.client_detail)
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if error.status == 503:
            headers.append(("Retry-After", "1"))  # RFC 9110 section 10.2.3
        echo = self.serving.gateway.echo_header
        if echo and request_id:
            headers.append((echo, request_id))  # as on HTTP/1.1 (`Transport._echo_line`)
        fields = prepare_fields(f"{error.status} {error.reason}", headers)
        proto = self.proto
        if body and proto.sendable(stream_id) < len(body):
            body = b""
        block = response_headers(
            fields, self.serving.gateway.date(), len(body) if body or head_request else 0
        )
        try:
            proto.send_headers(stream_id, block, end_stream=not body and not malformed)
            if body:
                proto.send_data(stream_id, body, end_stream=not malformed)
        except Exception:  # the stream closed meanwhile: nothing to answer
            return 0
        if malformed:
            proto.reset(stream_id, PROTOCOL_ERROR)
        return len(body)

    # -- a stream's body, as the app reads it -----------------------------------------

    def body_for(self, stream: Stream) -> RequestBody:
        with self._state:
            return body_of(stream, self)

    def pull(self, stream: Stream) -> bytes:
        """The next piece of the body (b"" at its end), waiting at most the body timeout
        and the minimum rate; its bytes go back to the client's windows."""
        timeouts = self.serving.timeouts
        with self._state:
            if stream.request.expect_continue and not stream.inbound:
                self._continue(stream)
            limit: float | None = None
            while not stream.inbound:
                # Before `ended`: a stream reset after its last byte arrived had what was
                # left unread given back, so its body is incomplete, not at its end.
                if self.dead or stream.cancelled:
                    raise ConnectionLost("the client reset the stream")
                if stream.ended:
                    return b""
                now = time.monotonic()
                if limit is None:
                    stream.last_data = now  # the app asks now: inactivity counts from here
                    limit = stream.body_deadline(
                        timeouts.body, timeouts.min_body_rate, timeouts.body_rate_grace
                    )
                if limit <= now:
                    self._count_timeout("body")
                    raise ClientRequestTimeout("request body not received in time")
                stream.cond.wait(limit - now)
            data = stream.inbound.popleft()
            self.proto.acknowledge(stream.id, len(data))
            if stream.request.content_length is None:
                limit_size = self.serving.fields.max_body_size
                if stream.received > limit_size:
                    raise ContentTooLarge(f"request body larger than {limit_size} bytes")
        with contextlib.suppress(ConnectionLost):
            self.flush(wait=False)  # WINDOW_UPDATE
        return data

    # -- streams starting and ending -------------------------------------------------

    def records(self, sink: Callable[[RequestRecord], None]) -> Records:
        """The access records of one stream (or of a stream refused at its head)."""
        return Records(sink, self.remote, self._identify_refused)

    def _identify_refused(self, request: Request | None) -> tuple[str | None, str]:
        return self.serving.gateway.identify_refused(request, self._environ, self.remote)

    def stream_environ(self, stream: Stream) -> dict[str, Any]:
        environ = self._environ.copy()
        environ["wsgiserver.client_disconnected"] = stream.client_gone
        return environ

    def _count_timeout(self, kind: str) -> None:
        """A deadline of this connection or one of its streams passed (metrics)."""
        if self.serving.metrics is not None:
            self.serving.metrics.here().timeout(kind)

    def _gone(self) -> bool:
        return self.dead

    def begin(self, stream: Stream) -> bool:
        """A pool thread takes the stream's call: False if it is no longer wanted."""
        with self._state:
            if stream.cancelled or self.dead:
                return_now = True
            else:
                stream.started = True
                return_now = False
        if return_now:
            self.release(stream)
            return False
        return True

    def refuse(self, stream: Stream) -> None:
        """The server stopped before the call ran: REFUSED_STREAM (safe to retry). Nothing
        is sent here: the connection is about to be closed by the stop, its last bytes
        with it if its thread still gets to them."""
        with self._state:
            if not stream.finished and not self.dead:
                stream.finished = True
                self.proto.reset(stream.id, REFUSED_STREAM)
            self._forget(stream)

    def interrupt(self, stream: Stream, request_id: str = "") -> None:
        """Another thread (the housekeeper): the stream's --request-timeout passed. 504 if
        no head was sent (with `request_id` under --echo-request-id), else RST_STREAM;
        nothing more goes out on it. The connection is served again to send it (no socket
        call here)."""
        with self._state:
            if stream.finished or self.dead:
                return
            stream.interrupted = True
            if stream.writer is None:
                self._answer_locked(
                    stream.id,
                    GatewayTimeout("the application did not answer in time"),
                    head_request=stream.request.method == "HEAD",
                    request_id=request_id,
                )
            else:
                self.proto.reset(stream.id, CANCEL)
            stream.finished = True
            stream.cond.notify_all()
        self.serving.wake()

    def release(self, stream: Stream) -> None:
        """The stream's call is over (or never ran): forget it; the last one to go wakes
        the connection (its idle deadline starts; a GOAWAY can end it now)."""
        with self._state:
            if not self._forget(stream):
                return
            last = not self.streams
            if last:
                self._idle_since = now = time.monotonic()
                if self._closing and self._goaway_due(now):
                    # In the same write as the stream's end, when it can: a client that
                    # sends its requests back to back reads both before its next one.
                    self.proto.announce_shutdown()
        with contextlib.suppress(ConnectionLost):
            self.flush(wait=False)
        if last or self.dead:
            self.serving.wake()

    # -- ending ---------------------------------------------------------------------------

    def request_close(self) -> None:
        """The server is stopping (any thread, under the server's lock: no I/O here): a
        `serve` sends GOAWAY (`_goaway_due`); the open streams finish, then the connection
        closes."""
        if self._closing_since is None:
            self._closing_since = time.monotonic()
        self._closing = True

    def _goaway_due(self, now: float) -> bool:
        """Under `_state`, closing: whether the graceful GOAWAY goes out now."""
        return now >= self._goaway_at()

    def _goaway_at(self) -> float:
        """Under `_state`, closing: when the graceful GOAWAY goes out (monotonic; 0.0: now).
        Once no stream has been in flight for GOAWAY_AFTER_LAST; after the wait
        (GOAWAY_QUIET_WAIT, or --keepalive-timeout if shorter), as soon as none is; and
        GOAWAY_LAST_CHANCE later if streams opened beside others since the wait. RFC
        9113 section 6.8 has the streams a GOAWAY names answered, but some clients (httpx,
        through h2) fail every stream still open when one arrives: a response sent after it
        is lost to them, and a POST cannot be retried. The streams that come meanwhile are
        served."""
        since = self._closing_since
        if since is None:
            return 0.0
        waited = since + min(GOAWAY_QUIET_WAIT, self.serving.timeouts.keepalive)
        if self.streams:
            if self._overlapped_at > waited:
                # Since the wait, new streams open beside those in flight: no quiet moment
                # may ever come.
                return waited + GOAWAY_LAST_CHANCE
            # Streams one at a time, or only streams from before the wait: the end of those
            # in flight is the moment, however late (a long upload was cut for httpx half a
            # second past the wait; past --graceful-timeout the stop cuts it anyway).
            return _FOREVER
        # Past the wait, at once: a client that keeps one stream going (requests back to
        # back) never leaves a quiet moment, but reads the GOAWAY with its last response.
        idle = self._idle_since
        return 0.0 if idle is None else min(waited, idle + GOAWAY_AFTER_LAST)

    @property
    def idle(self) -> bool:
        """No stream is open: closing now loses no request."""
        return not self.streams

    def _finish(self) -> int:
        """GOAWAY is out and no stream is left: send the rest, then close lingering."""
        try:
            self.flush()
        except ConnectionLost:
            return self._end("the connection failed")
        with self._io:
            writable = self._channel.shutdown_write()
        if not writable:
            return self._end("the connection failed")
        self._linger_until = time.monotonic() + self.serving.timeouts.linger
        return self._linger()

    def _linger(self) -> int:
        # RFC 9113 section 6.8 and RFC 9112 section 9.6: keep reading a moment after our
        # last frame, so the client reads the GOAWAY before any reset caused by bytes it
        # was still sending.
        with self._io:
            done = self._channel.discard_input()
        if done or self._linger_until is None or self._linger_until <= time.monotonic():
            return self.close()
        self.deadline = self._linger_until
        return PARK

    def _fail(self, failure: ConnectionFailed) -> int:
        """The connection must end now (a protocol error, a flood): GOAWAY and close."""
        level = logging.INFO if failure.error_code != NO_ERROR else logging.DEBUG
        log.log(level, "HTTP/2 connection from %s ended: %s", _peer(self.remote), failure.detail)
        with self._state:
            data = self.proto.take_output()
        # A stream's thread may be sending (its response): wait for it a moment, so that
        # the GOAWAY saying why goes out after it, not lost; never long behind a stalled one.
        if self._io.acquire(timeout=GOAWAY_SEND_WAIT):
            try:
                self._channel.send_quietly(data)  # one attempt: the GOAWAY, best effort
            finally:
                self._io.release()
        return self._end(failure.detail)

    def _end(self, why: str) -> int:
        """Stop every stream and close (on the owner's thread)."""
        with self._state:
            self._stop_streams()
        log.debug("HTTP/2 connection from %s: %s", _peer(self.remote), why)
        return self.close()

    def _stop_streams(self, *, drop: bool = True) -> list[Stream]:
        """Under `_state`: the connection is dead; every stream stops (its waits end), and
        with `drop` those that never reached the app are forgotten. The streams, as they
        were."""
        self.dead = True
        streams = list(self.streams.values())
        for stream in streams:
            stream.cancelled = True
            stream.cond.notify_all()
            if drop and not stream.submitted:
                self._drop(stream)
        return streams

    def abandon(self) -> None:
        """Another thread (the server, at --graceful-timeout): give up on the connection.
        Each stream in the app gets its access record now (no status)."""
        with self._state:
            streams = self._stop_streams(drop=False)
        for stream in streams:
            if stream.records is not None:
                stream.records.abandon(stream.request)
        self._channel.interrupt(None)
        self._channel.close()

    def close_idle(self) -> int:
        """A stop that does not drain (embedded), or the end of one: a graceful GOAWAY first
        (RFC 9113 section 6.8: one before closing), in one non-blocking attempt, then close
        without lingering, so the stop stays quick."""
        with self._state:
            if not self.dead:
                self.proto.announce_shutdown()
            data = b"" if self.dead else self.proto.take_output()
        if data:
            with self._io:
                self._channel.send_quietly(data)
        return self.close()

    def close(self) -> int:
        with self._state:
            self._stop_streams()
        # A stream thread may be in a send: shut the socket down so it fails at once, then
        # close once it has let go of it.
        self._channel.interrupt(None)
        with self._io:
            self._channel.close()
        return CLOSE


def _peer(remote: tuple[str, int] | None) -> str:
    return f"{remote[0]}:{remote[1]}" if remote is not None else "a unix socket"
