"""The `--bind` address syntax: `HOST:PORT`, `[IPv6]:PORT`, `unix:PATH` and `fd://N`.

Owns: parsing one address into a `BindAddress` (with errors fit for a user) and describing
bound addresses for log lines. Must not: create sockets (`wsgiserver.server.listeners` does).
"""

from __future__ import annotations

from dataclasses import dataclass

from wsgiserver.config.conversions import is_whole_number


@dataclass(frozen=True, slots=True)
class BindAddress:
    """A parsed bind address: TCP (`host`, `port`), a unix socket `path`, or an inherited `fd`."""

    host: str = ""
    port: int = 0
    path: str | None = None
    fd: int | None = None

    def __str__(self) -> str:
        if self.fd is not None:
            return f"fd://{self.fd}"
        if self.path is not None:
            return f"unix:{self.path}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def describe(addresses: list[BindAddress], *, tls: bool) -> str:
    """The listening addresses for the "serving on" log line: URLs for TCP."""
    scheme = "https" if tls else "http"
    return ", ".join(f"{scheme}://{a}" if a.path is None else str(a) for a in addresses)


_FORMS = "HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N"
# A file descriptor is a C int: a larger N is no descriptor at all, and socket.socket(fileno=)
# raised ValueError or OverflowError for it instead of the "Bad file descriptor" it means.
MAX_FD = 2**31 - 1
# A URL's scheme and the port it implies, for the address to suggest instead of the URL.
_URL_PORTS = {"http": 80, "https": 443}


def parse_bind(text: str) -> BindAddress:
    """Parse one --bind value. Raises ValueError with a message fit for a user."""
    scheme, separator, rest = text.partition("://")
    if separator and scheme != "fd":
        raise ValueError(_url_given(text, scheme, rest))
    if text.startswith("fd://"):
        number = text[5:]
        if not is_whole_number(number):
            raise ValueError(f"{text!r}: expected fd://N with N an open file descriptor number")
        if int(number) > MAX_FD:
            raise ValueError(f"{text!r}: a file descriptor number is at most {MAX_FD}")
        return BindAddress(fd=int(number))
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError(f"{text!r}: a unix socket needs a path (unix:/run/app.sock)")
        return BindAddress(path=path)
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host or not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueError(f"{text!r}: expected {_FORMS}")
        if ":" in host:
            raise ValueError(f"{text!r}: put an IPv6 address in brackets, like [::1]:8000")
    if not is_whole_number(port_text) or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    if not host:
        # ":8000" bound every interface (0.0.0.0), which the syntax, HOST:PORT, never said:
        # exposing a server to the network is written out.
        raise ValueError(
            f"{text!r}: the host is missing: write 127.0.0.1:{port_text} (this machine "
            f"only) or 0.0.0.0:{port_text} (every interface)"
        )
    return BindAddress(host=host, port=int(port_text))


def _url_given(text: str, scheme: str, rest: str) -> str:
    """What to write instead of a URL: the address alone (the scheme is not part of it)."""
    if scheme.lower() == "unix":
        return f"{text!r} is a URL; write a unix socket as unix:PATH, e.g. unix:{rest or '/PATH'}"
    message = f"{text!r} is a URL, not an address: write the address without the scheme"
    authority = rest.partition("/")[0].partition("?")[0].rpartition("@")[2]
    port = _URL_PORTS.get(scheme.lower())
    candidates = [authority, f"{authority}:{port}"] if port else [authority]
    suggestion = next((c for c in candidates if authority and _is_address(c)), None)
    message += f", e.g. {suggestion}" if suggestion else f": {_FORMS}"
    if scheme.lower() == "https":
        message += " (HTTPS is enabled by --certfile, not by the address)"
    return message


def _is_address(text: str) -> bool:
    try:
        parse_bind(text)
    except ValueError:
        return False
    return True
