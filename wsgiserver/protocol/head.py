"""The request head as a whole: request line, target form, Host, and framing (RFC 9112 2-6).

Owns: turning one complete head (request line and field lines, each ending in CRLF, and the
empty line that ends the head) into a validated `Request`. Must not: buffer bytes or track
connection state.
"""

from __future__ import annotations

from wsgiserver.errors import (
    BadRequest,
    HTTPVersionNotSupported,
    URITooLong,
)
from wsgiserver.protocol import grammar
from wsgiserver.protocol.events import Request
from wsgiserver.protocol.headers import (
    Fields,
    comma_list,
    expects_continue,
    is_chunked,
    parse_content_length,
    parse_field_lines,
)
from wsgiserver.protocol.limits import Limits

# RFC 8446 section 5.1: a TLS record starts with its content type, 22 for a handshake; no
# method (a token) starts with that byte, so it is an HTTPS client on a plain HTTP port.
TLS_HANDSHAKE = 0x16
TLS_ON_PLAIN_PORT = "this port speaks plain HTTP, not HTTPS (TLS); use an http:// URL"

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
# Fields whose values decide framing or routing; everything else is passed through untouched.
_SPECIAL = frozenset((b"content-length", b"transfer-encoding", b"host", b"connection", b"expect"))


def parse_request_head(head: bytes, limits: Limits) -> Request:
    """Validate and parse a complete head: the request line and field lines, each ending in
    CRLF, and the empty line that ends the head. `head` must not contain a bare CR or LF
    (checked by the caller)."""
    parsed = _parse_common(head, limits)
    if parsed is None:
        parsed = _parse_any(head, limits)
    method, target, version, fields, (scheme, host, path, query) = parsed

    special: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        if name in _SPECIAL:
            special.setdefault(name, []).append(value)

    hosts = special.get(b"host")
    if version == "1.1" and hosts is None:
        raise BadRequest("missing Host header")  # RFC 9112 section 3.2: MUST answer 400
    if hosts is not None:
        if len(hosts) > 1:
            raise BadRequest("more than one Host header")  # RFC 9112 section 3.2
        if grammar.HOST.fullmatch(hosts[0]) is None:
            raise BadRequest("invalid Host header")
        if host is None:
            host = hosts[0]

    content_length: int | None = None
    chunked = False
    transfer_encoding = special.get(b"transfer-encoding")
    if transfer_encoding is not None:
        if version == "1.0":
            # RFC 9112 section 6.1: framing of an HTTP/1.0 message with TE is faulty.
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
        if b"content-length" in special:
            # RFC 9112 section 6.3 item 3: a classic request smuggling vector; refuse it.
            raise BadRequest("both Content-Length and Transfer-Encoding")
        chunked = is_chunked(transfer_encoding)
    elif b"content-length" in special:
        content_length = parse_content_length(special[b"content-length"])
        if content_length == 0:
            content_length = None

    connection_values = special.get(b"connection")
    if connection_values is None:
        keep_alive = version == "1.1"  # RFC 9112 section 9.3: persistence is the default
    else:
        connection = [token.lower() for token in comma_list(connection_values)]
        if version == "1.1":
            keep_alive = b"close" not in connection
        else:
            keep_alive = b"keep-alive" in connection and b"close" not in connection

    expect = special.get(b"expect")
    # RFC 9110 section 10.1.1: a 100-continue expectation in HTTP/1.0 MUST be ignored.
    expect_continue = expect is not None and expects_continue(expect) and version == "1.1"

    # Positional, in field order: keywords cost more than the rest of this function's tail.
    return Request(
        _METHODS.get(method) or method.decode("ascii"),
        target,
        path,
        query,
        version,
        fields,
        host,
        content_length,
        chunked,
        keep_alive,
        expect_continue and (chunked or content_length is not None),
        scheme,
    )


# (method, target, HTTP version, fields, (scheme, authority, path, query))
_Parsed = tuple[bytes, bytes, str, Fields, tuple[str | None, bytes | None, bytes, bytes]]


def _parse_common(head: bytes, limits: Limits) -> _Parsed | None:
    """The common case at a fraction of the cost: a known method, an origin-form target and
    every field line valid and within the limits, each checked with one regular expression
    over the whole head. None means "not that simple": `_parse_any` then gives the answer,
    including which error applies, so both paths accept and refuse exactly the same heads."""
    match = grammar.COMMON_REQUEST_LINE.match(head)
    end = len(head) - 2  # the final empty line
    if (
        match is None
        or match.end() - 2 > limits.max_request_line
        or end > limits.max_header_field  # so no single field line can be too long
        or grammar.FIELD_LINES.fullmatch(head, match.end(), end) is None
    ):
        return None
    method, target, minor = match.groups()
    lines = grammar.FIELD_LINE_PARTS.findall(head, match.end(), end)
    if len(lines) > limits.max_header_count:
        return None
    fields = [(name.lower(), value.rstrip(b" \t")) for name, value in lines]
    path, _, query = target.partition(b"?")  # origin-form, without "#" (the pattern says so)
    return method, target, "1.0" if minor == b"0" else "1.1", fields, (None, None, path, query)


def _parse_any(head: bytes, limits: Limits) -> _Parsed:
    """Any head, line by line; raises the error the first broken rule calls for."""
    lines = head.split(b"\r\n")
    del lines[-2:]  # the empty line that ends the head, and the nothing after its CRLF
    request_line = lines[0]
    if len(request_line) > limits.max_request_line:
        raise URITooLong(f"request line longer than {limits.max_request_line} bytes")
    method, target, version = parse_request_line(request_line)
    fields = parse_field_lines(lines[1:], limits)
    return method, target, version, fields, _parse_target(method, target)


def parse_request_line(line: bytes) -> tuple[bytes, bytes, str]:
    """RFC 9112 section 3: (method, target, "1.0" or "1.1") of a line without its CRLF, or
    the error that refuses it (400, or 505 for another major version)."""
    match = grammar.REQUEST_LINE.fullmatch(line)
    if match is None:
        other = grammar.ANY_VERSION_LINE.fullmatch(line)
        if other is not None and other.group(3) != b"1":
            raise HTTPVersionNotSupported(f"HTTP/{other.group(3).decode()}.x is not supported")
        raise invalid_request_line(line)
    method, target, major, minor = match.groups()
    if major != b"1":
        raise HTTPVersionNotSupported(f"HTTP/{major.decode()}.x is not supported")
    # RFC 9110 section 6.2: a higher minor version is answered as the highest we support.
    return method, target, "1.0" if minor == b"0" else "1.1"


def invalid_request_line(line: bytes | bytearray) -> BadRequest:
    """The 400 for bytes that are no request line; it says so when they start a TLS handshake."""
    if line[:1] == bytes((TLS_HANDSHAKE,)):
        return BadRequest(TLS_ON_PLAIN_PORT)
    return BadRequest("invalid request line")


def _parse_target(method: bytes, target: bytes) -> tuple[str | None, bytes | None, bytes, bytes]:
    """RFC 9112 section 3.2: return (scheme, authority, path, query) for the four forms."""
    if method == b"CONNECT":
        if grammar.AUTHORITY_FORM.fullmatch(target) is None:
            raise BadRequest("CONNECT needs an authority-form target (host:port)")
        return None, target, b"", b""
    first = target[:1]
    if first == b"/":
        if b"#" in target:
            raise BadRequest("fragment in request target")
        path, _, query = target.partition(b"?")
        return None, None, path, query
    if target == b"*":
        if method != b"OPTIONS":
            raise BadRequest("asterisk-form target is only for OPTIONS")
        return None, None, b"*", b""
    match = grammar.ABSOLUTE_FORM.fullmatch(target)
    if match is None:
        raise BadRequest("invalid request target")
    scheme, authority, rest = match.groups()
    scheme = scheme.lower()
    if scheme not in (b"http", b"https"):
        raise BadRequest("absolute-form target with a scheme other than http or https")
    if b"@" in authority:
        # RFC 9110 section 4.2.4: userinfo in an http(s) URI is treated as an error.
        raise BadRequest("userinfo in request target")
    if not authority or grammar.HOST.fullmatch(authority) is None:
        raise BadRequest("invalid authority in request target")
    if not rest and method == b"OPTIONS":
        # RFC 9112 section 3.2.4: OPTIONS with an absolute-form target that has neither
        # path nor query is the server-wide request a proxy would forward as "OPTIONS *".
        return scheme.decode("ascii"), authority, b"*", b""
    path, _, query = rest.partition(b"?")
    return scheme.decode("ascii"), authority, path or b"/", query
