"""Compiled patterns for the RFC 9110 / RFC 9112 grammar, over bytes.

Owns: the ABNF as regular expressions, in one place. Must not: decode to str; every pattern
works on the wire bytes so no Unicode-aware method (strip, lower, splitlines, int on str) can
widen what we accept.
"""

from __future__ import annotations

import re

# RFC 9110 section 5.6.2: tchar and token.
TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
TOKEN = TCHAR + rb"+"
TOKEN_RE = re.compile(TOKEN)


def is_token(text: str) -> bool:
    """Whether `text` (a header name from an app or an option) is an RFC 9110 token.

    Matched as ASCII bytes with the wire pattern: one definition of a token for the whole
    server, and no Unicode-aware matching (a str regex's \\w or case folding) can widen it.
    """
    return text.isascii() and TOKEN_RE.fullmatch(text.encode("ascii")) is not None


# RFC 9112 section 3: request-line = method SP request-target SP HTTP-version.
# The target is any run of VCHAR here; its form is checked separately (section 3.2).
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# The same shape with any version-looking word: tells 505 (unsupported) from 400 (garbage).
# A leading zero ("HTTP/01.1") is no version number at all: 400.
ANY_VERSION_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21-\x7e]+) HTTP/([1-9][0-9]*)\.[0-9]+")

# A request line still arriving (RFC 9112 section 3): what may follow a prefix that can still
# become a valid request line, by where that prefix ends. A byte that none of these matches,
# other than the CR or LF that ends the line, means no request line starts so: the connection
# can be answered 400 at once instead of waiting out the head timeout.
_VCHAR = rb"[\x21-\x7e]"
_AFTER_METHOD = rb"(?: (?:" + _VCHAR + rb"+(?: " + _VCHAR + rb"*)?)?)?"
LINE_START, IN_METHOD, TARGET_START, IN_TARGET, IN_VERSION = range(5)
REQUEST_LINE_REST = (
    re.compile(rb"(?:" + TOKEN + _AFTER_METHOD + rb")?"),  # LINE_START: nothing yet
    re.compile(TCHAR + rb"*" + _AFTER_METHOD),  # IN_METHOD
    re.compile(rb"(?:" + _VCHAR + rb"+(?: " + _VCHAR + rb"*)?)?"),  # TARGET_START: after SP
    re.compile(_VCHAR + rb"*(?: " + _VCHAR + rb"*)?"),  # IN_TARGET
    re.compile(_VCHAR + rb"*"),  # IN_VERSION: after the second SP
)

# The request line most requests have: a registered method, an origin-form target and
# HTTP/1.0 or 1.1, with its CRLF (the fast path of head.py; anything else takes the full one).
COMMON_REQUEST_LINE = re.compile(
    rb"(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) (/[\x21-\x22\x24-\x7e]*) HTTP/1\.([01])\r\n"
)

# RFC 9112 section 5: field-line = field-name ":" OWS field-value OWS. Values are
# VCHAR / obs-text with interior SP and HTAB; no other control characters (RFC 9110 5.5).
FIELD_LINE = re.compile(rb"(" + TOKEN + rb"):[ \t]*([\t\x20-\x7e\x80-\xff]*)")
# Every field line of a head at once, each ending in CRLF; and, once they are known to be
# valid, each line's name and value (trailing whitespace is stripped by the caller).
FIELD_LINES = re.compile(rb"(?:" + TOKEN + rb":[\t\x20-\x7e\x80-\xff]*\r\n)*")
FIELD_LINE_PARTS = re.compile(rb"([^:]+):[ \t]*([^\r]*)\r\n")

# RFC 9112 section 7.1: chunk-size [ chunk-ext ], with
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*"
    + TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + TOKEN
    + rb"|"
    + QUOTED_STRING
    + rb"))?)*)"
)
MAX_CHUNK_SIZE_DIGITS = 16  # significant digits: 2**64 - 1 at most; more is an attack
# RFC 9112 section 7.1 allows any number of leading zeros (h11 and llhttp accept them), so they
# do not count as digits; they are bounded separately, or an endless run of zeros would hold
# a connection forever without ever adding to the body size.
MAX_CHUNK_SIZE_ZEROS = 1024
LEADING_ZEROS = re.compile(rb"0*")

DIGITS = re.compile(rb"[0-9]+")
MAX_CONTENT_LENGTH_DIGITS = 19  # fits in 63 bits; the body limit rejects far earlier

# RFC 9110 section 7.2 and RFC 3986 section 3.2.2: Host = uri-host [ ":" port ].
HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]"
    rb"|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?"
)
# RFC 9112 section 3.2.2: absolute-form = absolute-URI (scheme "://" authority path-abempty).
ABSOLUTE_FORM = re.compile(rb"([A-Za-z][A-Za-z0-9+\-.]*)://([^/?#]*)([^#]*)")
# RFC 9112 section 3.2.3: authority-form = uri-host ":" port (CONNECT only).
AUTHORITY_FORM = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]+")

BARE_LF = re.compile(rb"(?<!\r)\n")
BARE_CR = re.compile(rb"\r(?!\n)")
# For a buffer that may end in the middle of a CRLF: a CR is bare only once the byte after it
# is known. (BARE_CR with `endpos` would be wrong there: the lookahead cannot see past endpos,
# so the CR of a CRLF split across the limit looked bare.)
BARE_CR_BEFORE = re.compile(rb"\r[^\n]")
