"""Logging set-up of a serving process: wsgiserver's default handlers, or `--log-config`.

Owns: `configure_logging` (the default handlers on `wsgiserver` and `wsgiserver.access`, or
the user's `logging.config.dictConfig` dictionary in a `.json` or `.toml` file instead) and
the access-log handler; every failure is one `ConfigError` line naming the option and file.
Also `reopen_log_files`, what SIGUSR1 does after a log rotation renamed the files (the
command line, the supervisor and its workers install the handlers).
Takes plain arguments (the values of --log-config, --log-level and --access-log), never a
`Config`. Must not: be called by an embedded `Server`, which leaves its host's logging alone
(only the command line and the paste server runner call it).
"""

from __future__ import annotations

import contextlib
import json
import logging.config
import os
import signal
import sys
import threading
import time
import tomllib
from typing import Any

from wsgiserver.errors import ConfigError
from wsgiserver.observability.throttle import Throttle

log = logging.getLogger("wsgiserver.error")
ACCESS_LOGGER = "wsgiserver.access"  # the logger of the access log's lines


def read_log_config(path: str) -> dict[str, Any]:
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".json":
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        elif extension == ".toml":
            with open(path, "rb") as file:
                data = tomllib.load(file)
        else:
            raise ConfigError(f"log_config: {path}: expected a .json or .toml file")
    except OSError as exc:
        raise ConfigError(f"log_config: {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, TOMLDecodeError
        raise ConfigError(f"log_config: {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"log_config: {path}: expected a mapping (a dictConfig dictionary)")
    data.setdefault("version", 1)
    data.setdefault("disable_existing_loggers", False)
    return data


def check_log_config(path: str, access_log: str | None = None) -> list[str]:
    """For --check-config: read `path` and import every class and factory it names, without
    applying it (which would open its log files); ConfigError (one line) on a problem.
    Returns the warnings the start would log (an `access_log` the file makes unused)."""
    data = read_log_config(path)
    _check_version(data, path)
    warnings = []
    loggers = data.get("loggers")
    access = loggers.get(ACCESS_LOGGER) if isinstance(loggers, dict) else None
    if access_log is not None and isinstance(access, dict) and access.get("handlers"):
        warnings.append(_unused_access_log(access_log))
    resolver = logging.config.BaseConfigurator({})
    for kind in ("formatters", "filters", "handlers"):
        entries = data.get(kind, {})
        if not isinstance(entries, dict):
            raise ConfigError(f"log_config: {path}: {kind} must be a mapping")
        for name, entry in entries.items():
            target = entry.get("()", entry.get("class")) if isinstance(entry, dict) else None
            if not isinstance(target, str):
                continue
            try:
                resolver.resolve(target)
            except Exception as exc:  # what importing the module raised, whatever it is
                message = " ".join(str(exc.__cause__ or exc).split())
                raise ConfigError(
                    f"log_config: {path}: {kind} {name!r}: cannot import {target!r}: {message}"
                ) from None
    return warnings


def _check_version(data: dict[str, Any], path: str) -> None:
    """dictConfig's first check, for --check-config and the start alike: `version: 1` is
    the only schema there is (a 2 passed --check-config and then failed the start); it is
    1 when left out (`read_log_config`)."""
    version = data.get("version")
    if version != 1:
        raise ConfigError(
            f"log_config: {path}: 'version' must be 1 (the dictConfig schema), got {version!r}"
        )


def apply_log_config(path: str) -> None:
    """Read and apply `path`; ConfigError (one line) if it is unreadable or invalid."""
    data = read_log_config(path)
    _check_version(data, path)
    try:
        logging.config.dictConfig(data)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        cause = f"{exc}: {exc.__cause__}" if exc.__cause__ is not None else str(exc)
        message = " ".join(cause.split()) or type(exc).__name__
        raise ConfigError(f"log_config: {path}: {message}") from None


def _unused_access_log(access_log: str) -> str:
    return (
        f"access_log {access_log!r} is not used: --log-config gives {ACCESS_LOGGER} "
        "handlers of its own"
    )


def configure_logging(*, log_config: str | None, log_level: str, access_log: str | None) -> None:
    """Default handlers on `wsgiserver` (errors, stderr) and `wsgiserver.access`; or, with
    `log_config`, the user's dictConfig instead (ConfigError, one line, if it is invalid).

    `log_level` is a level name (`info`); `access_log` a file name, `-` for stdout, or None.
    With `log_config` and `access_log` both given, the access log handler is still added
    when the dictConfig gave `wsgiserver.access` no handler of its own.
    """
    access = logging.getLogger(ACCESS_LOGGER)
    if log_config is not None:
        apply_log_config(log_config)
        if access_log is not None and not access.handlers:
            access.handlers[:] = [_access_handler(access_log)]
            access.setLevel(logging.INFO)
            access.propagate = False
        elif access_log is not None:
            # Both set the access log's destination: the file's wins, as documented, but an
            # option that does nothing must say so (the access log was not where expected).
            log.warning("%s", _unused_access_log(access_log))
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("wsgiserver")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, log_level.upper()))
    root.propagate = False
    access.propagate = False
    if access_log is not None:
        access.handlers[:] = [_access_handler(access_log)]
        access.setLevel(logging.INFO)


WRITE_FAILURE_INTERVAL = 60.0  # seconds between two reports that the access log fails


class _ReportsWriteFailures(logging.Handler):
    """An access-log handler whose failed writes are said on the error log, once a minute,
    and the lines lost since the last report once more when it closes. logging's own report
    is a traceback of some 30 lines on stderr for every record: a reader gone from a pipe
    (`| head`, a log shipper that died) made one per request."""

    failures: _WriteFailures

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self.failures.report()

    def close(self) -> None:
        super().close()
        self.failures.report_held()


class _AccessStream(_ReportsWriteFailures, logging.StreamHandler):  # type: ignore[type-arg]
    """The access log on stdout."""

    def __init__(self, stream: Any, destination: str) -> None:
        logging.StreamHandler.__init__(self, stream)
        self.failures = _WriteFailures(destination)


class _AccessFile(_ReportsWriteFailures, logging.FileHandler):
    """The access log in a file."""

    def __init__(self, filename: str, destination: str) -> None:
        logging.FileHandler.__init__(self, filename, encoding="utf-8")
        self.failures = _WriteFailures(destination)


class _WriteFailures:
    """Within a handler's `handleError`: one error-log line per WRITE_FAILURE_INTERVAL, with
    the records lost since the last one."""

    def __init__(self, destination: str) -> None:
        self.destination = "stdout" if destination == "-" else repr(destination)
        self._throttle = Throttle(WRITE_FAILURE_INTERVAL)

    def report(self) -> None:
        error = sys.exc_info()[1]
        held = self._throttle.due(time.monotonic())
        if held is None:
            return
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        since = f"; {held} more line(s) lost since the last report" if held else ""
        log.error(
            "access log: cannot write to %s: %s (said at most once a minute%s)",
            self.destination,
            reason,
            since,
        )

    def report_held(self) -> None:
        """At close (the process ends): the lines lost since the last report, which the
        next one would have counted, are said now rather than never."""
        held = self._throttle.take_held()
        if held:
            log.error(
                "access log: %d more line(s) lost writing to %s since the last report",
                held,
                self.destination,
            )


def _access_handler(destination: str) -> logging.Handler:
    target: logging.Handler
    if destination == "-":
        target = _AccessStream(sys.stdout, destination)
    else:
        try:
            target = _AccessFile(destination, destination)
        except OSError as exc:
            raise ConfigError(f"access_log: cannot open {destination!r}: {exc.strerror}") from None
    target.setFormatter(logging.Formatter("%(message)s"))
    return target


def reopen_log_files(who: str) -> int:
    """Reopen the file of every `logging.FileHandler` in this process (the access log's and
    any `--log-config` gave), by its name: after logrotate renamed it, what follows goes to
    a new file under the old name. Says so on the error log, `who` (the process) first; a
    file that cannot be reopened is a warning, and its handler keeps the old one. Returns
    how many were reopened. Must not run in a signal handler: it takes the handlers' locks,
    which the interrupted code may hold."""
    handlers: dict[int, logging.FileHandler] = {}
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # a PlaceHolder has none
            if isinstance(handler, logging.FileHandler):
                handlers[id(handler)] = handler
    reopened = 0
    for handler in handlers.values():
        if handler.stream is None:  # opened on first use (delay=True): nothing to reopen
            continue
        if handler.mode.startswith("w"):
            # "w" truncates the file once, when the server starts. Reopening is not a
            # start: when nothing renamed the file (USR1 sent by hand, or a logrotate
            # with copytruncate), truncating would throw away the log so far.
            handler.mode = "a" + handler.mode[1:]
        try:
            # FileHandler's own opener (WatchedFileHandler reopens with it too): the same
            # encoding and error handling as the first open.
            stream = handler._open()
        except OSError as exc:
            log.warning("%s: cannot reopen %r: %s", who, handler.baseFilename, exc.strerror)
            continue
        old = handler.setStream(stream)  # flushes the old stream under the handler's lock
        if old is not None:
            old.close()
        reopened += 1
    log.info("%s: reopened %d log file(s)", who, reopened)
    return reopened


def reopen_logs_on_sigusr1(who: str) -> None:
    """Make SIGUSR1 reopen this process's log files (`reopen_log_files(who)`), from the main
    thread. The handler only writes a byte to a pipe: starting a thread or taking a lock
    there could deadlock on one the interrupted code holds. A daemon thread waits on the
    pipe and does the work; signals that come together are served once."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def reopen() -> None:
        while os.read(wake_r, 64):
            reopen_log_files(who)

    threading.Thread(target=reopen, name="wsgiserver-reopen-logs", daemon=True).start()

    def handler(_signum: int, _frame: object) -> None:
        with contextlib.suppress(BlockingIOError):  # full: a reopen is already due
            os.write(wake_w, b"!")

    signal.signal(signal.SIGUSR1, handler)
