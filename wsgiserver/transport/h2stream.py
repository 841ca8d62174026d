"""One HTTP/2 stream: its state, and the task that runs the application for it.

Owns: a stream's request and how its body reaches the app (received whole before the app
runs, in memory or spooled, or pulled as the app reads), its response state, and `StreamCall`:
the pool task that runs one WSGI call for the stream with everything an HTTP/1.1 request gets
(queue-timeout shedding, the request deadline, metrics, the access record, hooks through the
gateway, `close()` through the gateway), framing the response as the gateway's `Framing` and
writing it as its `Channel`. Must not: touch the socket or the h2 state itself: every such
step is the session's (`h2session.py`), which holds the locks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from wsgiserver.errors import (
    ApplicationError,
    ConnectionLost,
    HTTPError,
    ResponseFramingError,
    ServiceUnavailable,
)
from wsgiserver.gateway.gateway import Gateway, Outcome, RequestBody
from wsgiserver.gateway.spool import BodySpool
from wsgiserver.http2.limits import H2Limits
from wsgiserver.http2.messages import Header, informational_headers, response_headers
from wsgiserver.observability import metrics as m
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.protocol import Limits, Request
from wsgiserver.protocol.writers import ResponseFields, ResponseWriter
from wsgiserver.transport.channel import file_blocks
from wsgiserver.transport.overload import Overload
from wsgiserver.transport.records import Records, log_close_error, log_failure, printable
from wsgiserver.transport.settings import ChunkedBodies, Timeouts

PULL, PREBUFFER, SPOOL = range(3)  # how the body reaches the app (see `Stream.mode`)


@dataclass(frozen=True, slots=True)
class StreamServing:
    """What the streams of a connection are served with (the transport's own settings)."""

    gateway: Gateway
    timeouts: Timeouts
    chunked: ChunkedBodies
    fields: Limits  # the same size limits as an HTTP/1.1 head
    limits: H2Limits
    submit: Callable[[StreamCall], None]  # run a stream's call on a pool thread
    wake: Callable[[], None]  # serve this connection again on a pool thread
    access: Callable[[RequestRecord], None] | None = None
    metrics: m.ProcessMetrics | None = None
    overload: Overload | None = None


class H2Session(Protocol):
    """What a stream's call asks of its connection (`h2session.H2Session`, which holds the
    locks and the protocol state): the narrow interface between the two modules."""

    serving: StreamServing
    remote: tuple[str, int] | None

    def begin(self, stream: Stream) -> bool: ...

    def body_for(self, stream: Stream) -> RequestBody: ...

    def stream_environ(self, stream: Stream) -> dict[str, Any]: ...

    def pull(self, stream: Stream) -> bytes: ...

    def write(self, stream: Stream, data: bytes, *, last: bool) -> None: ...

    def informational(self, stream: Stream, block: list[Header]) -> None: ...

    def end(self, stream: Stream) -> None: ...

    def answer(self, stream: Stream, error: HTTPError, request_id: str = "") -> int: ...

    def cancel(self, stream: Stream) -> None: ...

    def interrupt(self, stream: Stream, request_id: str = "") -> None: ...

    def refuse(self, stream: Stream) -> None: ...

    def release(self, stream: Stream) -> None: ...

    def records(self, sink: Callable[[RequestRecord], None]) -> Records: ...


class Stream:
    """The state of one stream. Fields are read and written under the session's state lock
    (`cond` is a condition on it), except `request` and `head_at`, which never change."""

    __slots__ = (
        "body_parts",
        "body_since",
        "cancelled",
        "cond",
        "continue_sent",
        "ended",
        "finished",
        "head_at",
        "id",
        "inbound",
        "interrupted",
        "last_data",
        "mode",
        "pending_head",
        "ready_at",
        "received",
        "records",
        "request",
        "spool",
        "started",
        "submitted",
        "writer",
    )

    def __init__(self, stream_id: int, request: Request, lock: threading.Lock, now: float) -> None:
        self.id = stream_id
        self.request = request
        self.cond = threading.Condition(lock)
        self.head_at = now  # when the request head was complete
        self.ready_at = now  # when the app call was queued (for --queue-timeout)
        self.mode = PULL
        self.inbound: deque[bytes] = deque()  # PULL: body pieces the app has not read
        self.body_parts: list[bytes] = []  # PREBUFFER: the body so far
        self.spool: BodySpool | None = None  # SPOOL: the body so far
        self.received = 0  # body bytes received
        self.body_since = now  # when the body began to be waited for (--min-body-rate)
        self.last_data = now  # when a body byte last arrived (--body-timeout)
        self.ended = False  # the whole request body arrived
        self.cancelled = False  # the client reset the stream, or the connection ended
        self.interrupted = False  # --request-timeout fired: nothing more is sent
        self.continue_sent = False
        self.submitted = False  # its app call was handed to the pool
        self.started = False  # a thread took the app call
        self.finished = False  # END_STREAM (or RST_STREAM) was sent
        self.writer: ResponseWriter | None = None  # the response, once its head exists
        self.pending_head: list[Header] | None = None  # HEADERS not yet sent
        self.records: Records | None = None

    def client_gone(self) -> bool:
        """environ["wsgiserver.client_disconnected"] of this stream (a read, no lock)."""
        return self.cancelled

    def body_deadline(self, body_timeout: float, rate: int, grace: float) -> float:
        """When a body still arriving is too late: no byte for `body_timeout`, or slower than
        `rate` bytes/s after `grace` seconds (the HTTP/1.1 rule, `channel.rate_deadline`)."""
        deadline = self.last_data + body_timeout
        if rate:
            deadline = min(deadline, self.body_since + grace + self.received / rate)
        return deadline


class StreamBody:
    """`wsgi.input`'s pull for a body read as the app asks (the gateway's `BodyPull`)."""

    __slots__ = ("_session", "_stream", "pulled")

    def __init__(self, session: H2Session, stream: Stream) -> None:
        self._session = session
        self._stream = stream
        self.pulled = 0

    def __call__(self) -> bytes:
        data = self._session.pull(self._stream)
        self.pulled += len(data)
        return data


class StreamCall:
    """The pool task of one stream: one WSGI call. Also the gateway's `Framing` and
    `Channel` for the stream's response (HEADERS and DATA frames, through the session)."""

    __slots__ = ("outcome", "session", "stream", "unsent")

    def __init__(self, session: H2Session, stream: Stream) -> None:
        self.session = session
        self.stream = stream
        self.unsent = 0  # file bytes the response counted but a failed write never took
        self.outcome: Outcome | None = None  # the call's, once it reaches the gateway

    # -- the task ---------------------------------------------------------------------------

    def _request_id_now(self) -> str:
        """The call's request id (its deadline's log lines name it)."""
        outcome = self.outcome
        return outcome.request_id if outcome is not None else ""

    def drop(self) -> None:
        """The server stopped before a thread took the call: refuse the stream."""
        self.session.refuse(self.stream)

    def run(self) -> None:
        session = self.session
        stream = self.stream
        if not session.begin(stream):
            return  # reset by the client (or the connection ended) before its turn
        serving = session.serving
        request = stream.request
        now = time.monotonic()
        wait = max(now - stream.ready_at, 0.0)
        counters = serving.metrics.here() if serving.metrics is not None else None
        overload = serving.overload
        deadlines = overload.deadlines if overload is not None else None
        status = 500
        entry = None
        in_flight = False
        try:
            if overload is not None and overload.queue_timeout and wait > overload.queue_timeout:
                if counters is not None:
                    counters.add(m.SHED)
                    counters.timeout("queue")
                status = 503
                error = ServiceUnavailable(
                    f"waited {wait:.3f}s for a worker thread (queue_timeout)"
                )
                sent = session.answer(stream, error)
                if serving.access is not None:
                    self._records(serving.access).error(request, 503, sent)
                return
            if deadlines is not None:
                label = f"{request.method} {printable(request.target)}"
                method = request.method

                def answer_504() -> None:
                    metrics = serving.metrics
                    if metrics is not None:  # now, as on HTTP/1.1 (`_abort_for_timeout`)
                        metrics.here().request(method, 504, time.monotonic() - now, wait)
                    session.interrupt(stream, self._request_id_now())

                entry = deadlines.start(now, answer_504, label, self._request_id_now)
            if counters is not None:
                counters.add(m.IN_FLIGHT)
                in_flight = True
            status = self._call()
        finally:
            claimed = False
            if entry is not None and deadlines is not None:
                deadlines.end(entry)
                claimed = entry.claimed  # the 504 was counted when it was sent
            if counters is not None:
                if in_flight:
                    counters.add(m.IN_FLIGHT, -1)
                if stream.interrupted:
                    status = 504
                if not claimed:
                    counters.request(request.method, status, time.monotonic() - now, wait)
            session.release(stream)

    def _records(self, sink: Callable[[RequestRecord], None]) -> Records:
        records = self.session.records(sink)
        records.head_at = self.stream.head_at
        self.stream.records = records
        return records

    def _call(self) -> int:
        """Run the app and end the stream; the status for the metrics."""
        session = self.session
        serving = session.serving
        stream = self.stream
        request = stream.request
        records = self._records(serving.access) if serving.access is not None else None
        record = records.start(request) if records is not None else None
        outcome = self.outcome = Outcome()
        status: int | None = None  # for the record, when no response head carried one
        sent: int | None = None  # body bytes of an error answer (the record's)
        try:
            body = session.body_for(stream)
            if isinstance(body, BodySpool):
                stream.spool = body
            environ = session.stream_environ(stream)
            serving.gateway.handle(self, self, request, environ, session.remote, outcome, body)
            session.end(stream)
        except HTTPError as exc:
            status = exc.status
            if isinstance(exc, ApplicationError):
                log_failure(request, outcome, exc.detail, exc.__cause__ or exc)
            if stream.writer is None:
                sent = session.answer(stream, exc, outcome.request_id)
            else:  # pragma: no cover - the gateway raises HTTPError only before the head
                session.cancel(stream)
        except ResponseFramingError as exc:
            log_failure(request, outcome, str(exc), None)
            outcome.aborted = True
            session.cancel(stream)
        except (ConnectionLost, OSError):
            outcome.aborted = True
            session.cancel(stream)
        except BaseException as exc:
            if stream.interrupted:
                status = 504  # --request-timeout: answered (or reset) already
                outcome.aborted = True
            elif stream.writer is None:
                # Like any other app failure before a head went out: 500, not a reset.
                status = 500
                log_failure(request, outcome, f"the application raised {type(exc).__name__}", exc)
                sent = session.answer(
                    stream,
                    ApplicationError("the application raised an exception"),
                    outcome.request_id,
                )
            else:
                message = "the application failed after the response head was sent"
                log_failure(request, outcome, message, exc)
                outcome.aborted = True
                session.cancel(stream)
        finally:
            spool, stream.spool = stream.spool, None
            if spool is not None:
                with contextlib.suppress(OSError):
                    spool.close()
            writer = stream.writer
            if writer is not None and writer.surplus:
                # Cut to the declared length (RFC 9113 section 8.1.1 makes more a malformed
                # message) and said once, as over HTTP/1.1.
                log_failure(request, outcome, writer.overrun() or "", None)
            if outcome.close_error is not None:
                log_close_error(request, outcome)
            if record is not None and records is not None:
                if sent is None and self.unsent:
                    sent = max(0, outcome.body_bytes - self.unsent)
                records.end(record, outcome, status, sent)
        if status is not None:
            return status
        return int(outcome.status[:3]) if outcome.status else 0

    # -- the gateway's Framing -----------------------------------------------------------

    def open_response(
        self, fields: ResponseFields, *, length_hint: int | None = None, extra: str = ""
    ) -> tuple[bytes, ResponseWriter]:
        """The response starts: its HEADERS wait for the first DATA (or the end)."""
        stream = self.stream
        writer = ResponseWriter()
        length = writer.frame_message(
            fields, head_request=stream.request.method == "HEAD", length_hint=length_hint
        )
        stream.pending_head = response_headers(fields, extra, length)
        stream.writer = writer
        return b"", writer

    def send_informational(self, fields: ResponseFields) -> bytes:
        """103 Early Hints: a HEADERS frame of its own, before the response's."""
        self.session.informational(self.stream, informational_headers(fields))
        return b""

    # -- the gateway's Channel -----------------------------------------------------------

    def send(self, data: bytes) -> None:
        writer = self.stream.writer
        # The last body bytes carry END_STREAM: a Content-Length body just completed, or a
        # response that can have no body (HEAD, 204, 304) has its head alone.
        last = writer is not None and (writer.complete or not writer.has_body)
        self.session.write(self.stream, data, last=last)

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int:
        """No sendfile over HTTP/2 (the kernel cannot frame): the file in DATA frames."""
        sent = 0
        writer = self.stream.writer
        complete = writer is not None and writer.complete
        try:
            for block in file_blocks(file, offset, count):
                self.session.write(self.stream, block, last=complete and sent + len(block) == count)
                sent += len(block)
        except (ConnectionLost, OSError):
            self.unsent += count - sent  # the response counted all of it (`Response`)
            raise
        return sent

    def client_disconnected(self) -> bool:
        return self.stream.cancelled


def body_of(stream: Stream, session: H2Session) -> RequestBody:
    """The body as the gateway takes it, once the stream's mode has done its part (under
    the session's state lock)."""
    if stream.mode == PREBUFFER:
        parts = stream.body_parts
        stream.body_parts = []
        return parts[0] if len(parts) == 1 else b"".join(parts)
    if stream.mode == SPOOL and stream.spool is not None:
        return stream.spool
    if stream.ended and not stream.inbound:
        return b""
    return StreamBody(session, stream)
