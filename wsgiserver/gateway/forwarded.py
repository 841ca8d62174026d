"""The real client behind proxies, in one place: RFC 7239 `Forwarded` and `X-Forwarded-*`.

Owns: which peers are trusted proxies (`--forwarded-allow-ips`), and rewriting the environ
(REMOTE_ADDR, REMOTE_PORT, wsgi.url_scheme, HTTP_HOST, SERVER_NAME, SERVER_PORT, SCRIPT_NAME)
from the forwarding fields a trusted peer sent. Must not: touch sockets (the gateway calls
`ProxyTrust.apply` with the environ it built and the peer address the transport gave it).

Rules:
- Only a trusted peer's forwarding fields are used; a unix-socket peer is trusted (local).
  Untrusted peers' fields are ignored, and removed from the environ with `strip=True`.
- `Forwarded` wins over `X-Forwarded-*` when both are present.
- The client is found walking the `for` chain right to left and skipping trusted proxies, so
  a client cannot spoof its address by prepending entries: every entry left of the first
  untrusted one is the client's own claim. The proto/host of `Forwarded` come from the same
  element; `X-Forwarded-Proto/-Host/-Port/-Prefix` use their last (nearest proxy's) value.
- Invalid values are ignored, never half-applied: a malformed `Forwarded` is dropped whole.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = "127.0.0.1,::1"
FORWARD_KEYS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_CACHE_SIZE = 1024
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::([0-9]{1,5}))?")
_PORT = re.compile(r"[0-9]{1,5}")
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")
_PREFIX = re.compile(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*")
# RFC 7239 section 4: element = pair *( ";" pair ); pair = token "=" ( token / quoted-string ).
_PAIR = re.compile(
    r'[ \t]*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)=("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z:\[\]-]*)'
    r"[ \t]*([;,]|$)"
)


def parse_allow_ips(spec: str) -> tuple[bool, tuple[IPNetwork, ...]]:
    """`"127.0.0.1,::1,10.0.0.0/8"` -> (trust_all, networks). Raises ValueError."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if "*" in items:
        return True, ()
    networks: list[IPNetwork] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return False, tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ProxyTrust:
    """Decides which peers are proxies and applies their forwarding fields to an environ."""

    __slots__ = ("_all", "_cache", "_networks", "strip")

    def __init__(self, allow: str = DEFAULT_ALLOW, *, strip: bool = False) -> None:
        self._all, self._networks = parse_allow_ips(allow)
        self.strip = strip
        self._cache: dict[str, bool] = {}

    def trusts(self, host: str | None) -> bool:
        """Is `host` (an IP string; None for a unix-socket peer) a trusted proxy?"""
        if host is None or self._all:
            return True
        cached = self._cache.get(host)
        if cached is None:
            address = _ip(host)
            cached = address is not None and any(address in net for net in self._networks)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[host] = cached
        return cached

    def apply(self, environ: dict[str, Any], remote: tuple[str, int] | None) -> None:
        """Rewrite `environ` from the forwarding fields, if `remote` is a trusted proxy."""
        if not self.trusts(remote[0] if remote is not None else None):
            if self.strip:
                for key in FORWARD_KEYS:
                    environ.pop(key, None)
            return
        forwarded = environ.get("HTTP_FORWARDED")
        if forwarded is not None:
            self._apply_forwarded(environ, forwarded)
        elif (
            "HTTP_X_FORWARDED_FOR" in environ
            or "HTTP_X_FORWARDED_PROTO" in environ
            or "HTTP_X_FORWARDED_HOST" in environ
            or "HTTP_X_FORWARDED_PORT" in environ
            or "HTTP_X_FORWARDED_PREFIX" in environ
        ):
            self._apply_x_forwarded(environ)

    # -- RFC 7239 -------------------------------------------------------------------------

    def _apply_forwarded(self, environ: dict[str, Any], value: str) -> None:
        elements = parse_forwarded(value)
        if not elements:
            return
        chosen = elements[0]
        for element in reversed(elements):
            chosen = element
            node = parse_node(element.get("for", ""), obfuscated=True)
            if node is None or not self.trusts(node[0]):
                break
        node = parse_node(chosen["for"], obfuscated=True) if "for" in chosen else None
        proto = chosen.get("proto")
        host = chosen.get("host")
        if node is not None:
            _set_client(environ, node)
        set_public(environ, proto, host, None, None)

    # -- X-Forwarded-* --------------------------------------------------------------------

    def _apply_x_forwarded(self, environ: dict[str, Any]) -> None:
        chain = environ.get("HTTP_X_FORWARDED_FOR")
        if chain is not None:
            entries = [item.strip() for item in chain.split(",")]
            for index in range(len(entries) - 1, -1, -1):
                node = parse_node(entries[index], obfuscated=False)
                if node is None:
                    break  # garbage where an address should be: keep the peer's address
                if index == 0 or not self.trusts(node[0]):
                    _set_client(environ, node)
                    break
        set_public(
            environ,
            _last(environ.get("HTTP_X_FORWARDED_PROTO")),
            _last(environ.get("HTTP_X_FORWARDED_HOST")),
            _last(environ.get("HTTP_X_FORWARDED_PORT")),
            _last(environ.get("HTTP_X_FORWARDED_PREFIX")),
        )


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """RFC 7239 `Forwarded` -> one dict per element (lower-case keys); [] if malformed."""
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _PAIR.match(value, position)
        if match is None:
            return []
        key, raw, separator = match.group(1).lower(), match.group(2), match.group(3)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key in current:
            return []  # section 4: a parameter must not occur more than once per element
        current[key] = raw
        position = match.end()
        if separator != ";":
            elements.append(current)
            current = {}
            while position < len(value) and value[position] in " \t,":
                position += 1
    if current:
        elements.append(current)
    return elements


def parse_node(text: str, *, obfuscated: bool) -> tuple[str, str | None] | None:
    """A node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:4711`, `2001:db8::1`, and with
    `obfuscated` also `unknown` and `_hidden`) -> (address, port or None); None if invalid."""
    if not text:
        return None
    port: str | None = None
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
        if _ip(address) is None or ":" not in address:
            return None
    elif text.count(":") == 1:
        address, _, port = text.partition(":")
    else:
        address = text
    if port is not None and not _valid_port(port, obfuscated):
        return None
    if _ip(address) is not None:
        return address, port
    if obfuscated and (address == "unknown" or _OBFUSCATED.fullmatch(address)):
        return address, port
    return None


def _valid_port(port: str, obfuscated: bool) -> bool:
    if _PORT.fullmatch(port):
        return int(port) <= 65535
    return obfuscated and _OBFUSCATED.fullmatch(port) is not None


def _last(value: str | None) -> str | None:
    if value is None:
        return None
    return value.rpartition(",")[2].strip() or None


def _set_client(environ: dict[str, Any], node: tuple[str, str | None]) -> None:
    address, port = node
    environ["REMOTE_ADDR"] = address
    if port is not None and port.isdigit():
        environ["REMOTE_PORT"] = port
    else:
        environ.pop("REMOTE_PORT", None)  # the proxy's port would describe the wrong socket


def set_public(
    environ: dict[str, Any],
    proto: str | None,
    host: str | None,
    port: str | None,
    prefix: str | None,
) -> None:
    """Apply the public scheme, host, port and path prefix; invalid values are ignored.
    SERVER_NAME and SERVER_PORT then follow (also for the scheme of a trusted proxy's
    absolute-form target, `environ.py`)."""
    changed = False
    if proto is not None and proto.lower() in _DEFAULT_PORTS:
        environ["wsgi.url_scheme"] = proto.lower()
        changed = True
    if host is not None and _HOST.fullmatch(host):
        environ["HTTP_HOST"] = host
        changed = True
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        port = None
    if prefix is not None and _PREFIX.fullmatch(prefix):
        prefix = prefix.rstrip("/")
        if prefix:
            environ["SCRIPT_NAME"] = prefix + environ.get("SCRIPT_NAME", "")
    if not changed and port is None:
        return
    # SERVER_NAME and SERVER_PORT describe the public URL, so they follow the final Host.
    scheme = environ["wsgi.url_scheme"]
    name, host_port = environ.get("SERVER_NAME", ""), None
    current = environ.get("HTTP_HOST")
    if current is not None:
        match = _HOST.fullmatch(current)
        if match is not None:
            name, host_port = match.group(1).strip("[]"), match.group(2)
    environ["SERVER_NAME"] = name
    environ["SERVER_PORT"] = port or host_port or _DEFAULT_PORTS.get(scheme, "80")
