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
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from wsgiserver import __version__
from wsgiserver.apploader import load_app
from wsgiserver.config import Config
from wsgiserver.errors import WSGIServerError
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
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if f.name == "app":
            parser.add_argument("app", metavar="APP", nargs="?", help=meta["help"])
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
            kwargs["action"] = "store_true"
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
        target: logging.Handler
        if config.access_log == "-":
            target = logging.StreamHandler(sys.stdout)
        else:
            target = logging.FileHandler(config.access_log, encoding="utf-8")
        target.setFormatter(logging.Formatter("%(message)s"))
        access.handlers[:] = [target]
        access.setLevel(logging.INFO)


def _fail(exc: BaseException, code: int) -> int:
    """Report a startup failure as one line on stderr (they used to exit silently)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    sys.stderr.write(f"wsgiserver: error: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    try:
        config = Config.from_options(args)
    except WSGIServerError as exc:
        return _fail(exc, EXIT_CONFIG)
    try:
        configure_logging(config)
    except OSError as exc:
        return _fail(exc, EXIT_CONFIG)
    try:
        if config.chdir is not None:
            os.chdir(config.chdir)
    except OSError as exc:
        return _fail(exc, EXIT_CONFIG)
    if config.paste is not None:
        return _main_paste(config, args)
    if not config.app:
        sys.stderr.write("wsgiserver: error: give an APP (module:attribute) or --paste FILE.ini\n")
        return EXIT_CONFIG
    try:
        app = load_app(config.app or "", factory=config.factory, app_dir=config.app_dir)
    except WSGIServerError as exc:
        return _fail(exc, EXIT_APP)
    try:
        server = Server(app, config)
    except WSGIServerError as exc:
        return _fail(exc, EXIT_CONFIG)
    return run(server)


def _main_paste(config: Config, args: dict[str, Any]) -> int:
    """`--paste FILE.ini`: the app from [app:main], options from [server:main]; flags win."""
    from wsgiserver.paste import load_paste

    if config.app:
        sys.stderr.write("wsgiserver: error: give either APP or --paste, not both\n")
        return EXIT_CONFIG
    try:
        app, ini_options = load_paste(config.paste or "")
    except WSGIServerError as exc:
        sys.stderr.write(f"wsgiserver: error: {exc}\n")
        return EXIT_APP
    given = {name: value for name, value in args.items() if value is not None}
    try:
        config = Config.from_options({**ini_options, **given})
        configure_logging(config)
        server = Server(app, config)
    except (WSGIServerError, OSError) as exc:
        sys.stderr.write(f"wsgiserver: error: {exc}\n")
        return EXIT_CONFIG
    return run(server)


def run(server: Server) -> int:
    """Serve until SIGINT or SIGTERM, then stop gracefully."""
    log = logging.getLogger("wsgiserver.error")

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        server.shutdown()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    log.info(
        "wsgiserver %s serving on %s",
        __version__,
        ", ".join(f"http://{a}" if a.path is None else str(a) for a in server.addresses),
    )
    server.serve_forever()
    log.info("stopped")
    return 0
