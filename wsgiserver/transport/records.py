"""Access records and error log lines for the requests of one connection.

Owns: building the `RequestRecord` of a request from its head, completing it once the
request is answered (from the gateway's `Outcome`, or from the error the transport sent),
handing it to the configured sink, and the error log line of a failed request. Must not:
decide anything about a request; every request that was answered gets exactly one record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from wsgiserver.gateway.gateway import Outcome
from wsgiserver.observability.accesslog import RequestRecord, escape
from wsgiserver.protocol import Request

log = logging.getLogger("wsgiserver.error")


class Records:
    """The access records of one connection, for a sink (access log, hooks, embedding)."""

    __slots__ = (
        "_abandoned",
        "_current",
        "_identify",
        "_lock",
        "_open",
        "_sink",
        "head_at",
        "ready_since",
        "remote",
    )

    def __init__(
        self,
        sink: Callable[[RequestRecord], None],
        remote: tuple[str, int] | None,
        identify: Callable[[Request | None], tuple[str | None, str]],
    ) -> None:
        self._sink = sink
        self.remote = remote  # the client (after a PROXY header: the proxied client)
        # For a request the server answers itself: its client address and id, as the
        # gateway would have given them (Gateway.identify_refused).
        self._identify = identify
        self.head_at = 0.0  # monotonic: when the current head was complete
        # Monotonic, 0.0 if unknown: since when the connection was ready and waited for a
        # thread (the server's estimate, as for the queue_wait_seconds metric); the queue
        # wait of the record counts from it.
        self.ready_since = 0.0
        # The record of a request whose app failed before a head was sent: completed with
        # the error response the transport sends for it.
        self._open: tuple[RequestRecord, Outcome] | None = None
        # The record of the request in progress, and whether the server gave up on this
        # connection (`abandon`, from the stopping thread): then nothing more is recorded.
        self._current: RequestRecord | None = None
        self._abandoned = False
        self._lock = threading.Lock()

    def start(self, request: Request) -> RequestRecord:
        # A field sent twice is both values, joined as RFC 9110 section 5.3 combines them
        # (the app's HTTP_USER_AGENT has both): the last one alone misreported the request.
        referer = user_agent = b""
        for name, value in request.headers:
            if name == b"user-agent":
                user_agent = value if not user_agent else user_agent + b", " + value
            elif name == b"referer":
                referer = value if not referer else referer + b", " + value
        now = time.monotonic()
        head_at = self.head_at or now
        ready_since, self.ready_since = self.ready_since, 0.0
        queued_from = ready_since if 0.0 < ready_since < head_at else head_at
        remote = self.remote
        self._current = record = RequestRecord(
            remote=remote[0] if remote else "-",
            method=request.method,
            target=request.target.decode("latin-1"),
            version=request.http_version,
            referer=referer.decode("latin-1"),
            user_agent=user_agent.decode("latin-1"),
            started=time.time(),
            queue_us=int((now - queued_from) * 1e6),
            request_headers=request.headers,
        )
        return record

    def leave_open(self, record: RequestRecord, outcome: Outcome) -> None:
        """`record` ends with the error response that is about to be sent (`error`)."""
        self._open = (record, outcome)

    def end(
        self,
        record: RequestRecord,
        outcome: Outcome,
        status: int | None,
        body_bytes: int | None = None,
    ) -> None:
        """Complete and emit `record` (status from the response head unless `status` is
        given; body bytes from `outcome` unless `body_bytes` is)."""
        if status is None:
            status = int(outcome.status[:3]) if outcome.status else 0
        with self._lock:
            if self._abandoned:
                # Recorded when the server gave up on it, and kept as it was sent: the
                # record is the same object, which a test reads after the stop.
                return
            if self._current is record:
                self._current = None
            record.status = status
            record.body_bytes = outcome.body_bytes if body_bytes is None else body_bytes
            head_at = self.head_at
            if head_at:
                record.duration_us = int((time.monotonic() - head_at) * 1e6)
            else:
                record.duration_us = int((time.time() - record.started) * 1e6)
            self.head_at = 0.0
            environ = outcome.environ
            if environ is not None:
                record.environ = environ
                client = environ.get("REMOTE_ADDR")
                if client is not None:
                    record.client = client
            record.request_id = outcome.request_id
            record.request_bytes = outcome.request_bytes
            record.response_headers = outcome.headers
        self._sink(record)

    def abandon(self, request: Request | None) -> None:
        """Another thread (the server, at --graceful-timeout): the request in progress will
        not be answered. Record it now, with no status, and nothing on this connection later
        (its thread may still finish after the process has stopped logging)."""
        with self._lock:
            if self._abandoned:
                return
            self._abandoned = True
            record = self._current
            self._current = None
        if record is None:
            if request is None:
                return  # between requests: nothing to record
            record = self.start(request)
            self._current = None
        record.status = 0
        record.duration_us = int((time.time() - record.started) * 1e6)
        self._sink(record)

    def error(
        self,
        request: Request | None,
        status: int,
        body_bytes: int,
        line: bytes = b"",
    ) -> None:
        """One record for a request the server answered with an error itself (or, with
        status 0, one whose client left before it could be answered). Without a parsed
        `request`, `line` is the request line of a head that was refused, if it had one.
        Every request has an id: one the app never got is given here, with the client's
        address after a trusted proxy's fields."""
        opened, self._open = self._open, None
        if opened is not None:
            record, outcome = opened
        else:
            if request is not None:  # refused before the app ran (--queue-timeout, a body)
                record = self.start(request)
            else:  # a refused head: its request line, as far as it reads as one
                remote = self.remote
                record = RequestRecord(remote=remote[0] if remote else "-", started=time.time())
                _fill_from_line(record, line)
            outcome = Outcome()
        if not outcome.request_id:
            client, outcome.request_id = self._identify(request)
            if client is not None:
                record.client = client
        self.end(record, outcome, status, body_bytes)


def _fill_from_line(record: RequestRecord, line: bytes) -> None:
    """Method, target and version from a request line the parser refused the head of (the
    log escapes them: the line may hold anything but CR and LF)."""
    parts = line.split(b" ")
    if len(parts) == 3 and parts[2].startswith(b"HTTP/"):
        record.method = parts[0].decode("latin-1")
        record.target = parts[1].decode("latin-1")
        record.version = parts[2][5:].decode("latin-1")


def log_failure(
    request: Request, outcome: Outcome, message: str, exc: BaseException | None
) -> None:
    """The error log line of a request that failed (the app's error, or its framing)."""
    log.error(
        "%s%s (%s %s)",
        f"[{outcome.request_id}] " if outcome.request_id else "",  # ids are printable ASCII
        message,
        request.method,
        printable(request.target),
        exc_info=exc,
        extra={"request_id": outcome.request_id},
    )


def log_close_error(request: Request, outcome: Outcome) -> None:
    """The error log line of a response iterable whose close() raised, said once."""
    if outcome.close_error is not None:
        error, outcome.close_error = outcome.close_error, None
        log_failure(request, outcome, "the response iterable's close() failed", error)


def printable(target: bytes) -> str:
    """A request target fit for a log line."""
    # Escape controls too (not only non-ASCII): request bytes must never reach a log raw,
    # even if the grammar ever let one through (it allows VCHAR only today).
    return escape(target.decode("latin-1"))[:200]


def content_size(answer: bytes) -> int:
    """The content bytes of a whole error response (for its access record)."""
    return len(answer) - answer.index(b"\r\n\r\n") - 4
