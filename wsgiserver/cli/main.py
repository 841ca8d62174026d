"""The command line: `python -m wsgiserver [options] APP`.

Owns: signal handlers for the single-process server, and turning every startup failure into
one line on stderr and a non-zero exit code. Must not: hold server logic, the argument parser
(`config.arguments`) or logging set-up (`observability.logconfig`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence

from wsgiserver import __version__
from wsgiserver.apploader import load_app, load_paste
from wsgiserver.config.arguments import CONFIG_ARGUMENTS, build_parser
from wsgiserver.config.bind import describe
from wsgiserver.config.options import Config
from wsgiserver.config.sources import ConfigSourceError, load_config, render_config
from wsgiserver.errors import EXIT_APP, EXIT_CONFIG, AppLoadError, ConfigError, WSGIServerError
from wsgiserver.observability.logconfig import configure_logging
from wsgiserver.server.connections import tls_context_for
from wsgiserver.server.server import Server
from wsgiserver.types import WSGIApp


def setup_logging(config: Config) -> None:
    """Logging as `config` asks (see `wsgiserver.observability.logconfig`)."""
    configure_logging(
        log_config=config.log_config, log_level=config.log_level, access_log=config.access_log
    )


def raise_open_files_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit, as the process owner may (POSIX).

    The common soft default of 1024 would cap a server at about a thousand connections
    (--max-connections is lowered to fit it); the hard limit is what the administrator
    allows. Only the command line does this: an embedded Server leaves its host's limits.
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
        logging.getLogger("wsgiserver.error").debug("cannot raise RLIMIT_NOFILE: %s", exc)


def _fail(exc: BaseException, code: int) -> int:
    """Report a startup failure as one line on stderr (they used to exit silently)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    sys.stderr.write(f"wsgiserver: error: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser(version=__version__).parse_args(argv))
    config_file, print_config, check = (args.pop(name) for name in CONFIG_ARGUMENTS)
    try:  # the one place options from every source are merged
        loaded = load_config(args, config_file=config_file)
    except ConfigSourceError as exc:
        for error in exc.errors:
            _fail(ConfigError(error), EXIT_CONFIG)
        return EXIT_CONFIG
    except AppLoadError as exc:  # a --paste ini that cannot be read at all
        return _fail(exc, EXIT_APP)
    config = loaded.config
    if print_config:
        sys.stdout.write(render_config(loaded))
        return 0
    try:
        if not check:  # --check-config creates no log files
            setup_logging(config)
    except (OSError, WSGIServerError) as exc:
        return _fail(exc, EXIT_CONFIG)
    if not check:
        raise_open_files_limit()
    try:
        if config.chdir is not None:
            try:
                os.chdir(config.chdir)
            except OSError as exc:
                raise ConfigError(
                    f"chdir: cannot change to {config.chdir!r}: {exc.strerror}"
                ) from None
        if config.hooks is not None:  # a bad --hooks is a startup error, before any fork
            from wsgiserver.observability.hooks import load_hooks

            load_hooks(config.hooks, app_dir=config.app_dir)
    except (OSError, WSGIServerError) as exc:
        return _fail(exc, EXIT_CONFIG)
    if config.paste is not None:
        return _main_paste(config, check=check)
    if not config.app:
        sys.stderr.write("wsgiserver: error: give an APP (module:attribute) or --paste FILE.ini\n")
        return EXIT_CONFIG
    if _supervised(config) and not check:
        return _run_supervised(
            config,
            lambda: load_app(config.app or "", factory=config.factory, app_dir=config.app_dir),
        )
    try:
        app = load_app(config.app or "", factory=config.factory, app_dir=config.app_dir)
    except WSGIServerError as exc:
        return _fail(exc, EXIT_APP)
    if check:
        return _config_ok(config)
    try:
        server = Server(app, config, sockets=_activated_sockets())
    except WSGIServerError as exc:
        return _fail(exc, EXIT_CONFIG)
    return run(server)


def _config_ok(config: Config) -> int:
    sys.stdout.write(f"wsgiserver: configuration OK; app {config.app or config.paste} loaded\n")
    return 0


def _main_paste(config: Config, *, check: bool = False) -> int:
    """`--paste FILE.ini`: the app from [app:main]; [server:main] is already in `config`."""
    if config.app:
        sys.stderr.write("wsgiserver: error: give either APP or --paste, not both\n")
        return EXIT_CONFIG
    if _supervised(config) and not check:
        return _run_supervised(config, lambda: load_paste(config.paste or ""))
    try:
        app = load_paste(config.paste or "")  # its [server:main] is merged by load_config
    except WSGIServerError as exc:
        sys.stderr.write(f"wsgiserver: error: {exc}\n")
        return EXIT_APP
    if check:
        return _config_ok(config)
    try:
        server = Server(app, config)
    except (WSGIServerError, OSError) as exc:
        sys.stderr.write(f"wsgiserver: error: {exc}\n")
        return EXIT_CONFIG
    return run(server)


def _supervised(config: Config) -> bool:
    """Options that need worker processes run the pre-forking supervisor (POSIX only)."""
    recycling = config.max_requests or config.max_worker_lifetime or config.max_worker_memory
    return config.workers > 1 or config.reload or config.preload or bool(recycling)


def _activated_sockets() -> list[socket.socket] | None:
    """Sockets from systemd socket activation (they replace --bind), or None."""
    from wsgiserver.supervisor.systemd import listen_fds

    found = listen_fds()
    if not found:
        return None
    logging.getLogger("wsgiserver.error").info(
        "using %d socket(s) from systemd (%s) instead of --bind",
        len(found),
        ", ".join(name for name, _ in found),
    )
    return [sock for _, sock in found]


def _run_supervised(config: Config, load: Callable[[], WSGIApp]) -> int:
    if not hasattr(os, "fork"):
        message = "--workers, --reload, --preload and recycling need fork() (POSIX only)"
        return _fail(ConfigError(message), EXIT_CONFIG)
    from wsgiserver.supervisor.pidfile import pidfile
    from wsgiserver.supervisor.supervisor import Supervisor

    try:
        # Load the certificates once before forking, so a bad file is this one-line error
        # (exit 2) rather than every worker failing to boot.
        tls_context_for(config)
        supervisor = Supervisor(config, load, sockets=_activated_sockets())
    except WSGIServerError as exc:
        return _fail(exc, EXIT_CONFIG)
    try:
        with pidfile(config.pid):
            return supervisor.run()
    except WSGIServerError as exc:  # --preload: the app failed to load
        return _fail(exc, EXIT_APP)
    except OSError as exc:  # the pid file
        return _fail(exc, EXIT_CONFIG)


def run(server: Server) -> int:
    """Serve until SIGINT or SIGTERM, then stop gracefully."""
    from wsgiserver.supervisor import systemd
    from wsgiserver.supervisor.pidfile import pidfile

    log = logging.getLogger("wsgiserver.error")

    def stop(signum: int, _frame: object) -> None:
        server.shutdown()  # first: in-flight responses get `Connection: close` from now on
        log.info("received %s, shutting down", signal.Signals(signum).name)
        systemd.notify("STOPPING=1")

    def no_reload(_signum: int, _frame: object) -> None:
        # One process cannot reload its app in place; dying (SIGHUP's default) would drop
        # in-flight requests and leave the pid file behind, e.g. under ExecReload=kill -HUP.
        log.warning("received SIGHUP, ignored: reloading needs the supervisor (--workers N)")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, no_reload)
    try:
        with pidfile(server.config.pid):
            systemd.notify("READY=1")  # the sockets listen: connections queue from now on
            log.info(
                "wsgiserver %s serving on %s",
                __version__,
                describe(server.addresses, tls=server.config.certfile is not None),
            )
            server.serve_forever()
    except OSError as exc:  # the pid file
        server.shutdown()
        return _fail(exc, EXIT_CONFIG)
    log.info("stopped")
    return 0
