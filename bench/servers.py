"""Owns how each benchmarked server is launched: one worker process, defaults.

Every command is built for an app given as ``module:attribute`` and a
host/port, and is prefixed with ``taskset -c CPU`` by the runner.  Options
are the servers' defaults apart from what is needed for one worker process
(and gunicorn's gthread worker, which is not its default).  The servers
that pre-fork and reload workers also have a command with two workers for
the ``lifecycle`` scenario, and those that serve HTTP/2 one that accepts
cleartext HTTP/2 with prior knowledge from 127.0.0.1 for the ``h2``
scenarios (the same command otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.environment import OPTIONAL_PACKAGE, Environment
from bench.scenarios import H2_CONNECTIONS

CommandBuilder = Callable[[Environment, str, str, int], list[str]]


@dataclass(frozen=True)
class Server:
    """A server under test."""

    name: str
    package: str
    """Distribution whose version is reported."""
    build: CommandBuilder
    """(environment, app spec, host, port) -> command line."""
    note: str
    lifecycle: CommandBuilder | None = None
    """The same with two worker processes (``lifecycle`` scenario), if it has them."""
    http2: CommandBuilder | None = None
    """The same serving cleartext HTTP/2 with prior knowledge (``h2`` scenarios), if it can."""
    version: str | None = None
    """Reported as is, instead of the installed version of ``package`` (a git revision)."""


GUNICORN_HTTP2_THREADS = H2_CONNECTIONS
"""One gthread thread per HTTP/2 connection of the ``h2`` scenarios (see _gunicorn_http2)."""


WORKERS_OPTIONS = ("--workers", "2")
"""wsgiserver's options for the ``lifecycle`` scenario (also given to a ``--baseline``)."""
# h2c with prior knowledge is allowed for the trusted peers, 127.0.0.1 by default.
HTTP2_OPTIONS = ("--http2",)
"""wsgiserver's options for the ``h2`` scenarios (also given to a ``--baseline``)."""


# Command lines are laid out by hand: an option and its value on one line.
# fmt: off
def _wsgiserver(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [str(env.python), "-m", "wsgiserver", app, "--bind", f"{host}:{port}"]


def _wsgiserver_workers(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [*_wsgiserver(env, app, host, port), *WORKERS_OPTIONS]


def _wsgiserver_http2(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [*_wsgiserver(env, app, host, port), *HTTP2_OPTIONS]


def _gunicorn(
    env: Environment, app: str, host: str, port: int, workers: int = 1, threads: int = 4
) -> list[str]:
    return [
        str(env.bin_dir / "gunicorn"),
        "-k", "gthread", "--threads", str(threads), "-w", str(workers),
        "--bind", f"{host}:{port}",
        app,
    ]


def _gunicorn_workers(env: Environment, app: str, host: str, port: int) -> list[str]:
    return _gunicorn(env, app, host, port, workers=2)


def _gunicorn_http2(env: Environment, app: str, host: str, port: int) -> list[str]:
    # HTTP/2 (beta, through h2): without TLS only as h2c, for forwarded_allow_ips peers
    # (127.0.0.1 by default), and prior knowledge must be asked for (gunicorn 26.2+).
    # Its gthread worker keeps a thread on an HTTP/2 connection for the connection's whole
    # life, serving its streams one after another: with 4 threads, 6 of h2load's 10
    # connections would get no answer at all, so it gets a thread per connection.
    command = _gunicorn(env, app, host, port, threads=GUNICORN_HTTP2_THREADS)
    return [
        *command[:-1],
        "--http-protocols", "h2,h1",
        "--http2-cleartext", "prior-knowledge",
        command[-1],
    ]


def _waitress(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [
        str(env.bin_dir / "waitress-serve"),
        "--threads", "4",
        f"--listen={host}:{port}",
        app,
    ]


def _cheroot(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [str(env.python), "-m", "bench.runners.cheroot_server", app, host, str(port)]


def _granian(env: Environment, app: str, host: str, port: int, http2: bool = False) -> list[str]:
    return [
        str(env.bin_dir / "granian"),
        "--interface", "wsgi", "--workers", "1",
        # HTTP/2 only; without TLS that is h2c with prior knowledge, from any peer.
        *(["--http", "2"] if http2 else []),
        "--host", host, "--port", str(port),
        app,
    ]


def _granian_http2(env: Environment, app: str, host: str, port: int) -> list[str]:
    return _granian(env, app, host, port, http2=True)


def _bjoern(env: Environment, app: str, host: str, port: int) -> list[str]:
    return [str(env.python), "-m", "bench.runners.bjoern_server", app, host, str(port)]


# fmt: on


SUBJECT = "wsgiserver"
"""The server every peer is compared with."""

SERVERS: dict[str, Server] = {
    server.name: server
    for server in (
        Server(SUBJECT, SUBJECT, _wsgiserver, "defaults", _wsgiserver_workers, _wsgiserver_http2),
        Server(
            "gunicorn",
            "gunicorn",
            _gunicorn,
            "gthread worker, 4 threads, 1 worker",
            _gunicorn_workers,
            _gunicorn_http2,
        ),
        Server("waitress", "waitress", _waitress, "4 threads (its default)"),
        Server("cheroot", "cheroot", _cheroot, "cheroot.wsgi.Server defaults"),
        Server(
            "granian",
            "granian",
            _granian,
            "WSGI interface, 1 worker, default threads",
            http2=_granian_http2,
        ),
        Server(OPTIONAL_PACKAGE, OPTIONAL_PACKAGE, _bjoern, "bjoern.run defaults"),
    )
}


def unavailable_reason(server: Server, env: Environment) -> str | None:
    """Why ``server`` cannot run in ``env`` (e.g. bjoern did not build), or None."""
    return env.skipped.get(server.package)
