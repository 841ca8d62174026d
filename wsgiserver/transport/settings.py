"""What the server and a transport agree on: per-server settings, and what comes next.

Owns: the timeouts of a connection (`Timeouts`), how chunked request bodies reach the app
(`ChunkedBodies`), whose defaults are wsgiserver's (the `Config` options read them from
here), and the actions `serve()` and `expire()` answer the server with. Must not: hold logic;
the HTTP/1.1 transport and the HTTP/2 session both read these.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsgiserver.gateway.spool import SPOOL_THRESHOLD

PARK = 1  # wait (in the poller) until readable or until `deadline`
CLOSE = 2  # the transport is closed
SERVE = 3  # `expire()`: serve the connection now, on a worker thread (HTTP/2: a stream's
#            deadline passed, the connection lives on)


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
