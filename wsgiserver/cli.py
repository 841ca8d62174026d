"""The command line: `python -m wsgiserver [options] APP`.

Owns: building the argument parser from `Config` field metadata, logging setup, signal
handlers for the single-process server, and turning every startup failure into one line on
stderr and a non-zero exit code. Must not: hold server logic.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from wsgiserver import __version__
from wsgiserver.apploader import load_app
from wsgiserver.config import Config
from wsgiserver.config_sources import (
    CONFIG_ENV,
    PRECEDENCE_TEXT,
    ConfigSourceError,
    load_config,
    render_config,
)
from wsgiserver.connections import tls_context_for
from wsgiserver.errors import AppLoadError, ConfigError, WSGIServerError
from wsgiserver.gateway import WSGIApp
from wsgiserver.listeners import describe
from wsgiserver.server import Server

EXIT_CONFIG = 2  # argparse uses 2 for usage errors too
EXIT_APP = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other startup error (argparse prints the whole usage first).
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wsgiserver",
        description="Serve a WSGI application over HTTP/1.1.",
        epilog="Example: python -m wsgiserver --bind 127.0.0.1:8080 myproject.wsgi:application",
    )
    parser.add_argument("--version", action="version", version=f"wsgiserver {__version__}")
    _add_config_arguments(parser)
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if f.name == "app":
            parser.add_argument(
                "app", metavar="APP", nargs="?", help=meta["help"], default=argparse.SUPPRESS
            )
            continue
        flag = "--" + f.name.replace("_", "-")
        default_text = (
            "" if f.default is None or meta["flag"] else f" (default: {_show(f.default)})"
        )
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "help": meta["help"] + default_text,
            "default": argparse.SUPPRESS,
        }
        if meta["flag"]:
            kwargs["action"] = argparse.BooleanOptionalAction  # --no-X overrides files and env
        else:
            kwargs["metavar"] = meta["metavar"]
            kwargs["type"] = _parser_for(str(f.type))
            if meta["repeat"]:
                kwargs["action"] = "append"
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
        names = [flag]
        if f.name == "chdir":
            names = ["--chdir"]
        parser.add_argument(*names, **kwargs)
    return parser


# Arguments about where options come from; they are not `Config` fields.
_CONFIG_ARGUMENTS = ("config_file", "print_config", "check_config")


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "configuration",
        f"Options are also read from WSGISERVER_* variables and TOML files. Precedence: "
        f"{PRECEDENCE_TEXT}.",
    )
    group.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE.toml",
        default=None,
        help=f"read options from this TOML file instead of ./pyproject.toml (env: {CONFIG_ENV})",
    )
    group.add_argument(
        "--print-config",
        action="store_true",
        help="print the merged options and where each came from, as TOML, and exit",
    )
    group.add_argument(
        "--check-config",
        action="store_true",
        help="validate the options and load the app (without serving), then exit",
    )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


def _parser_for(annotation: str) -> Any:
    if annotation == "int":
        return _int
    if annotation == "float":
        return _float
    return str


def _int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def configure_logging(config: Config) -> None:
    """Default handlers on `wsgiserver` (errors, stderr) and `wsgiserver.access`; or, with
    --log-config, the user's dictConfig instead (ConfigError, one line, if it is invalid).

    With --log-config and --access-log both given, the access log handler is still added
    when the dictConfig gave `wsgiserver.access` no handler of its own.
    """
    if config.log_config is not None:
        from wsgiserver.logconfig import apply_log_config

        apply_log_config(config.log_config)
        access = logging.getLogger("wsgiserver.access")
        if config.access_log is not None and not access.handlers:
            access.handlers[:] = [_access_handler(config.access_log)]
            access.setLevel(logging.INFO)
            access.propagate = False
        return
    level = getattr(logging, config.log_level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("wsgiserver")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    access = logging.getLogger("wsgiserver.access")
    access.propagate = False
    if config.access_log is not None:
        access.handlers[:] = [_access_handler(config.access_log)]
        access.setLevel(logging.INFO)


def _access_handler(destination: str) -> logging.Handler:
    target: logging.Handler
    if destination == "-":
        target = logging.StreamHandler(sys.stdout)
    else:
        try:
            target = logging.FileHandler(destination, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"access_log: cannot open {destination!r}: {exc.strerror}") from None
    target.setFormatter(logging.Formatter("%(message)s"))
    return target


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
    args = vars(build_parser().parse_args(argv))
    config_file, print_config, check = (args.pop(name) for name in _CONFIG_ARGUMENTS)
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
            configure_logging(config)
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
            from wsgiserver.hooks import load_hooks

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
        server = Server(app, config, sockets=_activated_sockets(), drain=True)
    except WSGIServerError as exc:
        return _fail(exc, EXIT_CONFIG)
    return run(server)


def _config_ok(config: Config) -> int:
    sys.stdout.write(f"wsgiserver: configuration OK; app {config.app or config.paste} loaded\n")
    return 0


def _main_paste(config: Config, *, check: bool = False) -> int:
    """`--paste FILE.ini`: the app from [app:main]; [server:main] is already in `config`."""
    from wsgiserver.paste import load_paste

    if config.app:
        sys.stderr.write("wsgiserver: error: give either APP or --paste, not both\n")
        return EXIT_CONFIG
    if _supervised(config) and not check:
        return _run_supervised(config, lambda: load_paste(config.paste or "")[0])
    try:
        app, _ini_options = load_paste(config.paste or "")  # merged by load_config
    except WSGIServerError as exc:
        sys.stderr.write(f"wsgiserver: error: {exc}\n")
        return EXIT_APP
    if check:
        return _config_ok(config)
    try:
        server = Server(app, config, drain=True)
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
    from wsgiserver.systemd import listen_fds

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
    from wsgiserver.pidfile import pidfile
    from wsgiserver.supervisor import Supervisor

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
    from wsgiserver import systemd
    from wsgiserver.pidfile import pidfile

    log = logging.getLogger("wsgiserver.error")
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
        server.shutdown()  # first: in-flight responses get `Connection: close` from now on
        log.info("received %s, shutting down", name)
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
