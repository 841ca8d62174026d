"""What a server serves each connection with, built once from its `Config`.

Owns: the parsing limits and timeouts, the access-record sink (access log, `on_request_end`
hook, embedding callback), proxy trust and request ids, the TLS / PROXY edge, HTTP/2 (its
limits, who may use cleartext h2c, and the check that its extra is installed), one `Gateway`
per listener, making the `Transport` of each accepted socket, the effective connection limit
and the 503 sent above it. Must not: own threads, the poller or any connection's lifetime
(`server.py` does), nor bind sockets (`listeners.py`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import IO

from wsgiserver.config.bind import BindAddress, parse_bind
from wsgiserver.config.options import DEFAULTS, Config
from wsgiserver.errors import ConfigError
from wsgiserver.gateway.forwarded import ProxyTrust
from wsgiserver.gateway.gateway import Gateway, ServerInfo
from wsgiserver.gateway.requestid import RequestIds
from wsgiserver.http2 import require as require_http2
from wsgiserver.http2.limits import H2Limits
from wsgiserver.observability import metrics as m
from wsgiserver.observability.accesslog import RequestRecord, formatter
from wsgiserver.observability.hooks import Hooks
from wsgiserver.protocol import Limits
from wsgiserver.server.listeners import create_listener, resolve_owner
from wsgiserver.transport.negotiation import Http2
from wsgiserver.transport.overload import Overload
from wsgiserver.transport.setup import Edge
from wsgiserver.transport.tls import server_context
from wsgiserver.transport.transport import ChunkedBodies, Host, Timeouts, Transport
from wsgiserver.types import WSGIApp

log = logging.getLogger("wsgiserver.error")
access_log = logging.getLogger("wsgiserver.access")

FD_RESERVE = 64  # descriptors kept for listeners, the poller, logs and the app's own files
FEW_CONNECTIONS = 64  # a fitted limit below this is said as a warning, whatever asked for it


class DateHeader:
    """The Date (RFC 9110 section 6.6.1) and Server lines, formatted once per second."""

    __slots__ = ("_line", "_second", "_server")

    def __init__(self, server: str = "wsgiserver") -> None:
        self._server = f"Server: {server}\r\n"
        self._second = -1
        self._line = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            # Two threads may both refresh at a second boundary; each writes a valid line.
            self._line = f"Date: {formatdate(now, usegmt=True)}\r\n{self._server}"
            self._second = now
        return self._line


class Connections:
    """Makes the `Transport` for each accepted socket; one per `Server`.

    `errors` is the wsgi.errors stream; `on_request` is called with every finished request's
    record besides the configured access log; `hooks` are the server's loaded hooks;
    `metrics` and `overload` are the server's (docs/observability.rst).
    """

    def __init__(
        self,
        app: WSGIApp,
        config: Config,
        *,
        errors: IO[str] | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        hooks: Hooks | None = None,
        metrics: m.ProcessMetrics | None = None,
        overload: Overload | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.limits = Limits(
            max_request_line=config.max_request_line,
            max_header_count=config.max_header_count,
            max_header_field=config.max_header_field,
            max_head_size=config.max_head_size,
            max_body_size=config.max_body_size,
            max_chunk_extension=config.max_chunk_extension,
        )
        self.timeouts = Timeouts(
            keepalive=config.keepalive_timeout,
            header=config.header_timeout,
            body=config.body_timeout,
            send=config.send_timeout,
            min_body_rate=config.min_body_rate,
            body_rate_grace=config.body_rate_grace,
        )
        self.chunked = ChunkedBodies(
            stream=config.stream_chunked,
            spool_threshold=config.spool_threshold,
            spool_dir=_spool_dir(config.spool_dir),
        )
        self.access = _access_sink(config, hooks, on_request)
        self.hooks = hooks
        self.errors = errors
        self.metrics = metrics
        self.overload = overload
        # TLS and proxies (docs/tls_and_proxies.rst): certificates are loaded once, here,
        # before binding; a bad file is a one-line ConfigError naming it.
        self.proxies = ProxyTrust(
            config.forwarded_allow_ips, strip=config.strip_untrusted_forwarded
        )
        # One id source per Server: its random prefix is drawn here, after any fork.
        self.request_ids = RequestIds(config.request_id_header, self.proxies.trusts)
        self.http2 = http2_for(config, self.proxies)
        tls_context = tls_context_for(config)
        self.edge: Edge | None = None
        if tls_context is not None or config.proxy_protocol:
            self.edge = Edge(
                tls=tls_context,
                proxy_protocol=config.proxy_protocol,
                trusted=self.proxies.trusts,
                handshake_write_timeout=config.send_timeout,
            )
        self.date = DateHeader()
        self._gateways: dict[int, Gateway] = {}

    def add_listener(self, fd: int, bound: BindAddress) -> None:
        """Serve connections accepted on listener `fd` (bound to `bound`) with its Gateway."""
        config = self.config
        if bound.path is not None:
            name, port = "localhost", "80"
        else:
            # RFC 3875 section 4.1.14: an IPv6 SERVER_NAME is written in brackets, so that
            # URLs rebuilt from it (PEP 3333 "URL Reconstruction") are valid.
            name = f"[{bound.host}]" if ":" in bound.host else bound.host
            port = str(bound.port)
        # PEP 3333: wsgi.multiprocess is true when another process may run the same app at
        # the same time, which is what --workers N > 1 does.
        info = ServerInfo(name, port, root_path=config.root_path, multiprocess=config.workers > 1)
        if self.edge is not None and self.edge.tls is not None:
            info = dataclasses.replace(info, url_scheme="https")
        hooks = self.hooks
        self._gateways[fd] = Gateway(
            self.app,
            info,
            date=self.date,
            errors=self.errors,
            proxies=self.proxies,
            request_ids=self.request_ids,
            echo_header=config.request_id_header if config.echo_request_id else "",
            on_start=hooks.request_start
            if hooks is not None and hooks.on_request_start is not None
            else None,
        )

    def transport(
        self,
        sock: socket.socket,
        remote: tuple[str, int] | None,
        listener_fd: int,
        host: Host | None = None,
    ) -> Transport:
        """The Transport for `sock`, accepted on `listener_fd` from `remote`; `host` (the
        server) runs the tasks of an HTTP/2 connection."""
        return Transport(
            sock,
            remote,
            self._gateways[listener_fd],
            self.limits,
            self.timeouts,
            self.access,
            edge=self.edge,
            metrics=self.metrics,
            overload=self.overload,
            chunked=self.chunked,
            http2=self.http2,
            host=host,
        )


def http2_for(config: Config, proxies: ProxyTrust) -> Http2 | None:
    """HTTP/2 as configured (None when off); ConfigError naming the extra without `h2`."""
    if not config.http2:
        return None
    require_http2()
    limits = H2Limits(
        max_concurrent_streams=config.http2_max_concurrent_streams,
        max_header_list_size=config.http2_max_header_list_size,
        initial_window_size=config.http2_initial_window_size,
    )
    h2c: Callable[[str | None], bool]
    if config.h2c == "all":
        h2c = _everyone
    elif config.h2c == "none":
        # Said so: "trusted peers only" sent a trusted peer looking for a fault of its own.
        return Http2(limits=limits, h2c=_no_one, h2c_refusal=b"h2c is not accepted (--h2c none)")
    else:
        h2c = proxies.trusts  # the trusted hop (RFC 9113 section 3.3: prior knowledge)
    return Http2(limits=limits, h2c=h2c)


def _everyone(_peer: str | None) -> bool:
    return True


def _no_one(_peer: str | None) -> bool:
    return False


def preflight(config: Config) -> None:
    """Check what a server needs from the file system before one is built: the TLS files
    load, the spool directory is a writable directory, the http2 extra is installed when
    HTTP/2 is on. ConfigError (one line) otherwise.

    For `--check-config`, and for the supervisor before it forks: a bad file is then one
    error with exit status 2, not every worker failing to boot.
    """
    tls_context_for(config)
    _spool_dir(config.spool_dir)
    if config.http2:
        require_http2()
    owner = config.unix_socket_owner
    if owner is not None and os.name == "posix":
        try:
            resolve_owner(owner)  # a user or group this machine does not know
        except OSError as exc:
            raise ConfigError(f"unix_socket_owner: {exc.strerror or exc}") from None


def _spool_dir(directory: str | None) -> str | None:
    """--spool-dir, checked at startup: a missing or read-only directory would otherwise
    fail only at the first large chunked upload, as a 500."""
    if directory is None:
        return None
    if not os.path.isdir(directory):
        raise ConfigError(f"spool_dir: {directory!r} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"spool_dir: {directory!r} is not writable")
    return os.path.abspath(directory)  # --chdir or the app must not change where it is


def _access_sink(
    config: Config, hooks: Hooks | None, on_request: Callable[[RequestRecord], None] | None
) -> Callable[[RequestRecord], None] | None:
    """One callable for every consumer of finished-request records, or None if none."""
    sinks: list[Callable[[RequestRecord], None]] = []
    if config.access_log is not None:
        render = formatter(config.access_log_format)
        sinks.append(lambda record: access_log.info(render(record)))
    if hooks is not None and hooks.on_request_end is not None:
        sinks.append(hooks.request_end)
    if on_request is not None:
        sinks.append(on_request)
    if len(sinks) <= 1:
        return sinks[0] if sinks else None

    def every(record: RequestRecord) -> None:
        for sink in sinks:
            sink(record)

    return every


def connection_limit(configured: int) -> int:
    """--max-connections, lowered to fit the file descriptor limit (RLIMIT_NOFILE).

    Beyond the descriptor limit accept() fails with EMFILE and new clients wait unanswered
    in the backlog; below it they get a 503. So the effective limit is what fits.
    """
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return configured
    # Half of a small limit for the rest (spool files, the app's files and sockets): all 64
    # of a 64 left one connection.
    reserve = min(FD_RESERVE, soft // 2)
    if soft == resource.RLIM_INFINITY or soft - reserve >= configured:
        return configured
    fitted = max(soft - reserve, 1)
    # The default is meant to be fitted; only an explicit value that cannot be met is news,
    # and a limit so low that clients get 503s under any load always is.
    few = fitted < FEW_CONNECTIONS
    if few:
        level = logging.WARNING
    else:
        level = logging.DEBUG if configured == DEFAULTS.max_connections else logging.INFO
    log.log(
        level,
        "max_connections lowered from %d to %d to fit the file descriptor limit (%d)%s",
        configured,
        fitted,
        soft,
        "; raise it (ulimit -n, LimitNOFILE=) or more clients get 503s" if few else "",
    )
    return fitted


# RFC 9110 section 15.6.4: tell an overloaded client to come back later, before reading any
# of its request, and close. The answer is the same whatever it asked for.
_OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 57\r\n"
    b"Connection: close\r\n\r\n"
    b"503 Service Unavailable: too many connections, try later\n"
)
_OVERLOADED_HEAD = _OVERLOADED[: _OVERLOADED.index(b"\r\n\r\n") + 4]


def refuse(sock: socket.socket) -> None:
    """Over --max-connections: answer 503 without parsing, then close without lingering.

    Costs no thread and no poller slot. What the client already sent is read and dropped so
    closing does not reset the connection (a reset could discard the 503 before it is read).
    A HEAD request that has already arrived gets the head alone (RFC 9110 section 9.3.2).
    """
    try:
        sock.setblocking(False)
        try:
            head = sock.recv(5, socket.MSG_PEEK) == b"HEAD "
        except BlockingIOError:
            head = False  # nothing sent yet: the usual answer
        sock.send(_OVERLOADED_HEAD if head else _OVERLOADED)
        sock.shutdown(socket.SHUT_WR)
        for _ in range(4):  # bounded: a flood must not keep the accepting thread here
            if not sock.recv(65536):
                break
    except OSError:
        pass  # BlockingIOError (nothing more sent yet), or the client is gone already
    finally:
        sock.close()


def bind_listener(config: Config, text: str) -> tuple[BindAddress, socket.socket]:
    """Bind and listen on one --bind address with the configured socket options."""
    address = parse_bind(text)
    sock = create_listener(
        address,
        config.backlog,
        reuse_port=config.reuse_port,
        unix_mode=config.unix_socket_mode,
        unix_owner=config.unix_socket_owner,
    )
    return address, sock


def tls_context_for(config: Config) -> ssl.SSLContext | None:
    """The server's TLS context, or None without --certfile; ConfigError names a bad file."""
    if config.certfile is None:
        return None
    return server_context(
        config.certfile,
        config.keyfile,
        config.keyfile_password,
        ca_certs=config.ca_certs,
        verify_client=config.verify_client,
        min_version=config.tls_min_version,
        http2=config.http2,
    )
