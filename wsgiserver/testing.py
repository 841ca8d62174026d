"""A real server in a background thread, for test suites.

Owns: `serving(app, **options)`, which binds synchronously (port 0 by default), serves from a
daemon thread and stops in milliseconds, re-raising anything that escaped the serving thread;
and the per-server capture of what the app wrote to `wsgi.errors`, the access-log records and
the errors the server logged for this server's requests (`wsgiserver.error`), so many servers
can run side by side in one process and each test sees only its own.
Must not: install signal handlers (it may run outside the main thread).
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import quote

from wsgiserver.apploader import wsgi_callable
from wsgiserver.config.options import DEFAULTS
from wsgiserver.observability.accesslog import RequestRecord, formatter
from wsgiserver.server.server import Server
from wsgiserver.types import StartResponse, WSGIApp

__all__ = ["AppError", "Capture", "RunningServer", "Serving", "serving"]

_error_log = logging.getLogger("wsgiserver.error")


TEST_GRACEFUL_TIMEOUT = 5.0  # seconds a request still running at stop() may take to finish
# What a test server is started with unless the test says otherwise (`RunningServer.start`).
TEST_DEFAULTS: dict[str, Any] = {
    # A free port the system picks, at once: no "find a free port" race.
    "bind": "127.0.0.1:0",
    # One ready thread: a test rarely sends concurrent requests, and the pool still grows
    # on demand when the app blocks. Starting fewer threads makes start/stop cheaper.
    "threads": 1,
    # A request still running when a test stops the server (a stream its client still
    # reads) is given this long, not a production server's 30 s.
    "graceful_timeout": TEST_GRACEFUL_TIMEOUT,
}


class AppError(Exception):
    """A request failed in the app (or the server) without a Python exception to re-raise.

    For example an app that sent fewer bytes than its Content-Length, or raised a
    BaseException such as SystemExit (re-raising that would end the test run).
    """


class _ErrorStream(io.StringIO):
    """The `wsgi.errors` stream of one server: a StringIO that worker threads share."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        with self._lock:
            super().writelines(lines)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()


class Capture:
    """What one server's requests left behind. Thread-safe; one per `RunningServer`.

    `stream` is passed to the `Server` as `errors=` (wsgi.errors), `on_request` as
    `on_request=`, `claim_current_thread` as `on_thread_start=` (each thread the server
    starts is marked as its own) and `wrap(app)` marks the threads that run this server's
    app, so that records of the `wsgiserver.error` logger from those threads land here.
    """

    def __init__(self) -> None:
        self.stream = _ErrorStream()
        self._cond = threading.Condition()
        self._records: list[RequestRecord] = []
        self._logs: list[logging.LogRecord] = []
        self._unraised = 0  # index in _logs of the first error not yet taken or raised
        self._idents: set[int] = set()
        self._attached = False  # counted among the router's users
        self._finished = False  # the server has stopped: no more records will come

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """`app`, noting which threads run it. The result is returned untouched."""
        app = wsgi_callable(app, "app")  # the wrapper is callable: check what it wraps
        owners = _router.owners
        idents = self._idents

        def app_in_test(environ: dict[str, Any], start_response: StartResponse) -> Any:
            ident = threading.get_ident()
            if owners.get(ident) is not self:
                owners[ident] = self
                idents.add(ident)
            return app(environ, start_response)

        return app_in_test

    def claim_current_thread(self) -> None:
        ident = threading.get_ident()
        _router.owners[ident] = self
        self._idents.add(ident)

    def on_request(self, record: RequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def add_log(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = _formatter.formatException(record.exc_info)
        with self._cond:
            self._logs.append(record)

    def start(self) -> None:
        with self._cond:
            if self._attached:
                return
            self._attached = True
        _router.attach()

    def finish(self) -> None:
        """Serving has ended (however it was stopped): no more records will come."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()  # a wait_for_requests() that can no longer be satisfied

    def close(self) -> None:
        """Once: the router counts its users, and a second detach would take it away from
        every other server's capture still running in this process."""
        self.finish()
        with self._cond:
            if not self._attached:
                return
            self._attached = False
        owners = _router.owners
        for ident in self._idents:
            if owners.get(ident) is self:
                del owners[ident]
        self._idents.clear()
        _router.detach()

    # -- reading --------------------------------------------------------------------------

    def records(self) -> list[RequestRecord]:
        with self._cond:
            return list(self._records)

    def take_records(self) -> list[RequestRecord]:
        """The records kept so far, which are then let go (each holds its environ)."""
        with self._cond:
            taken, self._records = self._records, []
        return taken

    def wait_for_requests(self, count: int, timeout: float | None) -> list[RequestRecord]:
        with self._cond:
            enough = self._cond.wait_for(
                lambda: len(self._records) >= count or self._finished, timeout
            )
            if len(self._records) >= count:
                return list(self._records)
            if enough:  # woken by the stop
                raise RuntimeError(
                    f"{len(self._records)} of {count} requests finished, and the server "
                    f"has stopped: no more will"
                )
            raise TimeoutError(
                f"{len(self._records)} of {count} requests finished within {timeout}s"
            )

    def logs(self) -> list[logging.LogRecord]:
        with self._cond:
            return list(self._logs)

    def take_errors(self) -> list[logging.LogRecord]:
        """ERROR records not taken before; they are then not raised by `stop()`."""
        with self._cond:
            fresh = self._logs[self._unraised :]
            self._unraised = len(self._logs)
        return [r for r in fresh if r.levelno >= logging.ERROR]


class _Router(logging.Handler):
    """One handler on `wsgiserver.error` that hands each record to the server it is for."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: dict[int, Capture] = {}
        self._users = 0
        self._users_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        capture = self.owners.get(record.thread) if record.thread is not None else None
        if capture is not None:
            capture.add_log(record)

    def attach(self) -> None:
        with self._users_lock:
            self._users += 1
            if self._users == 1:
                _error_log.addHandler(self)

    def detach(self) -> None:
        with self._users_lock:
            self._users -= 1
            if self._users == 0:
                _error_log.removeHandler(self)


_router = _Router()
_formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")


def _exception_of(record: logging.LogRecord) -> BaseException:
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, Exception):
        return exc
    error = AppError(record.getMessage())
    if exc is not None:
        error.__cause__ = exc
    return error


class RunningServer:
    """A server serving in a background thread. Use `url` to reach it; `stop()` to end it.

    Build one with `RunningServer.start(app, **options)` (or `serving()`), which also
    captures, for this server only: what the app wrote to `wsgi.errors` (`errors_text()`),
    one `RequestRecord` per finished request (`access_records`, `access_lines()`,
    `wait_for_requests()`), and what the server logged to `wsgiserver.error` while serving
    this app (`log_records`, `log_text()`, `take_app_errors()`). With
    `raise_app_errors=True`, `stop()` re-raises the first app error nobody took.
    """

    def __init__(
        self,
        server: Server,
        *,
        capture: Capture | None = None,
        raise_app_errors: bool = False,
    ) -> None:
        self.server = server
        self.raise_app_errors = raise_app_errors
        self._capture = capture if capture is not None else Capture()
        self._capture.start()
        self._error: BaseException | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()  # a second stop() waits for the first
        self._thread = threading.Thread(target=self._run, name="wsgiserver-serving", daemon=True)
        self._thread.start()
        server.wait_serving()

    @classmethod
    def start(
        cls, app: WSGIApp, *, raise_app_errors: bool = False, **options: Any
    ) -> RunningServer:
        """Bind (default 127.0.0.1:0) and serve `app` with per-server capture.

        `options` are `Server`'s, `config=` included: the testing defaults (`TEST_DEFAULTS`)
        apply to the options set neither by a keyword nor by `config` (an option of `config`
        left at `Config`'s default counts as not set).
        """
        config = options.get("config")
        for name, value in TEST_DEFAULTS.items():
            if name not in options and (
                config is None or getattr(config, name) == getattr(DEFAULTS, name)
            ):
                options[name] = value
        capture = Capture()
        if "errors" not in options:
            options["errors"] = capture.stream
        server = Server(
            capture.wrap(app),
            on_request=capture.on_request,
            # Each thread is this server's from its start: a request's on_request_start
            # hook (or anything else) that fails before the app runs is filed here too.
            on_thread_start=capture.claim_current_thread,
            **options,
        )
        return cls(server, capture=capture, raise_app_errors=raise_app_errors)

    def _run(self) -> None:
        self._capture.claim_current_thread()
        try:
            self.server.serve_forever()
        except BaseException as exc:  # re-raised in the test's thread by stop()
            self._error = exc
        finally:
            # Also when stopped by `server.shutdown()`, not `stop()`: a wait for requests
            # that can no longer come fails at once.
            self._capture.finish()

    # -- where it is ----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int] | str:
        """(host, port) for TCP, or the unix socket path."""
        return self.server.address

    @property
    def host(self) -> str:
        """The bound host of the first listener ("localhost" for a unix socket)."""
        address = self.server.addresses[0]
        return address.host if address.path is None else "localhost"

    @property
    def port(self) -> int:
        """The bound port of the first listener (0 for a unix socket)."""
        return self.server.addresses[0].port

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: http://127.0.0.1:54321.

        `https://` when the server speaks TLS (`certfile`). IPv6 hosts are bracketed; a
        wildcard bind (0.0.0.0, ::) gives the loopback address. For a unix socket it is
        `http+unix://` (`https+unix://` with TLS) and the percent-encoded path, the form
        `requests-unixsocket` understands, e.g. http+unix://%2Ftmp%2Fapp.sock. (httpx
        takes `httpx.HTTPTransport(uds=path)` and an http://localhost URL instead.)
        """
        # `certfile` turns TLS on for every listener (config.options), so the first
        # listener speaks it too: a plain http:// URL would get 400 from it.
        scheme = "http" if self.server.config.certfile is None else "https"
        address = self.server.addresses[0]
        if address.path is not None:
            return f"{scheme}+unix://" + quote(address.path, safe="")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
            address.host, address.host
        )
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{address.port}"

    # -- what happened --------------------------------------------------------------------

    def errors_text(self) -> str:
        """Everything the app wrote to `wsgi.errors` so far."""
        return self._capture.stream.text()

    @property
    def access_records(self) -> list[RequestRecord]:
        """One record per finished request, in finishing order (a copy), since the last
        `take_access_records()`.

        A record is added just after the response was sent, so a client may see the
        response first: call `wait_for_requests(n)` (or read this after `stop()`).
        """
        return self._capture.records()

    def access_lines(self, fmt: str = "combined") -> list[str]:
        """`access_records` as access-log lines in `fmt`: "combined", "common", "json" or a
        custom template (docs/observability.rst); ValueError if `fmt` is not valid."""
        try:
            render = formatter(fmt)
        except ValueError as exc:
            raise ValueError(f"fmt: {exc}") from None
        return [render(record) for record in self._capture.records()]

    def wait_for_requests(self, count: int, timeout: float | None = 10.0) -> list[RequestRecord]:
        """Block until `count` requests have finished (since the last
        `take_access_records()`); return their records.

        Everything those requests logged or wrote to `wsgi.errors` is captured by then.
        Raises TimeoutError (`timeout` is only a safety net against a hung test), or
        RuntimeError at once when the server has stopped (or stops meanwhile) with fewer.
        """
        return self._capture.wait_for_requests(count, timeout)

    def take_access_records(self) -> list[RequestRecord]:
        """The records kept since the last call, which the server then lets go.

        Records are kept for the server's life (about 3 KiB each, with the environ): a
        server that serves many tests (one per session) or a long load test should take
        them now and then. `access_records`, `access_lines()` and `wait_for_requests()`
        count from the last call, as `take_app_errors()` does for app errors.
        """
        return self._capture.take_records()

    @property
    def log_records(self) -> list[logging.LogRecord]:
        """Records the server logged to `wsgiserver.error` for this server (a copy)."""
        return self._capture.logs()

    def log_text(self) -> str:
        """`log_records` formatted, tracebacks included."""
        return "".join(_format(record) for record in self._capture.logs())

    def take_app_errors(self) -> list[BaseException]:
        """The app errors logged since the last call, which `stop()` will then not raise.

        Each is the exception the app raised (or an `AppError` with the logged message when
        there was none). Call it in a test that provokes an error on purpose.
        """
        return [_exception_of(record) for record in self._capture.take_errors()]

    # -- stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and join the threads; re-raise what escaped the serving thread.

        Then, with `raise_app_errors`, re-raise the first app error not taken with
        `take_app_errors()`, or else raise `AppError` if a request still running at
        `graceful_timeout` had its connection closed. Idempotent; a second call made
        meanwhile returns once the first has stopped the server. Called from inside a
        request (a thread of this server), it only asks for the stop, as
        `Server.shutdown()` does there: joining would wait for that very request.
        """
        server = self.server
        if threading.current_thread() in server.worker_threads():
            server.shutdown()
            return
        with self._stop_lock:
            if not self._stopped:
                self._stopped = True
                workers = server.worker_threads()
                try:
                    server.shutdown()
                    self._thread.join()
                    stuck = server.worker_threads()
                    for worker in workers - stuck:
                        worker.join()  # each has left its loop; this waits for it to end
                finally:
                    self._capture.close()
            error, self._error = self._error, None
        if error is not None:
            raise error
        if self.raise_app_errors:
            errors = self.take_app_errors()
            if errors:
                first = errors[0]
                note = "raised by the WSGI app in a wsgiserver thread"
                if len(errors) > 1:
                    note += f" ({len(errors) - 1} more app errors: see log_text())"
                first.add_note(note)
                raise first
            abandoned, server.abandoned_connections = server.abandoned_connections, 0
            if abandoned:
                raise AppError(
                    f"{abandoned} request(s) still running at stop were cut off after "
                    f"graceful_timeout ({server.config.graceful_timeout:g}s)"
                )

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """`stop()`. When the block is leaving by an exception of its own (a failed
        assertion, Ctrl-C), that exception goes on: what `stop()` raises (an app error) is
        added to it as a note instead of replacing it, and stays in `log_text()`."""
        if exc is None:
            self.stop()
            return
        try:
            self.stop()
        except BaseException as error:  # an app error, or what escaped the serving thread
            exc.add_note(
                f"as the block was left by this exception, the wsgiserver test server's "
                f"stop() raised {type(error).__name__}: {error}"
            )


def _format(record: logging.LogRecord) -> str:
    text = _formatter.format(record)
    return text + "\n"


class Serving(contextlib.ContextDecorator):
    """What `serving()` returns: starts the server on entering (so one never entered starts
    nothing), stops it on leaving; also a decorator. Not a generator-based context manager:
    that turned an app's StopIteration leaving the block into "RuntimeError: generator
    raised StopIteration" (PEP 479)."""

    def __init__(self, app: WSGIApp, raise_app_errors: bool, options: dict[str, Any]) -> None:
        self._app = app
        self._raise_app_errors = raise_app_errors
        self._options = options
        self._running: list[RunningServer] = []  # a stack: a decorated function may recurse

    def __enter__(self) -> RunningServer:
        running = RunningServer.start(
            self._app, raise_app_errors=self._raise_app_errors, **self._options
        )
        self._running.append(running)
        return running

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._running.pop().__exit__(exc_type, exc, traceback)


def serving(app: WSGIApp, *, raise_app_errors: bool = False, **options: Any) -> Serving:
    """Serve `app` for the duration of a `with` block: `with serving(app) as srv: srv.url`.

    The server is bound and serving once the block is entered; the end of the block stops
    it. `options` are `Server` options (bind, threads, limits, root_path, ...; `bind`
    defaults to 127.0.0.1:0). With `raise_app_errors=True` an app error that nobody took
    with `take_app_errors()` is re-raised when the block ends (the pytest fixtures do that),
    unless the block is leaving by an exception of its own: that one propagates, with the
    app error in a note. Also a decorator (a server for each call of the function, which
    is called with its own arguments only: bind a known address, such as
    `bind="127.0.0.1:8765"` or a unix socket, for it to reach the server).
    """
    return Serving(app, raise_app_errors, options)
