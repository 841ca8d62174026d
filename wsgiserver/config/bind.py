"""The `--bind` address syntax: `HOST:PORT`, `[IPv6]:PORT`, `unix:PATH` and `fd://N`.

Owns: parsing one address into a `BindAddress` (with errors fit for a user) and describing
bound addresses for log lines. Must not: create sockets (`wsgiserver.server.listeners` does).
"""

from __future__ import annotations

from dataclasses import dataclass


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


def parse_bind(text: str) -> BindAddress:
    """Parse one --bind value. Raises ValueError with a message fit for a user."""
    if text.startswith("fd://"):
        number = text[5:]
        if not number.isascii() or not number.isdigit():
            raise ValueError(f"{text!r}: expected fd://N with N an open file descriptor number")
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
            raise ValueError(f"{text!r}: expected HOST:PORT, [IPv6]:PORT or unix:PATH")
        if ":" in host:
            raise ValueError(f"{text!r}: put an IPv6 address in brackets, like [::1]:8000")
    if not port_text.isascii() or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    return BindAddress(host=host or "0.0.0.0", port=int(port_text))
