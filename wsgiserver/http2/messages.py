"""HTTP/2 messages as header blocks: a stream's request in, a response's fields out.

Owns: validating a request's decoded header block (RFC 9113 section 8.2 and 8.3: field names
and values, pseudo-header fields, connection-specific fields, the request target) and turning
it into the `protocol.Request` the gateway builds environs from, with the same size limits
as an HTTP/1.1 head; and the header block of a response or an interim response. Must not:
import `h2` or keep state: a malformed request raises the `ProtocolError` its answer needs
(the caller answers it on the stream, RFC 9113 section 8.1.1).
"""

from __future__ import annotations

import re

from wsgiserver.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    NotSupported,
    URITooLong,
)
from wsgiserver.protocol import grammar
from wsgiserver.protocol.events import Request
from wsgiserver.protocol.headers import expects_continue, parse_content_length
from wsgiserver.protocol.limits import Limits
from wsgiserver.protocol.readers import check_trailer_field
from wsgiserver.protocol.writers import ResponseFields

Header = tuple[bytes, bytes]

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
# RFC 9113 section 8.2.1: a field name is a token in lower case.
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
# RFC 9110 section 5.5, as the HTTP/1.1 parser reads it (no control but HTAB), and RFC 9113
# section 8.2.1: no leading or trailing whitespace.
_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")
_TARGET = re.compile(rb"/[\x21-\x22\x24-\x7e]*")  # origin-form without "#" (RFC 9112 3.2.1)
# RFC 9113 section 8.2.2: fields that only mean something to a single HTTP/1.1 connection.
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path"))
FIELD_OVERHEAD = 32  # RFC 9113 section 6.5.2: each field counts 32 bytes beyond its text


def request_from_headers(headers: list[Header], limits: Limits, list_limit: int) -> Request:
    """The `Request` of a stream's header block (names lower-case as h2 decoded them).

    Raises 431 for a list over `list_limit` (RFC 9113 section 6.5.2 size), more fields than
    `limits.max_header_count` or one longer than `limits.max_header_field`; 414 for a :path
    over `limits.max_request_line`; 501 for CONNECT; 413 for a Content-Length over
    `limits.max_body_size`; 417 for an expectation other than 100-continue; and 400 for
    anything RFC 9113 calls malformed.
    """
    size = 0
    for name, value in headers:
        size += len(name) + len(value) + FIELD_OVERHEAD
    if size > list_limit:
        raise HeaderFieldsTooLarge(f"header list larger than {list_limit} bytes")
    pseudo: dict[bytes, bytes] = {}
    fields: list[Header] = []
    max_field = limits.max_header_field
    for name, value in headers:
        if name[:1] == b":":
            if fields:
                raise BadRequest("pseudo-header field after a regular field")
            if name not in _PSEUDO:
                raise BadRequest(f"unknown pseudo-header field {_shown(name)}")
            if name in pseudo:
                raise BadRequest(f"repeated pseudo-header field {_shown(name)}")
            pseudo[name] = value
            continue
        _check_field(name, value, max_field)
        if name == b"te" and value.lower() != b"trailers":
            raise BadRequest("TE other than trailers")
        fields.append((name, value))
    if len(fields) > limits.max_header_count:
        raise HeaderFieldsTooLarge(f"more than {limits.max_header_count} header fields")

    method = pseudo.get(b":method")
    if method is None or grammar.TOKEN_RE.fullmatch(method) is None:
        raise BadRequest("missing or invalid :method")
    if method == b"CONNECT":
        raise NotSupported("CONNECT is not supported over HTTP/2")
    target = pseudo.get(b":path")
    scheme = pseudo.get(b":scheme")
    if target is None or scheme is None:
        raise BadRequest("missing :path or :scheme")
    if len(target) > limits.max_request_line:
        raise URITooLong(f":path longer than {limits.max_request_line} bytes")
    if target == b"*":
        if method != b"OPTIONS":
            raise BadRequest("asterisk-form :path is only for OPTIONS")
    elif _TARGET.fullmatch(target) is None:
        raise BadRequest("invalid :path")
    scheme = scheme.lower()
    if scheme not in (b"http", b"https"):
        raise BadRequest(":scheme other than http or https")

    host = _authority(pseudo.get(b":authority"), [v for n, v in fields if n == b"host"])
    lengths = [v for n, v in fields if n == b"content-length"]
    content_length = parse_content_length(lengths) if lengths else None
    expect = [v for n, v in fields if n == b"expect"]
    path, _, query = target.partition(b"?")
    return Request(
        _METHODS.get(method) or method.decode("ascii"),
        target,
        path,
        query,
        "2",
        fields,
        host,
        content_length or None,
        False,
        True,
        bool(expect) and expects_continue(expect),
        scheme.decode("ascii"),
    )


def check_trailers(headers: list[Header], limits: Limits) -> None:
    """A request's trailer section (RFC 9113 section 8.1): field lines as in the header
    section, and no pseudo-header field. Raises the `ProtocolError` of the first fault (the
    caller resets the stream: a malformed request, section 8.1.1); the fields are dropped,
    as HTTP/1.1 trailers are."""
    if len(headers) > limits.max_header_count:
        raise HeaderFieldsTooLarge(f"more than {limits.max_header_count} trailer fields")
    for name, value in headers:
        if name[:1] == b":":
            raise BadRequest(f"pseudo-header field {_shown(name)} in trailers")
        _check_field(name, value, limits.max_header_field)
        check_trailer_field(name)  # as over HTTP/1.1 (RFC 9110 section 6.5.1)


def _check_field(name: bytes, value: bytes, max_field: int) -> None:
    """One field line of a header or trailer section (RFC 9113 section 8.2)."""
    if len(name) + len(value) + 2 > max_field:
        raise HeaderFieldsTooLarge(f"a header field is longer than {max_field} bytes")
    if _NAME.fullmatch(name) is None:
        raise BadRequest("invalid header field name")
    if _VALUE.fullmatch(value) is None:
        raise BadRequest("invalid character in a header field value")
    if name in _CONNECTION_SPECIFIC:
        raise BadRequest(f"connection-specific header field {_shown(name)}")


def _authority(authority: bytes | None, hosts: list[bytes]) -> bytes:
    """RFC 9113 section 8.3.1: :authority, or else the Host field; they must agree."""
    if len(hosts) > 1:
        raise BadRequest("more than one Host header")
    host = hosts[0] if hosts else None
    if authority is not None:
        if b"@" in authority:
            raise BadRequest("userinfo in :authority")  # RFC 9113 section 8.3.1: MUST NOT
        if host is not None and host.lower() != authority.lower():
            raise BadRequest("Host differs from :authority")
        host = authority
    if not host or grammar.HOST.fullmatch(host) is None:
        raise BadRequest("missing or invalid :authority")
    return host


def _shown(name: bytes) -> str:
    return name.decode("ascii", "backslashreplace")[:64]


def response_headers(
    fields: ResponseFields, extra: str, content_length: int | None
) -> list[Header]:
    """The header block of a response: :status, the server's fields (`extra`: Date,
    Server, a request id, each "Name: value\\r\\n"), the app's, and Content-Length.

    Names go out in lower case (RFC 9113 section 8.2.1). Connection-specific fields are left
    out (section 8.2.2): the gateway refused the hop-by-hop ones already, which leaves only
    Proxy-Connection, meaningless here.
    """
    block = [(b":status", b"%d" % fields.code)]
    _add_lines(block, extra)
    _add_lines(block, fields.lines)
    if content_length is not None:
        block.append((b"content-length", b"%d" % content_length))
    return block


def informational_headers(fields: ResponseFields) -> list[Header]:
    """The header block of an interim response (103 Early Hints)."""
    block = [(b":status", b"%d" % fields.code)]
    _add_lines(block, fields.lines)
    return block


def _add_lines(block: list[Header], lines: str) -> None:
    # `lines` come from prepare_fields or the server itself: "Name: value\r\n" each, names
    # tokens (no ":"), values checked and latin-1.
    for line in lines.split("\r\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        key = name.lower().encode("ascii")
        if key in _CONNECTION_SPECIFIC:
            continue
        block.append((key, value.strip(" \t").encode("latin-1")))
