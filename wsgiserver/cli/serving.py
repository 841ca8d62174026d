"""Serving from the command line: the one path `APP`, `--paste FILE.ini` and `pserve` share.

Owns: everything from a validated `Config` to a running server and back to an exit status:
making relative paths absolute (`config.paths`) before `--chdir`, logging set-up, `--chdir`,
checking `--hooks` before any fork, finding the app (`APP` or the `[app:main]` of `--paste`,
unless the caller already has it), `--check-config`, the open-files limit, freezing the loaded
app's heap (`--gc-freeze`), the decision to run the pre-forking supervisor, systemd socket
activation, the single-process server's signal handlers and pid file, and reporting every
failure as one line on stderr with its exit status (`EXIT_CONFIG`, `EXIT_APP`). Must not:
read option sources or arguments (`config.sources`, `config.arguments`), or hold server
logic.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable

from wsgiserver.apploader import load_app, load_paste, parse_spec
from wsgiserver.config.bind import describe
from wsgiserver.config.options import Config
from wsgiserver.config.paths import absolute_paths
from wsgiserver.errors import EXIT_APP, EXIT_CONFIG, AppLoadError, ConfigError, WSGIServerError
from wsgiserver.observability.hooks import load_hooks
from wsgiserver.observability.logconfig import (
    check_log_config,
    configure_logging,
    reopen_logs_on_sigusr1,
)
from wsgiserver.server.connections import preflight
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.supervisor import systemd
from wsgiserver.supervisor.pidfile import pidfile
from wsgiserver.types import WSGIApp
from wsgiserver.version import __version__

log = logging.getLogger("wsgiserver.error")


def serve(
    config: Config,
    app: WSGIApp | None = None,
    *,
    check: bool = False,
    set_up_logging: bool = True,
) -> int:
    """Serve `app` (by default the one `config` names) until SIGTERM or SIGINT.

    Returns the exit status: 0 after a graceful stop, `EXIT_CONFIG` or `EXIT_APP` after a
    one-line error on stderr. With `check`, load the app and report, without logging set-up
    or serving (`--check-config`). `set_up_logging=False` leaves logging as the host
    configured it (pserve with a logging section in its ini).

    Every relative path option is made absolute first, by the one rule of `config.paths`
    (the starting directory, or `--chdir` for `--paste` and `--app-dir`), so changing to
    `--chdir` moves no file, and errors name the absolute path.
    """
    config = absolute_paths(config, os.getcwd())
    try:
        if set_up_logging and not check:  # --check-config creates no log files
            configure_logging(
                log_config=config.log_config,
                log_level=config.log_level,
                access_log=config.access_log,
            )
        elif check and config.log_config is not None:
            # What can be checked without applying it (which would open its log files).
            for warning in check_log_config(config.log_config, config.access_log):
                sys.stderr.write(f"wsgiserver: warning: {warning}\n")
        if config.chdir is not None:
            _change_directory(config.chdir)
        if config.hooks is not None:  # a bad --hooks is a startup error, before any fork
            load_hooks(config.hooks, app_dir=config.app_dir)
        preflight(config)  # TLS files, the spool directory: exit 2 here, not in workers
        load = app_loader(config) if app is None else _loaded(app)
    except (OSError, WSGIServerError) as exc:
        return fail(exc, EXIT_CONFIG)
    if check:
        try:
            load()
        except WSGIServerError as exc:
            return fail(exc, EXIT_APP)
        sys.stdout.write(f"wsgiserver: configuration OK; app {config.app or config.paste} loaded\n")
        return 0
    raise_open_files_limit()
    if config.gc_freeze:
        load = _frozen_after(load)
    if _supervised(config):
        return _run_supervised(config, load)
    try:
        loaded = load()
    except WSGIServerError as exc:
        return fail(exc, EXIT_APP)
    try:
        sockets = _activated_sockets()
        role = ProcessRole(sockets=tuple(sockets) if sockets is not None else None, drain=True)
        server = Server(loaded, config, process=role)
    except (OSError, WSGIServerError) as exc:
        return fail(exc, EXIT_CONFIG)
    return run(server)


def app_loader(config: Config) -> Callable[[], WSGIApp]:
    """How to load the app `config` names: `APP` (module:attribute) or `--paste FILE.ini`."""
    paste, spec = config.paste, config.app
    if paste is not None:
        if spec:
            raise ConfigError("give either APP or --paste, not both")
        # Its [server:main] is already in `config`.
        return _with_traceback(lambda: load_paste(paste), config)
    if not spec:
        raise ConfigError("give an APP (module:attribute) or --paste FILE.ini")
    parse_spec(spec)  # a malformed APP is a usage error (exit 2), not an app that fails
    return _with_traceback(
        lambda: load_app(spec, factory=config.factory, app_dir=config.app_dir), config
    )


def _with_traceback(load: Callable[[], WSGIApp], config: Config) -> Callable[[], WSGIApp]:
    """`load`, whose failure says how to see the traceback behind its one-line error.

    With `--log-level debug` the whole traceback of the exception that made loading fail is
    written to stderr, by the process that loads the app (a worker, under the supervisor),
    just before the one-line error; otherwise the one line says how to get it.
    """
    debug = config.log_level == "debug"

    def load_explained() -> WSGIApp:
        try:
            return load()
        except AppLoadError as exc:
            cause = exc.__cause__
            if cause is None or cause.__traceback__ is None:
                raise  # a failure of wsgiserver's own checks: the line is the whole story
            if debug:
                sys.stderr.write("".join(traceback.format_exception(cause)))
                sys.stderr.flush()
                raise
            raise AppLoadError(f"{exc}; --log-level debug shows the traceback") from cause

    return load_explained


def _loaded(app: WSGIApp) -> Callable[[], WSGIApp]:
    return lambda: app


def _frozen_after(load: Callable[[], WSGIApp]) -> Callable[[], WSGIApp]:
    """`load`, then move every object alive into the collector's permanent generation.

    A framework app keeps tens of thousands of objects for the life of the process (modules,
    classes, URL patterns, compiled templates). Every full collection walks them all while
    holding the GIL: 13-21 ms pauses on the Django benchmark page, each one a latency spike
    for every request in flight. Frozen objects are never examined again, and a forked
    worker's collections no longer write to the pages it shares with the supervisor
    (copy-on-write; the `gc.freeze` documentation). Collecting first frees what the import
    left behind instead of keeping it forever. Called where the app is loaded: in each
    worker, in the supervisor with `--preload` (before the fork), or in the one process.
    """

    def load_and_freeze() -> WSGIApp:
        app = load()
        gc.collect()
        gc.freeze()
        return app

    return load_and_freeze


def fail(exc: BaseException, status: int) -> int:
    """Report a startup failure as one line on stderr; return `status`."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    sys.stderr.write(f"wsgiserver: error: {message}\n")
    return status


def _change_directory(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as exc:
        raise ConfigError(f"chdir: cannot change to {path!r}: {exc.strerror}") from None


def raise_open_files_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit, as the process owner may (POSIX).

    The common soft default of 1024 would cap a server at about a thousand connections
    (--max-connections is lowered to fit it); the hard limit is what the administrator
    allows. Only a serving process does this: an embedded Server leaves its host's limits.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or (hard != resource.RLIM_INFINITY and soft >= hard):
        return
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as exc:
        log.debug("cannot raise RLIMIT_NOFILE: %s", exc)


def _supervised(config: Config) -> bool:
    """Options that need worker processes run the pre-forking supervisor (POSIX only); so
    does PID 1 (a container with no init), which must reap the orphaned processes that the
    kernel gives it: the supervisor reaps every child, the app's own run in its worker. A
    single process could not (reaping them all would take the exit statuses of the app's
    own subprocesses), and left a zombie for each."""
    recycling = config.max_requests or config.max_worker_lifetime or config.max_worker_memory
    return (
        config.workers > 1 or config.reload or config.preload or bool(recycling) or os.getpid() == 1
    )


def _activated_sockets() -> list[socket.socket] | None:
    """Sockets from systemd socket activation (they replace --bind), or None."""
    found = systemd.listen_fds()
    if not found:
        return None
    log.info(
        "using %d socket(s) from systemd (%s) instead of --bind",
        len(found),
        ", ".join(name for name, _ in found),
    )
    return [sock for _, sock in found]


def _run_supervised(config: Config, load: Callable[[], WSGIApp]) -> int:
    if not hasattr(os, "fork"):
        message = "--workers, --reload, --preload and recycling need fork() (POSIX only)"
        return fail(ConfigError(message), EXIT_CONFIG)
    from wsgiserver.supervisor.supervisor import Supervisor

    try:
        supervisor = Supervisor(config, load, sockets=_activated_sockets())
    except WSGIServerError as exc:
        return fail(exc, EXIT_CONFIG)
    try:
        with pidfile(config.pid):
            return supervisor.run()
    except WSGIServerError as exc:  # --preload: the app failed to load
        return fail(exc, EXIT_APP)
    except OSError as exc:  # the pid file
        return fail(exc, EXIT_CONFIG)


def run(server: Server) -> int:
    """Serve until SIGINT or SIGTERM, then stop gracefully (SIGQUIT: at once)."""

    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stopping:
            # The graceful stop waits for idle keep-alive connections (up to
            # --keepalive-timeout): a second Ctrl-C should not have to.
            server.shutdown_now()
            log.info("received %s again, stopping now", name)
            return
        stopping.append(signum)
        busy, idle = server.open_connections()  # before the stop starts closing them
        server.shutdown()  # first: in-flight responses get `Connection: close` from now on
        log.info(
            "received %s, stopping gracefully: waiting up to %gs for %d request(s) in flight "
            "and %d idle connection(s); send %s again to stop now",
            name,
            server.config.graceful_timeout,
            busy,
            idle,
            name,
        )
        systemd.notify("STOPPING=1")

    def stop_now(signum: int, _frame: object) -> None:
        # QUIT is the supervisor's fast stop (and what Ctrl-backslash and nginx images send):
        # its default action killed the process with a core dump, no log line, the pid
        # file left behind.
        stopping.append(signum)
        server.shutdown_now()
        log.info("received %s, stopping now", signal.Signals(signum).name)
        systemd.notify("STOPPING=1")

    def no_reload(signum: int, _frame: object) -> None:
        # One process cannot reload its app in place; the default actions would end it,
        # dropping in-flight requests and leaving the pid file behind (ExecReload=kill -HUP).
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            log.warning("received SIGHUP, ignored: reloading needs the supervisor (--workers N)")
        else:
            # gunicorn's binary upgrade, which the supervisor does not do either: it reloads
            # on SIGHUP instead.
            log.warning(
                "received %s, ignored: to load new code, restart the server, or run it with "
                "--workers N and send SIGHUP",
                name,
            )

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if hasattr(signal, "SIGQUIT"):
            signal.signal(signal.SIGQUIT, stop_now)
        for name in ("SIGHUP", "SIGUSR2"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), no_reload)
        # TTIN and TTOU add and remove workers under the supervisor; here their default
        # action would stop the process until a SIGCONT, every request hanging. Ignored
        # without a word: the terminal sends TTOU to a background process that writes to
        # it (stty tostop), and a handler that logs there would be called again, forever.
        for name in ("SIGTTIN", "SIGTTOU"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
            # Its default action ends us. It takes a pipe: with the descriptors used up by
            # the listeners, a one-line error (and the socket files removed), not a traceback.
            reopen_logs_on_sigusr1("received SIGUSR1")
        with pidfile(server.config.pid):
            systemd.notify("READY=1")  # the sockets listen: connections queue from now on
            log.info(
                "wsgiserver %s serving on %s",
                __version__,
                describe(server.addresses, tls=server.config.certfile is not None),
            )
            server.serve_forever()
    except OSError as exc:  # the pid file, no descriptor left, or no thread could start
        server.shutdown()
        return fail(exc, EXIT_CONFIG)
    log.info("stopped")
    return 0
