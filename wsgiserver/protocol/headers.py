"""Field lines and the framing fields: RFC 9110 section 5 and 8.6, RFC 9112 section 5 and 6.

Owns: turning field lines into (name, value) pairs and reading the fields that decide message
framing (Content-Length, Transfer-Encoding) and connection handling (Connection, Expect).
Must not: know about requests as a whole; `head.py` combines these answers.
"""

from __future__ import annotations

from wsgiserver.errors import (
    BadRequest,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    UnsupportedTransferCoding,
)
from wsgiserver.protocol import grammar
from wsgiserver.protocol.limits import Limits

Fields = list[tuple[bytes, bytes]]


def parse_field_lines(lines: list[bytes], limits: Limits) -> Fields:
    """Parse field lines already split on CRLF (no bare CR or LF left in them).

    Raises 431 for too many or too long lines, 400 for anything not a field-line.
    """
    if len(lines) > limits.max_header_count:
        raise HeaderFieldsTooLarge(f"more than {limits.max_header_count} header fields")
    fields: Fields = []
    append = fields.append
    fullmatch = grammar.FIELD_LINE.fullmatch
    max_field = limits.max_header_field
    for line in lines:
        if len(line) > max_field:
            raise HeaderFieldsTooLarge(f"a header field is longer than {max_field} bytes")
        match = fullmatch(line)
        if match is None:
            raise BadRequest(_why_not_a_field_line(line))
        name, value = match.groups()
        append((name.lower(), value.rstrip(b" \t")))
    return fields


def _why_not_a_field_line(line: bytes) -> str:
    # Only on the error path: name the rule that was broken, for the log and the client.
    if line[:1] in (b" ", b"\t"):
        # RFC 9112 section 5.2: obs-fold is rejected (a server MAY reject with 400).
        return "obsolete line folding is not allowed"
    name, colon, _ = line.partition(b":")
    if not colon:
        return "header field without a colon"
    if name[-1:] in (b" ", b"\t"):
        # RFC 9112 section 5.1: no whitespace between field name and colon; MUST reject.
        return "whitespace before the colon of a header field"
    if grammar.TOKEN_RE.fullmatch(name) is None:
        return "invalid header field name"
    return "invalid character in a header field value"


def comma_list(values: list[bytes]) -> list[bytes]:
    """Split `#element` lists (RFC 9110 section 5.6.1), dropping empty elements."""
    items: list[bytes] = []
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t")
            if item:
                items.append(item)
    return items


def parse_content_length(values: list[bytes]) -> int:
    """RFC 9110 section 8.6: digits only; a list is allowed only if every member is equal."""
    members = [item.strip(b" \t") for value in values for item in value.split(b",")]
    first = members[0]
    for member in members:
        if member != first:
            raise BadRequest("conflicting Content-Length values")
    if grammar.DIGITS.fullmatch(first) is None:
        raise BadRequest("Content-Length is not a non-negative decimal integer")
    if len(first.lstrip(b"0")) > grammar.MAX_CONTENT_LENGTH_DIGITS:
        raise BadRequest("Content-Length is too large")
    # Safe: `first` is ASCII digits only, so int() cannot accept signs, '_' or spaces.
    return int(first)


def is_chunked(values: list[bytes]) -> bool:
    """RFC 9112 section 6.1 and 6.3: the only coding we accept is a single final `chunked`.

    `chunked` not last (or absent) makes the length undeterminable: 400 (a MUST). A final
    `chunked` after other codings we do not implement: 501 (a SHOULD).
    """
    codings = [item.lower() for item in comma_list(values)]
    if not codings:
        raise BadRequest("empty Transfer-Encoding")
    for coding in codings:
        # A coding may carry parameters (RFC 9110 section 10.1.4 t-codings); keep the name.
        name = coding.split(b";", 1)[0].rstrip(b" \t")
        if grammar.TOKEN_RE.fullmatch(name) is None:
            raise BadRequest("invalid transfer coding")
    if codings[-1] != b"chunked":
        raise BadRequest("chunked is not the final transfer coding")
    if codings.count(b"chunked") > 1:
        raise BadRequest("chunked is applied more than once")
    if len(codings) > 1:
        raise UnsupportedTransferCoding("transfer codings other than chunked are not supported")
    return True


def expects_continue(values: list[bytes]) -> bool:
    """RFC 9110 section 10.1.1: `100-continue` is the only expectation; others get 417."""
    expectations = comma_list(values)
    for expectation in expectations:
        if expectation.lower() != b"100-continue":
            raise ExpectationFailed("only the 100-continue expectation is supported")
    return bool(expectations)
