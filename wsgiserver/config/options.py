"""The single source of every option: one frozen `Config` dataclass.

Owns: option names, defaults, help texts, types and validation. The command-line parser
(`config.arguments`), config files and environment variables (`config.sources`) and the
settings reference (`config.settings_doc`) are generated from the field metadata, so each
option is declared once; every field's type is checked with the conversions the sources use
(`config.conversions`). The defaults of options that set a lower layer's value (parsing
limits, timeouts, how chunked bodies are received, trusted proxies) are not written here: they
are read from that layer's dataclass defaults (`protocol.limits.Limits`, the transport's
`Timeouts` and `ChunkedBodies`, `gateway.forwarded.DEFAULT_ALLOW`), the single source, and
the server layer passes every one of them down from the `Config` (a test compares them).
Must not: do I/O (no sockets, no files, no imports of the app); validation is pure.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsgiserver.config.bind import parse_bind
from wsgiserver.config.conversions import (
    canonical_choice,
    field_type,
    from_value,
    is_whole_number,
)
from wsgiserver.errors import ConfigError
from wsgiserver.gateway.forwarded import DEFAULT_ALLOW, parse_allow_ips
from wsgiserver.http2.limits import MAX_SETTING, MAX_WINDOW, H2Limits
from wsgiserver.observability.accesslog import FORMATS as ACCESS_LOG_FORMATS
from wsgiserver.observability.accesslog import compile_format
from wsgiserver.protocol.limits import Limits
from wsgiserver.transport.transport import ChunkedBodies, Timeouts

# The layers below own the defaults of what they enforce (parsing limits, timeouts, how
# chunked bodies are received, trusted proxies): the options that set those take their
# defaults from the lower layer's dataclass defaults, so each number is written once.
_LIMITS = Limits()
_TIMEOUTS = Timeouts()
_CHUNKED = ChunkedBodies()
_H2 = H2Limits()

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
VERIFY_CLIENT = ("none", "optional", "required")
TLS_MIN_VERSIONS = ("1.2", "1.3")
H2C_PEERS = ("trusted", "all", "none")

# The most worker processes the supervisor runs, whether asked for at start (--workers,
# WEB_CONCURRENCY) or grown to by TTIN. Each worker is a whole interpreter with its own thread
# pool, so the useful count is about the number of cores (more only while the app blocks):
# 256 covers one or two per core on the largest single servers; a count beyond it is a typo or
# a miscomputed variable, and forking it made a machine unusable. The supervisor also watches
# one pipe per worker with select(), which handles file descriptors below 1024 (FD_SETSIZE,
# also the usual soft RLIMIT_NOFILE), and a reload runs old and new workers side by side:
# twice 256 leaves room for the listeners and the rest. A fixed number rather than a multiple
# of the CPU count: validation does no I/O, and a config checked on one machine (CI) must
# mean the same on another. (gunicorn and uvicorn accept any positive count.)
MAX_WORKERS = 256
# The shortest --worker-timeout that can work. A worker beats every min(1 s, timeout / 4)
# (supervisor.worker) from its housekeeper thread, which shares the GIL with the request
# threads, and the supervisor looks at the beats at least every 0.25 s (supervisor.TICK):
# at 1 s a timeout spans four beats and four looks. Far below it a beat is late by the
# scheduling alone, and idle workers were aborted in a loop (0.001 s: dozens of abort/fork
# cycles a second).
MIN_WORKER_TIMEOUT = 1.0
MAX_SECONDS = 1_000_000  # the longest duration any option takes (see Config.__post_init__)
MAX_BACKLOG = 2**31 - 1  # listen() takes a C int (the kernel caps it lower: somaxconn)
MAX_OWNER_ID = 2**32 - 2  # uid_t and gid_t are 32 bits; 2**32 - 1 is chown()'s "no change"


# The topics options are grouped by, in order, with a sentence on what each is about: the
# argparse groups of `--help`, the sections of the settings reference and the headings of
# `--print-config`. Every option names one.
SECTIONS: dict[str, str] = {
    "Application": "What to serve, and where its code is.",
    "Binding": "Where to listen.",
    "Processes": "Worker processes (POSIX): more than one worker, --preload or recycling run "
    "a pre-forking supervisor, and so does PID 1 (it reaps orphaned processes).",
    "Thread pool": "Threads that run the app, in each process.",
    "Timeouts": "How long each step may take, and overload control.",
    "Limits": "The largest requests and the most connections accepted.",
    "Request bodies": "How chunked request bodies reach the app.",
    "TLS": "HTTPS, and client certificates.",
    "HTTP/2": "HTTP/2 over TLS (ALPN) and cleartext h2c; needs the http2 extra "
    "(pip install '.[http2]' in a checkout, or pip install 'h2>=4.1,<5').",
    "Proxies": "The real client behind a reverse proxy or load balancer.",
    "Logging": "The error log, the access log and request ids.",
    "Observability": "Metrics, health checks and instrumentation hooks.",
    "Development": "Conveniences for working on an app.",
}


def option(
    default: Any,
    help: str,
    *,
    section: str,
    metavar: str | None = None,
    repeat: bool = False,
    choices: tuple[str, ...] | None = None,
    flag: bool = False,
    env: str | None = None,
    secret: bool = False,
    since: str | None = None,
    path: str | None = None,
    command_line_only: str | None = None,
) -> Any:
    """A Config field with the metadata the CLI, config files and docs are generated from.

    `section` is one of `SECTIONS`: the group of the option in `--help` and in the settings
    reference. `env` overrides the environment variable name (default `WSGISERVER_` + the
    upper-case field name); `secret` keeps the value out of every output (`--print-config`,
    error messages, `repr(config)`: see `shown`); `since` is the version that added it.
    `path` marks a file or directory option: `PATH_FROM_START` or `PATH_FROM_CHDIR`, what a
    relative value is relative to (`config.paths`). See `wsgiserver.config.sources` for how
    files and the environment are read.
    `command_line_only` marks an option applied around the `Server` by the command line (or
    its supervisor), never by the `Server` itself: it says what an embedding program does
    instead, and an embedded `Server` refuses a value other than the default
    (`wsgiserver.config.scope`).
    """
    if section not in SECTIONS:
        raise TypeError(f"unknown option section {section!r}: add it to SECTIONS")
    if path not in (None, PATH_FROM_START, PATH_FROM_CHDIR):
        raise TypeError(f"path must be PATH_FROM_START or PATH_FROM_CHDIR, not {path!r}")
    meta = {
        "help": help,
        "metavar": metavar,
        "repeat": repeat,
        "choices": choices,
        "flag": flag,
        "env": env,
        "section": section,
        "secret": secret,
        "since": since,
        "path": path,
        "command_line_only": command_line_only,
    }
    if isinstance(default, list | dict | set):
        raise TypeError("Config defaults must be immutable")
    return field(default=default, metadata=meta, repr=not secret)


HIDDEN = "<hidden>"

# What a relative path in a path option is relative to (`config.paths` applies it): the
# directory the server was started in, or --chdir (the two options that say where the app
# is found, so that --chdir alone imports the app from there).
PATH_FROM_START = "start"
PATH_FROM_CHDIR = "chdir"


# Options other servers have that are one of ours here: an "unknown option" names ours
# (WSGISERVER_PORT was closest, by spelling, to WSGISERVER_PASTE).
_BIND = ("bind", "it takes HOST:PORT")
_OTHER_SERVERS_NAMES = {"port": _BIND, "host": _BIND, "listen": _BIND, "address": _BIND}


def _bare_name(name: str) -> str:
    """`--keepalive-timeout`, `WSGISERVER_KEEPALIVE_TIMEOUT`, `keepalive-timeout`:
    `keepalive_timeout`."""
    folded = name.casefold().lstrip("-").replace("-", "_")
    return folded.removeprefix("wsgiserver_")


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean NAME?` with the known name closest to a mistyped `word`, or "" when
    none is close: the hint of every "unknown option" error, whatever its source."""
    known = list(known)
    ours, note = _OTHER_SERVERS_NAMES.get(_bare_name(word), ("", ""))
    for name in known if ours else ():
        if _bare_name(name) == ours:
            return f"; did you mean {name}? ({note})"
    # Without regard to case: WSGISERVER_threads is closest to WSGISERVER_THREADS, not to
    # the name that happens to share most of its upper-case letters.
    by_folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1)
    return f"; did you mean {by_folded[close[0]]}?" if close else ""


def shown(name: str, value: Any, render: Callable[[Any], str] = repr) -> str:
    """How output or an error message may quote the value of option `name`: `HIDDEN` for a
    secret option, else `render(value)`. Every place that quotes option values goes through
    here, so a secret declared once in its metadata is kept out of all of them."""
    return HIDDEN if name in _secret_names() else render(value)


@functools.cache
def _secret_names() -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(Config) if f.metadata["secret"])


def fields_by_section() -> dict[str, list[dataclasses.Field[Any]]]:
    """`Config`'s fields grouped by section, sections in `SECTIONS` order, fields in
    declaration order within each."""
    grouped: dict[str, list[dataclasses.Field[Any]]] = {name: [] for name in SECTIONS}
    for f in dataclasses.fields(Config):
        grouped[f.metadata["section"]].append(f)
    return {name: members for name, members in grouped.items() if members}


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Every wsgiserver option. Build it with keyword arguments; it validates itself."""

    app: str | None = option(
        None,
        "the WSGI application, as module:attribute",
        metavar="APP",
        section="Application",
        command_line_only="pass the app object to Server or serve()",
    )
    paste: str | None = option(
        None,
        "load the app from [app:main] of a PasteDeploy ini file (and options from [server:main])",
        metavar="FILE.ini",
        section="Application",
        path=PATH_FROM_CHDIR,
        command_line_only="load the app with paste.deploy.loadapp() and pass the app object",
    )
    factory: bool = option(
        False,
        "treat APP as a factory: call it with no arguments to get the app",
        flag=True,
        section="Application",
        command_line_only="call the factory and pass the app it returns",
    )
    app_dir: str = option(
        ".",
        "directory added to sys.path before importing APP",
        metavar="DIR",
        section="Application",
        path=PATH_FROM_CHDIR,
    )
    chdir: str | None = option(
        None,
        "change to this directory before importing APP",
        metavar="DIR",
        section="Application",
        path=PATH_FROM_START,
        command_line_only="call os.chdir() before building the Server",
    )
    bind: tuple[str, ...] = option(
        ("127.0.0.1:8000",),
        "address to listen on: HOST:PORT, [IPV6]:PORT, unix:PATH, or fd://N for a socket "
        "inherited as file descriptor N (repeatable)",
        metavar="ADDRESS",
        repeat=True,
        section="Binding",
        path=PATH_FROM_START,
    )
    backlog: int = option(
        2048, "listen backlog of each listening socket", metavar="N", section="Binding"
    )
    threads: int = option(
        4,
        "worker threads kept ready; one runs requests at a time, more only while the app "
        "blocks and leaves the CPU idle",
        metavar="N",
        section="Thread pool",
    )
    max_threads: int = option(
        128,
        "most worker threads; while requests wait and the running ones are blocked (the "
        "process uses under 80%% of a CPU), one more runs, up to this",
        metavar="N",
        section="Thread pool",
    )
    root_path: str = option(
        "",
        "URL prefix the app is mounted under, like /app (no '/' at the end): becomes "
        "SCRIPT_NAME; '' or '/' for the root",
        metavar="PATH",
        section="Application",
    )
    keepalive_timeout: float = option(
        _TIMEOUTS.keepalive,
        "seconds an idle keep-alive connection is kept open",
        metavar="SECONDS",
        section="Timeouts",
    )
    header_timeout: float = option(
        _TIMEOUTS.header,
        "seconds allowed to receive a whole request head, from accept or its first byte",
        metavar="SECONDS",
        section="Timeouts",
    )
    body_timeout: float = option(
        _TIMEOUTS.body,
        "seconds of inactivity allowed while the app reads a request body",
        metavar="SECONDS",
        section="Timeouts",
    )
    send_timeout: float = option(
        _TIMEOUTS.send,
        "seconds a client may go without taking more of the response (then it is closed)",
        metavar="SECONDS",
        section="Timeouts",
    )
    graceful_timeout: float = option(
        30.0,
        "seconds in-flight requests get to finish on shutdown",
        metavar="SECONDS",
        section="Timeouts",
    )
    min_body_rate: int = option(
        _TIMEOUTS.min_body_rate,
        "slowest request body accepted after the grace period, in bytes per second "
        "(slower bodies get 408; 0 disables)",
        metavar="BYTES_PER_S",
        section="Timeouts",
    )
    body_rate_grace: float = option(
        _TIMEOUTS.body_rate_grace,
        "seconds a request body may take before --min-body-rate applies",
        metavar="SECONDS",
        section="Timeouts",
    )
    max_connections: int = option(
        100_000,
        "most open client connections per process (lowered to fit the open-files limit); "
        "beyond it a new connection is answered 503 with Retry-After and closed",
        metavar="N",
        section="Limits",
    )
    max_request_line: int = option(
        _LIMITS.max_request_line,
        "longest request line in bytes (414)",
        metavar="BYTES",
        section="Limits",
    )
    max_header_count: int = option(
        _LIMITS.max_header_count,
        "most header fields in a request (431)",
        metavar="N",
        section="Limits",
    )
    max_header_field: int = option(
        _LIMITS.max_header_field,
        "longest header field line in bytes (431)",
        metavar="BYTES",
        section="Limits",
    )
    max_head_size: int = option(
        _LIMITS.max_head_size,
        "largest request head in bytes (431)",
        metavar="BYTES",
        section="Limits",
    )
    max_body_size: int = option(
        _LIMITS.max_body_size,
        "largest request body in bytes (413)",
        metavar="BYTES",
        section="Limits",
    )
    max_chunk_extension: int = option(
        _LIMITS.max_chunk_extension,
        "longest chunk extension in bytes (400)",
        metavar="BYTES",
        section="Limits",
    )
    stream_chunked: bool = option(
        _CHUNKED.stream,
        "pass chunked request bodies to the app as they arrive (Transfer-Encoding visible, "
        "no CONTENT_LENGTH; the app reads wsgi.input to its end) instead of receiving them "
        "whole first and giving the app a CONTENT_LENGTH",
        flag=True,
        section="Request bodies",
    )
    spool_threshold: int = option(
        _CHUNKED.spool_threshold,
        "a chunked request body larger than this is received into an unnamed temporary "
        "file instead of memory",
        metavar="BYTES",
        section="Request bodies",
    )
    spool_dir: str | None = option(
        _CHUNKED.spool_dir,
        "directory of the temporary files of large chunked request bodies "
        "(default: the system's temporary directory)",
        metavar="DIR",
        section="Request bodies",
        path=PATH_FROM_START,
    )
    log_level: str = option(
        "info",
        "level of the error log; debug also prints the traceback of an app that fails to load",
        choices=LOG_LEVELS,
        metavar="LEVEL",
        section="Logging",
        command_line_only="set it with logging: logging.getLogger('wsgiserver').setLevel(...)",
    )
    access_log: str | None = option(
        None,
        "write an access log line per request to FILE, or '-' for stdout",
        metavar="FILE",
        section="Logging",
        path=PATH_FROM_START,
    )
    access_log_format: str = option(
        "combined",
        "access log format: combined, common, json, or a template of {fields} such as "
        "'{client} {method} {target} {status} {duration_us} {req:User-Agent}' "
        "(see docs/observability.rst)",
        metavar="FORMAT",
        section="Logging",
    )
    log_config: str | None = option(
        None,
        "configure logging from a logging.config.dictConfig dictionary in a .json or .toml "
        "file, instead of the default handlers (loggers: wsgiserver.error, wsgiserver.access)",
        metavar="FILE",
        section="Logging",
        path=PATH_FROM_START,
        command_line_only="configure logging with logging.config.dictConfig() yourself",
    )
    request_id_header: str = option(
        "X-Request-ID",
        "request header a trusted proxy's request id is taken from (and echoed in, with "
        "--echo-request-id); '' to always generate ids",
        metavar="NAME",
        section="Logging",
    )
    echo_request_id: bool = option(
        False,
        "send each request's id in a response header named by --request-id-header",
        flag=True,
        section="Logging",
    )
    hooks: str | None = option(
        None,
        "instrumentation hooks: module:object with optional on_request_start, on_request_end, "
        "on_worker_start and on_worker_exit callables",
        metavar="MODULE:OBJECT",
        section="Observability",
    )
    workers: int = option(
        1,
        f"worker processes, at most {MAX_WORKERS} (more than 1 runs a pre-forking supervisor; "
        "POSIX)",
        metavar="N",
        section="Processes",
        command_line_only="a Server is one process: run the wsgiserver command for workers",
    )
    worker_timeout: float = option(
        30.0,
        "seconds a worker may go without a heartbeat (all threads busy, nothing finishing) "
        f"before it is aborted and replaced; at least {MIN_WORKER_TIMEOUT:g}",
        metavar="SECONDS",
        section="Processes",
    )
    max_requests: int = option(
        0,
        "recycle a worker after this many requests (0: never)",
        metavar="N",
        section="Processes",
        command_line_only="run the wsgiserver command to recycle worker processes",
    )
    max_requests_jitter: int = option(
        0,
        "add a random 0..N to --max-requests per worker, so workers recycle apart",
        metavar="N",
        section="Processes",
        command_line_only="run the wsgiserver command to recycle worker processes",
    )
    max_worker_lifetime: float = option(
        0.0,
        "recycle a worker after this many seconds (0: never)",
        metavar="SECONDS",
        section="Processes",
        command_line_only="run the wsgiserver command to recycle worker processes",
    )
    max_worker_memory: int = option(
        0,
        "recycle a worker whose resident memory exceeds this many MiB (0: never)",
        metavar="MIB",
        section="Processes",
        command_line_only="run the wsgiserver command to recycle worker processes",
    )
    reload: bool = option(
        False,
        "restart the workers when a .py file under --app-dir changes (runs the supervisor)",
        flag=True,
        section="Development",
        command_line_only="run the wsgiserver command (wsgiserver --reload) to reload",
    )
    preload: bool = option(
        False,
        "import the app in the supervisor before forking the workers",
        flag=True,
        section="Processes",
        command_line_only="leave it out: the app passed to a Server is loaded already",
    )
    gc_freeze: bool = option(
        True,
        "once the app is loaded, exempt the objects it created from garbage collection: "
        "full collections stop walking the framework's heap (no more 10-20 ms pauses), and "
        "forked workers keep those memory pages shared",
        flag=True,
        section="Processes",
    )
    reuse_port: bool = option(
        False,
        "set SO_REUSEPORT on TCP listeners (several servers on one port)",
        flag=True,
        section="Binding",
    )
    pid: str | None = option(
        None,
        "write the server's process id to FILE",
        metavar="FILE",
        section="Processes",
        path=PATH_FROM_START,
        command_line_only="write os.getpid() to the file yourself",
    )
    unix_socket_mode: str | None = option(
        None,
        "permissions of unix socket files, in octal (e.g. 0660)",
        metavar="MODE",
        section="Binding",
    )
    unix_socket_owner: str | None = option(
        None,
        "owner of unix socket files: USER or USER:GROUP (names or ids)",
        metavar="OWNER",
        section="Binding",
    )
    certfile: str | None = option(
        None,
        "serve HTTPS: the PEM certificate chain file (enables TLS on every listener)",
        metavar="FILE",
        section="TLS",
        path=PATH_FROM_START,
    )
    keyfile: str | None = option(
        None,
        "the PEM private key file (default: in --certfile)",
        metavar="FILE",
        section="TLS",
        path=PATH_FROM_START,
    )
    keyfile_password: str | None = option(
        None,
        "password of an encrypted --keyfile",
        metavar="PASSWORD",
        secret=True,
        section="TLS",
    )
    ca_certs: str | None = option(
        None,
        "PEM file of the CA certificates that client certificates are verified against",
        metavar="FILE",
        section="TLS",
        path=PATH_FROM_START,
    )
    verify_client: str = option(
        "none",
        "client certificates (mTLS): none, optional (verified when sent) or required",
        choices=VERIFY_CLIENT,
        metavar="MODE",
        section="TLS",
    )
    tls_min_version: str = option(
        "1.2",
        "oldest TLS version accepted",
        choices=TLS_MIN_VERSIONS,
        metavar="VERSION",
        section="TLS",
    )
    http2: bool = option(
        False,
        "serve HTTP/2 as well: offered with ALPN over TLS, and as cleartext h2c with prior "
        "knowledge from the peers --h2c allows (needs the http2 extra)",
        flag=True,
        section="HTTP/2",
    )
    h2c: str = option(
        "trusted",
        "with --http2, who may open a cleartext HTTP/2 connection (prior knowledge): "
        "trusted (the --forwarded-allow-ips peers), all, or none",
        choices=H2C_PEERS,
        metavar="PEERS",
        section="HTTP/2",
    )
    http2_max_concurrent_streams: int = option(
        _H2.max_concurrent_streams,
        "most streams a client may have open on one HTTP/2 connection (more are refused "
        f"with REFUSED_STREAM); at most {MAX_SETTING}, a SETTINGS value",
        metavar="N",
        section="HTTP/2",
    )
    http2_max_header_list_size: int = option(
        _H2.max_header_list_size,
        "largest HTTP/2 request header list in bytes, as RFC 9113 counts it (431); "
        f"1024..{MAX_SETTING}, a SETTINGS value",
        metavar="BYTES",
        section="HTTP/2",
    )
    http2_initial_window_size: int = option(
        _H2.initial_window_size,
        "HTTP/2 flow-control window of each stream: request body bytes a client may send "
        "before the app reads them (the connection's is 4 times this)",
        metavar="BYTES",
        section="HTTP/2",
    )
    forwarded_allow_ips: str = option(
        DEFAULT_ALLOW,
        "comma-separated IPs/CIDR networks of trusted proxies, or '*': their Forwarded and "
        "X-Forwarded-* fields (and PROXY headers) set the client address, scheme and host; "
        "unix socket peers are always trusted",
        metavar="IPS",
        section="Proxies",
    )
    strip_untrusted_forwarded: bool = option(
        False,
        "remove Forwarded and X-Forwarded-* fields sent by untrusted peers from the environ",
        flag=True,
        section="Proxies",
    )
    proxy_protocol: bool = option(
        False,
        "expect a PROXY protocol v1/v2 header on every connection (from trusted peers only)",
        flag=True,
        section="Proxies",
    )
    admin_bind: str | None = option(
        None,
        "serve /metrics (Prometheus), /healthz and /readyz on this separate address "
        "(same syntax as --bind; off by default); answered outside the app's thread pool",
        metavar="ADDRESS",
        section="Observability",
        path=PATH_FROM_START,
    )
    queue_timeout: float = option(
        0.0,
        "answer 503 with Retry-After, without running the app, to a request that waited "
        "longer than this for a worker thread (0: never)",
        metavar="SECONDS",
        section="Timeouts",
    )
    request_timeout: float = option(
        0.0,
        "per-request deadline: at expiry the client gets 504 (or the connection is aborted "
        "once the head was sent) and wsgiserver.RequestTimeout is raised in the app's "
        "thread (0: none)",
        metavar="SECONDS",
        section="Timeouts",
    )
    interrupt_timeout: float = option(
        5.0,
        "seconds a thread interrupted by --request-timeout gets to unwind before the worker "
        "is recycled (with --workers) or reported not ready",
        metavar="SECONDS",
        section="Timeouts",
    )

    def __post_init__(self) -> None:
        _check_types(self)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            # Every float option is a duration: the poller and the thread waits take it in
            # milliseconds as a C int, so a larger one crashed the start or the stop.
            if type(value) is float and value > MAX_SECONDS:
                raise ConfigError(
                    f"{f.name} must be at most {MAX_SECONDS} seconds (11 days), got {value:g}",
                    options=(f.name,),
                )
        if self.backlog > MAX_BACKLOG:
            raise ConfigError(
                f"backlog must be at most {MAX_BACKLOG}, got {self.backlog}", options=("backlog",)
            )
        if not self.bind:
            raise ConfigError("bind: at least one address is needed", options=("bind",))
        seen = set()
        for address in self.bind:
            try:
                parsed = parse_bind(address)
            except ValueError as exc:
                raise ConfigError(f"bind: {exc}", options=("bind",)) from None
            # The second bind would fail as "address already in use", by the server itself.
            # Port 0 twice is two ports the system picks.
            ephemeral = parsed.path is None and parsed.fd is None and parsed.port == 0
            if parsed in seen and not ephemeral:
                raise ConfigError(f"bind: {address!r} is given twice", options=("bind",))
            seen.add(parsed)
        _positive("threads", self.threads)
        _positive("max_threads", self.max_threads)
        if self.max_threads < self.threads:
            raise ConfigError(
                f"max_threads ({self.max_threads}) must not be below threads ({self.threads})",
                options=("max_threads", "threads"),
            )
        _positive("backlog", self.backlog)
        for name in ("keepalive_timeout", "header_timeout", "body_timeout", "send_timeout"):
            _positive(name, getattr(self, name))
        if self.graceful_timeout < 0:
            raise ConfigError(
                "graceful_timeout must not be negative", options=("graceful_timeout",)
            )
        if self.min_body_rate < 0:
            raise ConfigError(
                "min_body_rate must not be negative (0 disables it)", options=("min_body_rate",)
            )
        if self.body_rate_grace < 0:
            raise ConfigError("body_rate_grace must not be negative", options=("body_rate_grace",))
        _positive("max_connections", self.max_connections)
        for name in (
            "max_request_line",
            "max_header_count",
            "max_header_field",
            "max_head_size",
            "max_chunk_extension",
        ):
            _positive(name, getattr(self, name))
        if self.max_body_size < 0:
            raise ConfigError("max_body_size must not be negative", options=("max_body_size",))
        if self.spool_threshold < 0:
            raise ConfigError(
                "spool_threshold must not be negative (0: every chunked body to a file)",
                options=("spool_threshold",),
            )
        if self.spool_dir == "":
            raise ConfigError(
                "spool_dir: give a directory, or leave it out for the system default",
                options=("spool_dir",),
            )
        if self.root_path == "/":
            # Mounted at the root: SCRIPT_NAME is then empty (PEP 3333), the default.
            object.__setattr__(self, "root_path", "")  # frozen: only while it is built
        if self.root_path and not self.root_path.startswith("/"):
            raise ConfigError(
                f"root_path: {self.root_path!r} must start with '/'", options=("root_path",)
            )
        if self.root_path.endswith("/"):
            raise ConfigError(
                f"root_path: {self.root_path!r} must not end with '/' (write "
                f"{self.root_path.rstrip('/') or '/'!r})",
                options=("root_path",),
            )
        if self.access_log_format not in ACCESS_LOG_FORMATS:
            try:
                compile_format(self.access_log_format)
            except ValueError as exc:
                raise ConfigError(
                    f"access_log_format: {exc}", options=("access_log_format",)
                ) from None
        header = self.request_id_header
        if header and (not header.isascii() or not _HEADER_NAME.fullmatch(header)):
            raise ConfigError(
                f"request_id_header: {header!r} is not a header field name",
                options=("request_id_header",),
            )
        if self.echo_request_id and not header:
            raise ConfigError(
                "echo_request_id needs a request_id_header",
                options=("echo_request_id", "request_id_header"),
            )
        _choice("log_level", self.log_level, LOG_LEVELS)
        self._check_tls()
        self._check_http2()
        try:
            parse_allow_ips(self.forwarded_allow_ips)
        except ValueError as exc:
            raise ConfigError(
                f"forwarded_allow_ips: {exc}", options=("forwarded_allow_ips",)
            ) from None
        _positive("workers", self.workers)
        if self.workers > MAX_WORKERS:
            raise ConfigError(
                f"workers must be at most {MAX_WORKERS}, got {self.workers}", options=("workers",)
            )
        if self.worker_timeout < MIN_WORKER_TIMEOUT:
            raise ConfigError(
                f"worker_timeout must be at least {MIN_WORKER_TIMEOUT:g} second (the heartbeat "
                f"needs that long), got {self.worker_timeout:g}",
                options=("worker_timeout",),
            )
        for name in ("max_requests", "max_requests_jitter", "max_worker_lifetime"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative", options=(name,))
        if self.max_worker_memory < 0:
            raise ConfigError(
                "max_worker_memory must not be negative", options=("max_worker_memory",)
            )
        mode = self.unix_socket_mode
        if mode is not None and (
            not 3 <= len(mode) <= 4 or not mode.isascii() or not set(mode) <= set("01234567")
        ):
            raise ConfigError(
                f"unix_socket_mode: {mode!r} is not an octal mode like 0660",
                options=("unix_socket_mode",),
            )
        if self.reload and self.preload:
            raise ConfigError(
                "reload and preload exclude each other: preloaded code stays old",
                options=("reload", "preload"),
            )
        self._check_overload()
        owner = self.unix_socket_owner
        if owner is not None and (not owner or owner.startswith(":") or owner.count(":") > 1):
            raise ConfigError(
                f"unix_socket_owner: {owner!r} is not USER or USER:GROUP",
                options=("unix_socket_owner",),
            )
        for part in (owner or "").split(":"):
            # Numeric ids go to chown(), which takes a 32-bit uid_t/gid_t where all ones,
            # (uid_t)-1, means "leave unchanged": a larger id raised OverflowError at start.
            if is_whole_number(part) and int(part) > MAX_OWNER_ID:
                raise ConfigError(
                    f"unix_socket_owner: {owner!r}: a numeric user or group id is at most "
                    f"{MAX_OWNER_ID}",
                    options=("unix_socket_owner",),
                )

    def _check_overload(self) -> None:
        if self.admin_bind is not None:
            try:
                parse_bind(self.admin_bind)
            except ValueError as exc:
                raise ConfigError(f"admin_bind: {exc}", options=("admin_bind",)) from None
            if self.admin_bind in self.bind and not self.admin_bind.endswith(":0"):
                raise ConfigError(
                    "admin_bind must differ from every bind address", options=("admin_bind", "bind")
                )
        for name in ("queue_timeout", "request_timeout"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative (0 disables it)", options=(name,))
        _positive("interrupt_timeout", self.interrupt_timeout)

    def _check_tls(self) -> None:
        _choice("verify_client", self.verify_client, VERIFY_CLIENT)
        _choice("tls_min_version", self.tls_min_version, TLS_MIN_VERSIONS)
        if self.certfile is None:
            for name in ("keyfile", "keyfile_password", "ca_certs"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"{name} needs certfile (TLS is off without it)", options=(name, "certfile")
                    )
            if self.verify_client != "none":
                raise ConfigError(
                    "verify_client needs certfile (TLS is off without it)",
                    options=("verify_client", "certfile"),
                )
        if self.verify_client != "none" and self.ca_certs is None:
            raise ConfigError(
                f"verify_client={self.verify_client} needs ca_certs",
                options=("verify_client", "ca_certs"),
            )

    def _check_http2(self) -> None:
        _choice("h2c", self.h2c, H2C_PEERS)
        if not self.http2 and self.h2c != "trusted":
            raise ConfigError(
                "h2c needs http2 (HTTP/2 is off without it)", options=("h2c", "http2")
            )
        # Both are sent to the client in the SETTINGS frame, whose values are 32 bits
        # unsigned (RFC 9113 section 6.5.1): a larger one would end every connection.
        for name, least in (
            ("http2_max_concurrent_streams", 1),
            ("http2_max_header_list_size", 1024),
        ):
            value = getattr(self, name)
            if not least <= value <= MAX_SETTING:
                raise ConfigError(
                    f"{name} must be {least}..{MAX_SETTING} (RFC 9113 section 6.5.1), "
                    f"got {value!r}",
                    options=(name,),
                )
        if not 65535 <= self.http2_initial_window_size <= MAX_WINDOW:
            raise ConfigError(
                f"http2_initial_window_size must be 65535..{MAX_WINDOW} (RFC 9113 section "
                f"6.9.2), got {self.http2_initial_window_size!r}",
                options=("http2_initial_window_size",),
            )

    def replace(self, **changes: Any) -> Config:
        """A copy with `changes` (keyword options, as `from_options` takes them)."""
        _refuse_unknown(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Config:
        """Build from keyword options, naming unknown ones in the error."""
        _refuse_unknown(options)
        try:
            return cls(**options)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None


def _refuse_unknown(options: Mapping[str, Any]) -> None:
    names = sorted(f.name for f in dataclasses.fields(Config))
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(
            "; ".join(f"{name}: unknown option{did_you_mean(name, names)}" for name in unknown)
        )


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^`|~0-9A-Za-z]+")  # a token without "_"


def _check_types(config: Config) -> None:
    """Every field has its annotation's type, as the sources convert to (config.conversions).

    Values are normalised the same way (a whole number given for a float field becomes a
    float), so a `Config` holds one form of each value whoever built it.
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        try:
            converted = from_value(field_type(f.type), value)
        except ValueError as exc:
            raise ConfigError(
                f"{f.name}: {exc}, got {shown(f.name, value)}", options=(f.name,)
            ) from None
        if f.metadata["choices"]:
            converted = canonical_choice(converted, f.metadata["choices"])
        if converted is not value:
            object.__setattr__(config, f.name, converted)  # frozen: only while it is built


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value!r}", options=(name,))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}", options=(name,))


# Every option at its default: what "left at the default" is compared with.
DEFAULTS = Config()
