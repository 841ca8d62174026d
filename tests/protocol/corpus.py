"""A data-driven corpus of valid and invalid requests, each with the RFC rule it exercises.

Every entry is fed whole, line by line and byte by byte (see `test_corpus.py`) and must give
the same outcome each way. `h11` on an entry says why h11 is not a faithful oracle for it
(see `test_h11_differential.py`): for a valid entry, how h11 differs; for an invalid entry,
that h11 accepts it and we are deliberately stricter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.protocol.protocol_harness import Item
from wsgiserver.protocol import Limits

DEFAULT_LIMITS = Limits()
SMALL_LIMITS = Limits(
    max_request_line=64,
    max_header_count=4,
    max_header_field=64,
    max_head_size=256,
    max_body_size=16,
    max_chunk_extension=16,
)

H = ((b"host", b"a"),)  # the Host field most entries carry
HOST = b"Host: a\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    ref: str  # the RFC section the entry exercises
    events: tuple[Item, ...] = ()
    status: int | None = None  # the ProtocolError status, or None for a valid entry
    attrs: Mapping[str, object] = field(default_factory=dict)  # on the first Request
    limits: Limits = DEFAULT_LIMITS
    eof: bool = False  # the client closes its side after `data`
    h11: str | None = None

    @property
    def valid(self) -> bool:
        return self.status is None

    @property
    def outcome(self) -> tuple[Item, ...]:
        if self.status is None:
            return self.events
        return (*self.events, ("error", self.status))


def req(
    method: str = "GET",
    target: bytes = b"/",
    version: str = "1.1",
    headers: tuple[tuple[bytes, bytes], ...] = H,
) -> Item:
    return ("request", method, target, version, headers)


def data(payload: bytes) -> Item:
    return ("data", payload)


def end(*trailers: tuple[bytes, bytes]) -> Item:
    return ("end", trailers)


CLOSE: Item = ("close",)
CLOSED: Item = ("closed",)
GET: tuple[Item, ...] = (req(), end())


def get(line: bytes = b"GET / HTTP/1.1", fields: bytes = HOST) -> bytes:
    return line + b"\r\n" + fields + b"\r\n"


def post(fields: bytes, body: bytes = b"", line: bytes = b"POST / HTTP/1.1") -> bytes:
    return line + b"\r\n" + HOST + fields + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", body)


TE_CHUNKED = (*H, (b"transfer-encoding", b"chunked"))


def ok(
    name: str,
    raw: bytes,
    *events: Item,
    ref: str,
    attrs: Mapping[str, object] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    eof: bool = False,
    h11: str | None = None,
) -> Case:
    return Case(name, raw, ref, events, None, attrs or {}, limits, eof, h11)


def bad(
    name: str,
    raw: bytes,
    status: int,
    *events: Item,
    ref: str,
    limits: Limits = DEFAULT_LIMITS,
    eof: bool = False,
    h11: str | None = None,
) -> Case:
    return Case(name, raw, ref, events, status, {}, limits, eof, h11)


BARE_LF_NOTE = "h11 accepts bare LF line endings; RFC 9112 2.2 only MAY; we refuse (smuggling)"
OBS_FOLD_NOTE = "h11 accepts and unfolds obs-fold; RFC 9112 5.2 lets a server reject it (400)"
CTL_NOTE = "h11 accepts CTLs other than CR, LF, NUL in values; RFC 9110 5.5 lets us reject them"
BODY_NOTE = "h11 accepts any body size"
EXT_NOTE = "h11 accepts and skips any chunk extension text"
TRAILER_NOTE = "h11 accepts any trailer field"
SMALL_NOTE = "h11 accepts it (our limits are smaller here)"
LEADING_NOTE = "h11 rejects empty lines before the first request line (RFC 9112 2.2 SHOULD ignore)"
VERSION_NOTE = "h11 accepts any HTTP/DIGIT.DIGIT version and reports it"
TARGET_NOTE = "h11 accepts any VCHAR target without interpreting its form"
HOST_NOTE = "h11 accepts any Host value (it only checks that there is one)"


# The tables below are laid out by hand, one entry per call, for reading as a list.
# fmt: off
REQUEST_LINE = [
    ok("simple-get", get(), *GET, ref="RFC 9112 3"),
    ok("lowercase-method", get(b"get / HTTP/1.1"), req("get"), end(),
       ref="RFC 9110 9.1: method is a case-sensitive token"),
    ok("method-with-tchars", get(b"M-SEARCH /x HTTP/1.1"), req("M-SEARCH", b"/x"), end(),
       ref="RFC 9110 5.6.2 token", h11=None),
    ok("extension-method", get(b"PROPFIND /d HTTP/1.1"), req("PROPFIND", b"/d"), end(),
       ref="RFC 9110 9.1"),
    ok("path-and-query", get(b"GET /a/b?x=1&y=%20 HTTP/1.1"), req("GET", b"/a/b?x=1&y=%20"),
       end(), attrs={"path": b"/a/b", "query": b"x=1&y=%20"}, ref="RFC 9112 3.2.1"),
    ok("empty-query", get(b"GET /a? HTTP/1.1"), req("GET", b"/a?"), end(),
       attrs={"path": b"/a", "query": b""}, ref="RFC 9112 3.2.1"),
    ok("double-slash-path", get(b"GET //x HTTP/1.1"), req("GET", b"//x"), end(),
       attrs={"path": b"//x"}, ref="RFC 9112 3.2.1: absolute-path may have empty segments"),
    ok("vchar-punctuation-target", get(b"GET /a;b,c=d!$'()*+~ HTTP/1.1"),
       req("GET", b"/a;b,c=d!$'()*+~"), end(), ref="RFC 9112 3: target is VCHARs"),
    ok("http-1.0-without-host", get(b"GET / HTTP/1.0", b""), req(version="1.0", headers=()),
       end(), CLOSE, attrs={"host": None, "keep_alive": False}, ref="RFC 9112 3.2"),
    ok("higher-minor-answered-as-1.1", get(b"GET / HTTP/1.2"), req(version="1.1"), end(),
       ref="RFC 9110 6.2: answer with the highest minor version we support",
       h11="h11 reports the version as received (1.2)"),
    ok("minor-9", get(b"GET / HTTP/1.9"), req(version="1.1"), end(), ref="RFC 9110 6.2",
       h11="h11 reports the version as received (1.9)"),
    ok("one-leading-crlf", b"\r\n" + get(), *GET, ref="RFC 9112 2.2: SHOULD ignore empty lines",
       h11=LEADING_NOTE),
    ok("many-leading-crlf", b"\r\n" * 50 + get(), *GET, ref="RFC 9112 2.2",
       h11=LEADING_NOTE),
    bad("two-spaces-after-method", get(b"GET  / HTTP/1.1"), 400, ref="RFC 9112 3: single SP"),
    bad("two-spaces-before-version", get(b"GET /  HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("tab-separator", get(b"GET\t/ HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("trailing-space", get(b"GET / HTTP/1.1 "), 400, ref="RFC 9112 3"),
    bad("leading-space", get(b" GET / HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("no-version-http-0.9", get(b"GET /"), 400, ref="RFC 9112 3"),
    bad("lowercase-http-name", get(b"GET / http/1.1"), 400,
        ref="RFC 9112 2.3: HTTP-name is case-sensitive"),
    bad("two-digit-minor", get(b"GET / HTTP/1.10"), 400, ref="RFC 9112 2.3: DIGIT.DIGIT"),
    bad("no-minor", get(b"GET / HTTP/1"), 400, ref="RFC 9112 2.3"),
    bad("three-part-version", get(b"GET / HTTP/1.1.1"), 400, ref="RFC 9112 2.3"),
    bad("http-2.0", get(b"GET / HTTP/2.0"), 505, ref="RFC 9110 15.6.6",
        h11=VERSION_NOTE),
    bad("http-0.9-versioned", get(b"GET / HTTP/0.9"), 505, ref="RFC 9110 15.6.6",
        h11=VERSION_NOTE),
    bad("http-3.0", get(b"GET / HTTP/3.0"), 505, ref="RFC 9110 15.6.6",
        h11=VERSION_NOTE),
    bad("two-digit-major", get(b"GET / HTTP/10.0"), 505,
        ref="RFC 9110 15.6.6 (judgment: a version-shaped word with major != 1 is 505)"),
    bad("leading-zero-major", get(b"GET / HTTP/01.1"), 400,
        ref="RFC 9112 2.3: HTTP-version is DIGIT '.' DIGIT; '01' is no version number"),
    bad("empty-method", get(b" / HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("method-with-paren", get(b"GE(T / HTTP/1.1"), 400, ref="RFC 9110 5.6.2 tchar"),
    bad("method-with-nul", get(b"GE\x00T / HTTP/1.1"), 400, ref="RFC 9110 5.6.2"),
    bad("empty-target", get(b"GET  HTTP/1.1"), 400, ref="RFC 9112 3.2"),
    bad("target-with-del", get(b"GET /a\x7f HTTP/1.1"), 400, ref="RFC 9112 3: VCHAR only"),
    bad("target-with-obs-text", get(b"GET /\xc3\xa9 HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("target-with-nul", get(b"GET /\x00 HTTP/1.1"), 400, ref="RFC 9112 3"),
    bad("fragment-in-origin-form", get(b"GET /a#b HTTP/1.1"), 400,
        ref="RFC 9112 3.2.1: origin-form has no fragment (judgment: reject, not strip)",
        h11="h11 accepts any VCHAR target, '#' included"),
    ok("only-crlf-then-eof", b"\r\n", CLOSED, eof=True,
       ref="RFC 9112 2.2: the empty line is ignored, then a clean close", h11=LEADING_NOTE),
    bad("request-line-without-fields-eof", b"GET / HTTP/1.1\r\n", 400, eof=True,
        ref="RFC 9112 8: incomplete message"),
]

# A request line still arriving, without its CRLF: refused as soon as no valid request line can
# start with the bytes so far (RFC 9112 3), instead of after the head timeout.
PARTIAL_NOTE = "h11 waits for the whole request line before judging it"
UNFINISHED_REQUEST_LINE = [
    ok("unfinished-request-line-waits", b"PROPFIND /x?a=b HTTP/1.", ref="RFC 9112 3"),
    ok("unfinished-method-waits", b"M-SEARCH", ref="RFC 9112 3"),
    ok("unfinished-after-empty-lines-waits", b"\r\n\r\nGET /", ref="RFC 9112 2.2",
       h11=LEADING_NOTE),
    bad("unfinished-tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
        ref="RFC 9112 3: a method is a token; 0x16 starts a TLS record (RFC 8446 5.1)"),
    bad("tls-record-with-crlfcrlf", b"\x16\x03\x01\x00\x04\r\n\r\n", 400,
        ref="RFC 9112 3 (the same record, ended like a head)"),
    bad("unfinished-nul-in-method", b"GET\x00", 400, ref="RFC 9110 5.6.2 tchar",
        h11=PARTIAL_NOTE),
    bad("unfinished-paren-in-method", b"GE(", 400, ref="RFC 9110 5.6.2 tchar",
        h11=PARTIAL_NOTE),
    bad("unfinished-leading-space", b" GET", 400, ref="RFC 9112 3: the method comes first"),
    bad("unfinished-space-after-empty-lines", b"\r\n\r\n GET", 400,
        ref="RFC 9112 2.2: only empty lines are ignored"),
    bad("unfinished-two-spaces-after-method", b"GET  /", 400, ref="RFC 9112 3: single SP",
        h11=PARTIAL_NOTE),
    bad("unfinished-ctl-in-target", b"GET /a\x01", 400, ref="RFC 9112 3: target is VCHARs",
        h11=PARTIAL_NOTE),
    bad("unfinished-empty-version", b"GET /  ", 400, ref="RFC 9112 3", h11=PARTIAL_NOTE),
    bad("unfinished-third-space", b"GET / HTTP/1.1 ", 400, ref="RFC 9112 3",
        h11=PARTIAL_NOTE),
    bad("unfinished-obs-text-in-version", b"GET / HTTP/\xff", 400, ref="RFC 9112 2.3",
        h11=PARTIAL_NOTE),
    bad("unfinished-bad-method-then-eof", b"GE(", 400, eof=True, ref="RFC 9112 3"),
    bad("pipelined-unfinished-bad-method", get() + b"G\x00", 400, *GET,
        ref="RFC 9112 3: each request line is checked as it arrives", h11=PARTIAL_NOTE),
    bad("unfinished-bad-byte-before-line-limit", b"GET /" + b"a" * 50 + b"\x01" + b"a" * 20,
        400, limits=SMALL_LIMITS, ref="RFC 9112 3: the first violation in the stream wins",
        h11=SMALL_NOTE),
    bad("unfinished-bad-byte-after-line-limit", b"GET /" + b"a" * 70 + b"\x01", 414,
        limits=SMALL_LIMITS, ref="RFC 9110 15.5.15: the first violation in the stream wins",
        h11=SMALL_NOTE),
]

TARGET_FORMS = [
    ok("absolute-form", get(b"GET http://example.com/p?q HTTP/1.1"),
       req("GET", b"http://example.com/p?q"), end(),
       attrs={"host": b"example.com", "path": b"/p", "query": b"q", "scheme": "http"},
       ref="RFC 9112 3.2.2"),
    ok("absolute-form-overrides-host", get(b"GET https://b:8443/x HTTP/1.1", b"Host: other\r\n"),
       req("GET", b"https://b:8443/x", headers=((b"host", b"other"),)), end(),
       attrs={"host": b"b:8443", "scheme": "https"},
       ref="RFC 9112 3.2.2: the target's authority wins over Host"),
    ok("absolute-form-empty-path", get(b"GET http://example.com HTTP/1.1"),
       req("GET", b"http://example.com"), end(), attrs={"path": b"/", "query": b""},
       ref="RFC 9112 3.2.2 / RFC 9110 4.2.3: empty path is /"),
    ok("absolute-form-server-wide-options", get(b"OPTIONS http://e:8001 HTTP/1.1"),
       req("OPTIONS", b"http://e:8001"), end(), attrs={"path": b"*", "host": b"e:8001"},
       ref="RFC 9112 3.2.4: no path and no query is what a proxy forwards as OPTIONS *"),
    ok("absolute-form-options-with-query", get(b"OPTIONS http://e?x HTTP/1.1"),
       req("OPTIONS", b"http://e?x"), end(), attrs={"path": b"/", "query": b"x"},
       ref="RFC 9112 3.2.4: a query makes it a request for a resource"),
    ok("absolute-form-query-only", get(b"GET http://e?x HTTP/1.1"), req("GET", b"http://e?x"),
       end(), attrs={"path": b"/", "query": b"x"}, ref="RFC 9110 4.2.3"),
    ok("absolute-form-upper-scheme", get(b"GET HTTP://E/ HTTP/1.1"), req("GET", b"HTTP://E/"),
       end(), attrs={"scheme": "http", "host": b"E"}, ref="RFC 3986 3.1: scheme is case-insens."),
    ok("absolute-form-ipv6", get(b"GET http://[::1]:80/ HTTP/1.1"),
       req("GET", b"http://[::1]:80/"), end(), attrs={"host": b"[::1]:80"}, ref="RFC 9112 3.2.2"),
    bad("absolute-form-ftp", get(b"GET ftp://e/ HTTP/1.1"), 400,
        ref="RFC 9112 3.2.2 (we serve http and https only)",
        h11=TARGET_NOTE),
    bad("absolute-form-userinfo", get(b"GET http://u:p@e/ HTTP/1.1"), 400,
        ref="RFC 9110 4.2.4: userinfo is an error", h11=TARGET_NOTE),
    bad("absolute-form-empty-authority", get(b"GET http:///x HTTP/1.1"), 400,
        ref="RFC 9110 4.2.1: http URI needs a host", h11=TARGET_NOTE),
    bad("absolute-form-fragment", get(b"GET http://e/#f HTTP/1.1"), 400, ref="RFC 9112 3.2.2",
        h11=TARGET_NOTE),
    bad("absolute-form-bad-host", get(b"GET http://e<>/ HTTP/1.1"), 400, ref="RFC 3986 3.2.2",
        h11=TARGET_NOTE),
    bad("absolute-form-without-host-field", get(b"GET http://e/ HTTP/1.1", b""), 400,
        ref="RFC 9112 3.2: a 1.1 request without Host gets 400 whatever the target"),
    ok("connect-authority-form", get(b"CONNECT example.com:443 HTTP/1.1"),
       req("CONNECT", b"example.com:443"), end(), CLOSE, attrs={"host": b"example.com:443"},
       ref="RFC 9112 3.2.3; RFC 9110 9.3.6: after a 2xx the connection is a tunnel: closed",
       h11="h11 pauses for a protocol switch after CONNECT"),
    ok("connect-ipv6", get(b"CONNECT [::1]:443 HTTP/1.1"), req("CONNECT", b"[::1]:443"), end(),
       CLOSE, ref="RFC 9112 3.2.3 / RFC 9110 9.3.6",
       h11="h11 pauses for a protocol switch after CONNECT"),
    bad("connect-origin-form", get(b"CONNECT / HTTP/1.1"), 400, ref="RFC 9112 3.2.3",
        h11=TARGET_NOTE),
    bad("connect-without-port", get(b"CONNECT example.com HTTP/1.1"), 400,
        ref="RFC 9112 3.2.3: uri-host ':' port", h11=TARGET_NOTE),
    bad("authority-form-for-get", get(b"GET example.com:80 HTTP/1.1"), 400,
        ref="RFC 9112 3.2.3: CONNECT only", h11=TARGET_NOTE),
    ok("asterisk-form", get(b"OPTIONS * HTTP/1.1"), req("OPTIONS", b"*"), end(),
       attrs={"path": b"*"}, ref="RFC 9112 3.2.4"),
    bad("asterisk-form-for-get", get(b"GET * HTTP/1.1"), 400, ref="RFC 9112 3.2.4: OPTIONS only",
        h11=TARGET_NOTE),
    bad("relative-target", get(b"GET a/b HTTP/1.1"), 400, ref="RFC 9112 3.2",
        h11=TARGET_NOTE),
]

HOST_RULES = [
    bad("missing-host", get(fields=b""), 400, ref="RFC 9112 3.2: MUST respond 400"),
    bad("missing-host-with-other-fields", get(fields=b"X: y\r\n"), 400, ref="RFC 9112 3.2"),
    bad("duplicate-host", get(fields=b"Host: a\r\nHost: b\r\n"), 400, ref="RFC 9112 3.2"),
    bad("duplicate-identical-host", get(fields=b"Host: a\r\nHost: a\r\n"), 400,
        ref="RFC 9112 3.2: more than one Host field line"),
    bad("duplicate-host-on-1.0", get(b"GET / HTTP/1.0", b"Host: a\r\nHost: b\r\n"), 400,
        ref="RFC 9112 3.2"),
    bad("host-with-space", get(fields=b"Host: a b\r\n"), 400, ref="RFC 9110 7.2",
        h11=HOST_NOTE),
    bad("host-with-slash", get(fields=b"Host: a/b\r\n"), 400, ref="RFC 9110 7.2",
        h11=HOST_NOTE),
    bad("host-with-at", get(fields=b"Host: u@a\r\n"), 400, ref="RFC 9110 7.2",
        h11=HOST_NOTE),
    bad("host-port-not-digits", get(fields=b"Host: a:b\r\n"), 400, ref="RFC 9110 7.2",
        h11=HOST_NOTE),
    ok("host-with-port", get(fields=b"Host: a:8080\r\n"), req(headers=((b"host", b"a:8080"),)),
       end(), attrs={"host": b"a:8080"}, ref="RFC 9110 7.2"),
    ok("host-ipv6", get(fields=b"Host: [::1]:80\r\n"), req(headers=((b"host", b"[::1]:80"),)),
       end(), attrs={"host": b"[::1]:80"}, ref="RFC 9110 7.2"),
    ok("host-empty", get(fields=b"Host:\r\n"), req(headers=((b"host", b""),)), end(),
       attrs={"host": b""}, ref="RFC 9110 7.2: empty when the target has no authority"),
    ok("host-case-insensitive-name", get(fields=b"HOST: a\r\n"), *GET, attrs={"host": b"a"},
       ref="RFC 9110 5.1: field names are case-insensitive"),
]

FIELDS = [
    ok("field-ows-trimmed", get(fields=HOST + b"X:   v \t \r\n"), req(headers=(*H, (b"x", b"v"))),
       end(), ref="RFC 9112 5: OWS around the value is not part of it"),
    ok("field-interior-whitespace", get(fields=HOST + b"X: a \t b\r\n"),
       req(headers=(*H, (b"x", b"a \t b"))), end(), ref="RFC 9110 5.5"),
    ok("field-empty-value", get(fields=HOST + b"X:\r\n"), req(headers=(*H, (b"x", b""))), end(),
       ref="RFC 9110 5.5: field-value may be empty"),
    ok("field-obs-text", get(fields=HOST + b"X: caf\xc3\xa9\xff\r\n"),
       req(headers=(*H, (b"x", b"caf\xc3\xa9\xff"))), end(), ref="RFC 9110 5.5: obs-text"),
    ok("field-name-lowered", get(fields=b"HoSt: a\r\nX-CaSe: V\r\n"),
       req(headers=(*H, (b"x-case", b"V"))), end(), ref="RFC 9110 5.1"),
    ok("field-name-underscore", get(fields=HOST + b"X_Y: 1\r\n"),
       req(headers=(*H, (b"x_y", b"1"))), end(),
       ref="RFC 9110 5.6.2: '_' is a tchar (the gateway drops such names, not the parser)"),
    ok("field-repeated-kept-in-order", get(fields=HOST + b"A: 1\r\nB: 2\r\nA: 3\r\n"),
       req(headers=(*H, (b"a", b"1"), (b"b", b"2"), (b"a", b"3"))), end(), ref="RFC 9110 5.2"),
    ok("field-no-space-after-colon", get(fields=HOST + b"X:v\r\n"),
       req(headers=(*H, (b"x", b"v"))), end(), ref="RFC 9112 5: OWS is optional"),
    ok("field-value-with-colon", get(fields=HOST + b"X: a:b: c\r\n"),
       req(headers=(*H, (b"x", b"a:b: c"))), end(), ref="RFC 9112 5"),
    ok("upgrade-passes-through", get(fields=HOST + b"Upgrade: h2c\r\n"),
       req(headers=(*H, (b"upgrade", b"h2c"))), end(),
       ref="RFC 9110 7.8: a server MAY ignore Upgrade",
        h11="h11 treats Upgrade as a protocol switch proposal"),
    bad("field-value-nul", get(fields=HOST + b"X: a\x00b\r\n"), 400, ref="RFC 9110 5.5: MUST"),
    bad("field-value-bare-cr", get(fields=HOST + b"X: a\rb\r\n"), 400, ref="RFC 9110 5.5"),
    bad("field-value-bare-lf", get(fields=HOST + b"X: a\nb\r\n"), 400, ref="RFC 9110 5.5"),
    bad("field-value-control-01", get(fields=HOST + b"X: a\x01b\r\n"), 400, ref="RFC 9110 5.5",
        h11=CTL_NOTE),
    bad("field-value-del", get(fields=HOST + b"X: a\x7fb\r\n"), 400, ref="RFC 9110 5.5",
        h11=CTL_NOTE),
    bad("field-value-escape", get(fields=HOST + b"X: \x1b[31m\r\n"), 400, ref="RFC 9110 5.5",
        h11=CTL_NOTE),
    bad("space-before-colon", get(fields=HOST + b"X : v\r\n"), 400, ref="RFC 9112 5.1: MUST 400"),
    bad("tab-before-colon", get(fields=HOST + b"X\t: v\r\n"), 400, ref="RFC 9112 5.1"),
    bad("space-in-name", get(fields=HOST + b"X Y: v\r\n"), 400, ref="RFC 9110 5.1 token"),
    bad("paren-in-name", get(fields=HOST + b"X(: v\r\n"), 400, ref="RFC 9110 5.1 token"),
    bad("non-ascii-name", get(fields=HOST + b"\xc3\xa9: v\r\n"), 400, ref="RFC 9110 5.1"),
    bad("empty-name", get(fields=HOST + b": v\r\n"), 400, ref="RFC 9110 5.1: token is 1*tchar"),
    bad("no-colon", get(fields=HOST + b"X\r\n"), 400, ref="RFC 9112 5"),
    bad("obs-fold", get(fields=HOST + b"X: a\r\n b\r\n"), 400, ref="RFC 9112 5.2",
        h11=OBS_FOLD_NOTE),
    bad("obs-fold-tab", get(fields=HOST + b"X: a\r\n\tb\r\n"), 400, ref="RFC 9112 5.2",
        h11=OBS_FOLD_NOTE),
    bad("whitespace-before-first-field", get(fields=b" Host: a\r\n"), 400,
        ref="RFC 9112 2.2: whitespace after the start line MUST be rejected or consumed"),
]

BARE_LINE_ENDINGS = [
    bad("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: a\n\n", 400, ref="RFC 9112 2.2",
        h11=BARE_LF_NOTE),
    bad("bare-lf-after-request-line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400,
        ref="RFC 9112 2.2", h11=BARE_LF_NOTE),
    bad("bare-lf-final-line", b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, ref="RFC 9112 2.2",
        h11=BARE_LF_NOTE),
    bad("bare-lf-leading-line", b"\n" + get(), 400, ref="RFC 9112 2.2"),
    bad("bare-cr-line-ending", b"GET / HTTP/1.1\rHost: a\r\n\r\n", 400, ref="RFC 9112 2.2"),
    bad("bare-cr-in-request-line", get(b"GET /\r HTTP/1.1"), 400, ref="RFC 9112 2.2"),
    bad("cr-cr-lf", b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, ref="RFC 9112 2.2"),
    bad("bare-cr-final-line", b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, ref="RFC 9112 2.2",
        h11="h11 accepts these bytes and waits: a bare CR is no line end for it"),
    bad("lf-cr-lf", b"GET / HTTP/1.1\r\nHost: a\n\r\n", 400, ref="RFC 9112 2.2",
        h11=BARE_LF_NOTE),
    bad("bare-cr-leading", b"\r" + get(), 400, ref="RFC 9112 2.2"),
]

CONTENT_LENGTH = [
    ok("cl-body", post(b"Content-Length: 5\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"5"))), data(b"hello"), end(),
       attrs={"content_length": 5, "chunked": False}, ref="RFC 9112 6.2"),
    ok("cl-zero", post(b"Content-Length: 0\r\n"),
       req("POST", headers=(*H, (b"content-length", b"0"))), end(),
       attrs={"content_length": None}, ref="RFC 9112 6.2"),
    ok("cl-leading-zeros", post(b"Content-Length: 005\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"005"))), data(b"hello"), end(),
       attrs={"content_length": 5}, ref="RFC 9110 8.6: 1*DIGIT"),
    ok("cl-ows", post(b"Content-Length:  5 \r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"5"))), data(b"hello"), end(),
       ref="RFC 9112 5"),
    ok("cl-identical-list", post(b"Content-Length: 5, 5\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"5, 5"))), data(b"hello"), end(),
       attrs={"content_length": 5}, ref="RFC 9110 8.6: MAY accept identical members",
       h11="h11 rewrites the field value to the single length"),
    ok("cl-identical-list-ows", post(b"Content-Length: 5 ,\t5\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"5 ,\t5"))), data(b"hello"), end(),
       attrs={"content_length": 5}, ref="RFC 9110 5.6.1: OWS around list delimiters",
       h11="h11 rewrites the field value to the single length"),
    ok("cl-many-leading-zeros", post(b"Content-Length: 000000000000000000000005\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"000000000000000000000005"))),
       data(b"hello"), end(), attrs={"content_length": 5},
       ref="RFC 9110 8.6: leading zeros do not make a number large",
       h11="h11 rejects a length of more than 20 characters, leading zeros included"),
    ok("cl-identical-lines", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
       req("POST", headers=(*H, (b"content-length", b"5"), (b"content-length", b"5"))),
       data(b"hello"), end(), ref="RFC 9110 8.6",
       h11="h11 merges the lines into one field"),
    ok("cl-body-then-pipelined-get", post(b"Content-Length: 2\r\n", b"hi" + get()),
       req("POST", headers=(*H, (b"content-length", b"2"))), data(b"hi"), end(), *GET,
       ref="RFC 9112 9.3.2: pipelining"),
    ok("cl-on-get", get(fields=HOST + b"Content-Length: 1\r\n") + b"x",
       req(headers=(*H, (b"content-length", b"1"))), data(b"x"), end(),
       ref="RFC 9110 9.3.1: a GET body is framed like any other"),
    bad("cl-list-differs", post(b"Content-Length: 5, 6\r\n", b"hello!"), 400,
        ref="RFC 9110 8.6 / RFC 9112 6.3 item 5"),
    bad("cl-lines-differ", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), 400,
        ref="RFC 9112 6.3 item 5"),
    bad("cl-plus", post(b"Content-Length: +5\r\n", b"hello"), 400, ref="RFC 9110 8.6"),
    bad("cl-minus", post(b"Content-Length: -1\r\n"), 400, ref="RFC 9110 8.6"),
    bad("cl-hex", post(b"Content-Length: 0x5\r\n", b"hello"), 400, ref="RFC 9110 8.6"),
    bad("cl-underscore", post(b"Content-Length: 1_0\r\n"), 400,
        ref="RFC 9110 8.6 (int() would accept it)"),
    bad("cl-inner-space", post(b"Content-Length: 1 0\r\n"), 400, ref="RFC 9110 8.6"),
    bad("cl-empty", post(b"Content-Length:\r\n"), 400, ref="RFC 9110 8.6"),
    bad("cl-trailing-comma", post(b"Content-Length: 5,\r\n", b"hello"), 400,
        ref="RFC 9110 8.6 (judgment: no empty list members for a length)"),
    bad("cl-unicode-digit", post(b"Content-Length: \xd9\xa5\r\n"), 400,
        ref="RFC 9110 8.6: DIGIT is ASCII"),
    bad("cl-20-digits", post(b"Content-Length: 99999999999999999999\r\n"), 400,
        ref="RFC 9110 8.6: guard against overflow (judgment: an absurd length is malformed)",
        h11="h11 accepts it and waits for the body"),
    bad("cl-19-digits-too-large", post(b"Content-Length: 9999999999999999999\r\n"), 413,
        ref="RFC 9110 15.5.14", h11=BODY_NOTE),
    bad("cl-over-limit", post(b"Content-Length: 17\r\n"), 413, ref="RFC 9110 15.5.14",
        limits=SMALL_LIMITS, h11=BODY_NOTE),
    ok("cl-at-limit", post(b"Content-Length: 16\r\n", b"x" * 16),
       req("POST", headers=(*H, (b"content-length", b"16"))), data(b"x" * 16), end(),
       limits=SMALL_LIMITS, ref="RFC 9110 15.5.14"),
    bad("cl-short-body-eof", post(b"Content-Length: 5\r\n", b"hel"), 400, req("POST",
        headers=(*H, (b"content-length", b"5"))), data(b"hel"), eof=True,
        ref="RFC 9112 8: an incomplete message"),
]

TRANSFER_ENCODING = [
    ok("te-chunked", chunked(b"5\r\nhello\r\n0\r\n\r\n"), req("POST", headers=TE_CHUNKED),
       data(b"hello"), end(), attrs={"chunked": True, "content_length": None},
       ref="RFC 9112 7.1"),
    ok("te-chunked-mixed-case", post(b"Transfer-Encoding: ChUnKeD\r\n", b"0\r\n\r\n"),
       req("POST", headers=(*H, (b"transfer-encoding", b"ChUnKeD"))), end(),
       ref="RFC 9112 7: coding names are case-insensitive",
        h11="h11 lower-cases the Transfer-Encoding value"),
    ok("te-chunked-ows", post(b"Transfer-Encoding:  chunked \r\n", b"0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), end(), ref="RFC 9112 5"),
    bad("te-gzip", post(b"Transfer-Encoding: gzip\r\n"), 400,
        ref="RFC 9112 6.3 item 4: chunked not final -> MUST 400"),
    bad("te-gzip-chunked", post(b"Transfer-Encoding: gzip, chunked\r\n"), 501,
        ref="RFC 9112 6.1: SHOULD 501 for an unknown coding"),
    bad("te-gzip-then-chunked-lines",
        post(b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
        501, ref="RFC 9112 6.1 / RFC 9110 5.3: lines combine into one list"),
    bad("te-chunked-gzip", post(b"Transfer-Encoding: chunked, gzip\r\n"), 400,
        ref="RFC 9112 6.3 item 4"),
    bad("te-chunked-twice", post(b"Transfer-Encoding: chunked, chunked\r\n"), 400,
        ref="RFC 9112 6.1: MUST NOT apply chunked more than once"),
    bad("te-identity", post(b"Transfer-Encoding: identity\r\n"), 400,
        ref="RFC 9112 6.3 item 4 (identity is gone since RFC 7230)"),
    bad("te-empty", post(b"Transfer-Encoding:\r\n"), 400, ref="RFC 9112 6.1: 1#transfer-coding"),
    bad("te-chunked-with-param", post(b"Transfer-Encoding: chunked;q=1\r\n"), 400,
        ref="RFC 9112 7: chunked has no parameters"),
    bad("te-and-cl", post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                          b"0\r\n\r\n"), 400,
        ref="RFC 9112 6.3 item 3: MAY reject; we do (smuggling)",
        h11="h11 accepts TE with CL (TE wins); RFC 9112 6.3 lets us reject"),
    bad("te-on-http-1.0", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n",
                               b"POST / HTTP/1.0"), 400,
        ref="RFC 9112 6.1: faulty framing in HTTP/1.0",
        h11="h11 accepts Transfer-Encoding in an HTTP/1.0 request"),
]


CHUNKED = [
    ok("chunks-several", chunked(b"1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1"),
    ok("chunk-size-uppercase-hex", chunked(b"A\r\n0123456789\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"0123456789"), end(), ref="RFC 9112 7.1 HEXDIG"),
    ok("chunk-size-lowercase-hex", chunked(b"a\r\n0123456789\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"0123456789"), end(), ref="RFC 9112 7.1"),
    ok("chunk-size-leading-zeros", chunked(b"0003\r\nabc\r\n000\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1: 1*HEXDIG"),
    ok("chunk-size-16-digits", chunked(b"0000000000000003\r\nabc\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1"),
    ok("chunk-data-with-crlf-inside", chunked(b"4\r\n\r\n\r\n\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"\r\n\r\n"), end(),
       ref="RFC 9112 7.1: chunk-data is opaque"),
    ok("chunk-ext-name", chunked(b"3;foo\r\nabc\r\n0\r\n\r\n"), req("POST", headers=TE_CHUNKED),
       data(b"abc"), end(), ref="RFC 9112 7.1.1"),
    ok("chunk-ext-token-value", chunked(b"3;foo=bar;baz\r\nabc\r\n0;x=y\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1.1"),
    ok("chunk-ext-quoted-value", chunked(b'3;foo="b a\\"r"\r\nabc\r\n0\r\n\r\n'),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1.1 quoted-string"),
    ok("chunk-ext-bws", chunked(b"3 ; foo = bar\r\nabc\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), ref="RFC 9112 7.1.1: BWS",
       h11="h11 does not accept whitespace before ';'"),
    ok("chunked-trailer", chunked(b"3\r\nabc\r\n0\r\nX-T: v\r\nX-U:  w \r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end((b"x-t", b"v"), (b"x-u", b"w")),
       ref="RFC 9112 7.1.2"),
    ok("chunked-then-pipelined-get", chunked(b"1\r\nz\r\n0\r\n\r\n" + get()),
       req("POST", headers=TE_CHUNKED), data(b"z"), end(), *GET, ref="RFC 9112 9.3.2"),
    ok("chunked-at-body-limit", chunked(b"10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"x" * 16), end(), limits=SMALL_LIMITS,
       ref="RFC 9110 15.5.14"),
    ok("chunk-size-17-digits-leading-zeros",
       chunked(b"00000000000000005\r\nhello\r\n0\r\n\r\n"), req("POST", headers=TE_CHUNKED),
       data(b"hello"), end(), ref="RFC 9112 7.1: 1*HEXDIG; zeros are not significant digits"),
    ok("last-chunk-17-zeros", chunked(b"5\r\nhello\r\n00000000000000000\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"hello"), end(),
       ref="RFC 9112 7.1: last-chunk = 1*(\"0\") [ chunk-ext ] CRLF"),
    ok("chunk-size-1024-leading-zeros", chunked(b"0" * 1024 + b"3;e\r\nabc\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"abc"), end(), limits=SMALL_LIMITS,
       ref="RFC 9112 7.1: zeros count neither as digits nor against the line limit",
       h11="h11 accepts at most 20 hex digits"),
    bad("chunk-size-1025-leading-zeros", chunked(b"0" * 1025 + b"3\r\nabc\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1: an endless run of zeros is refused"),
    ok("chunk-size-16-significant-digits",
       chunked(b"0000000000000000000000000000000F\r\n" + b"x" * 15 + b"\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"x" * 15), end(), ref="RFC 9112 7.1",
       h11="h11 accepts at most 20 hex digits"),
    bad("chunk-size-17-significant-digits", chunked(b"10000000000000003\r\nabc\r\n0\r\n\r\n"),
        400, req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1: guard against overflow",
        h11="h11 accepts up to 20 hex digits"),
    bad("chunk-size-invalid-hex", chunked(b"g\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1"),
    bad("chunk-size-0x", chunked(b"0x10\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1"),
    bad("chunk-size-negative", chunked(b"-1\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1"),
    bad("chunk-size-plus", chunked(b"+1\r\nx\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1"),
    bad("chunk-size-empty", chunked(b"\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1"),
    bad("chunk-size-leading-space", chunked(b" 1\r\nx\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1"),
    bad("chunk-size-trailing-space", chunked(b"1 \r\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1: BWS only around ';'",
        h11="h11 accepts trailing whitespace after the chunk size"),
    bad("chunk-size-bare-lf", chunked(b"1\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1"),
    bad("chunk-ext-empty", chunked(b"1;\r\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1.1: chunk-ext-name is a token",
        h11=EXT_NOTE),
    bad("chunk-ext-no-name", chunked(b"1;=x\r\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1.1",
        h11=EXT_NOTE),
    bad("chunk-ext-unterminated-quote", chunked(b'1;a="x\r\nx\r\n0\r\n\r\n'), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1.1",
        h11=EXT_NOTE),
    bad("chunk-ext-two-words", chunked(b"1;a=b c\r\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 7.1.1",
        h11=EXT_NOTE),
    bad("chunk-ext-too-long", chunked(b"1;" + b"e" * 17 + b"\r\nx\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), limits=SMALL_LIMITS, ref="RFC 9112 7.1.1: MAY limit",
        h11=EXT_NOTE),
    ok("chunk-ext-at-limit", chunked(b"1;" + b"e" * 15 + b"\r\nx\r\n0\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"x"), end(), limits=SMALL_LIMITS,
       ref="RFC 9112 7.1.1"),
    bad("chunk-data-not-followed-by-crlf", chunked(b"3\r\nabcX\r\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), data(b"abc"), ref="RFC 9112 7.1"),
    bad("chunk-data-followed-by-lf", chunked(b"3\r\nabc\n0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), data(b"abc"), ref="RFC 9112 7.1"),
    bad("chunk-data-followed-by-cr-x", chunked(b"3\r\nabc\rx0\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), data(b"abc"), ref="RFC 9112 7.1"),
    bad("trailer-content-length", chunked(b"0\r\nContent-Length: 5\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9110 6.5.1: MUST NOT be a trailer",
        h11=TRAILER_NOTE),
    bad("trailer-transfer-encoding", chunked(b"0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9110 6.5.1",
        h11=TRAILER_NOTE),
    bad("trailer-host", chunked(b"0\r\nHost: evil\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9110 6.5.1",
        h11=TRAILER_NOTE),
    bad("trailer-too-many", chunked(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), limits=SMALL_LIMITS,
        ref="RFC 9112 7.1.2 (trailers share the head's field-count budget)",
        h11="h11 accepts any number of fields"),
    bad("trailer-bare-lf", chunked(b"0\r\nX: 1\n\r\n"), 400, req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 2.2", h11=BARE_LF_NOTE),
    bad("trailer-bare-cr", chunked(b"0\r\nX: 1\rY: 2\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 2.2"),
    bad("trailer-invalid-line", chunked(b"0\r\nnot a field\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 5"),
    bad("trailer-obs-fold", chunked(b"0\r\nX: 1\r\n 2\r\n\r\n"), 400,
        req("POST", headers=TE_CHUNKED), ref="RFC 9112 5.2", h11=OBS_FOLD_NOTE),
    bad("trailer-line-too-long", chunked(b"0\r\nX: " + b"v" * 62 + b"\r\n\r\n"), 431,
        req("POST", headers=TE_CHUNKED), limits=SMALL_LIMITS, ref="RFC 6585 5",
        h11="h11 accepts long fields in a complete head"),
    bad("chunked-over-body-limit", chunked(b"9\r\n123456789\r\n8\r\n12345678\r\n"), 413,
        req("POST", headers=TE_CHUNKED), data(b"123456789"), limits=SMALL_LIMITS,
        ref="RFC 9110 15.5.14", h11=BODY_NOTE),
    bad("chunked-eof-mid-data", chunked(b"5\r\nab"), 400, req("POST", headers=TE_CHUNKED),
        data(b"ab"), eof=True, ref="RFC 9112 8: an incomplete message"),
    bad("chunked-eof-before-last-chunk", chunked(b"1\r\na\r\n"), 400,
        req("POST", headers=TE_CHUNKED), data(b"a"), eof=True, ref="RFC 9112 8"),
    bad("chunked-eof-in-trailers", chunked(b"0\r\nX: 1\r\n"), 400,
        req("POST", headers=TE_CHUNKED), eof=True, ref="RFC 9112 8"),
]

EXPECT = [
    ok("expect-100-continue", post(b"Expect: 100-continue\r\nContent-Length: 1\r\n", b"x"),
       req("POST", headers=(*H, (b"expect", b"100-continue"), (b"content-length", b"1"))),
       data(b"x"), end(), attrs={"expect_continue": True}, ref="RFC 9110 10.1.1"),
    ok("expect-100-continue-mixed-case", post(b"Expect: 100-Continue\r\nContent-Length: 1\r\n",
                                              b"x"),
       req("POST", headers=(*H, (b"expect", b"100-Continue"), (b"content-length", b"1"))),
       data(b"x"), end(), attrs={"expect_continue": True},
       ref="RFC 9110 10.1.1: case-insensitive"),
    ok("expect-100-continue-no-body", get(fields=HOST + b"Expect: 100-continue\r\n"),
       req(headers=(*H, (b"expect", b"100-continue"))), end(),
       attrs={"expect_continue": False}, ref="RFC 9110 10.1.1: nothing to wait for"),
    ok("expect-100-continue-http-1.0",
       post(b"Expect: 100-continue\r\nContent-Length: 1\r\n", b"x", b"POST / HTTP/1.0"),
       req("POST", version="1.0",
           headers=(*H, (b"expect", b"100-continue"), (b"content-length", b"1"))),
       data(b"x"), end(), CLOSE, attrs={"expect_continue": False},
       ref="RFC 9110 10.1.1: MUST ignore in HTTP/1.0"),
    ok("expect-empty", get(fields=HOST + b"Expect:\r\n"), req(headers=(*H, (b"expect", b""))),
       end(), attrs={"expect_continue": False}, ref="RFC 9110 10.1.1"),
    bad("expect-other", get(fields=HOST + b"Expect: something\r\n"), 417,
        ref="RFC 9110 10.1.1: MAY answer 417", h11="h11 accepts (ignores) unknown expectations"),
    bad("expect-other-http-1.0", get(b"GET / HTTP/1.0", b"Expect: something\r\n"), 417,
        ref="RFC 9110 10.1.1: only 100-continue MUST be ignored in 1.0 (judgment: 417)",
        h11="h11 accepts (ignores) unknown expectations"),
    bad("expect-100-continue-and-other", get(fields=HOST + b"Expect: 100-continue, x\r\n"), 417,
        ref="RFC 9110 10.1.1", h11="h11 accepts (ignores) unknown expectations"),
]

_LINE_8190 = b"GET /" + b"a" * (8190 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
_LINE_8191 = b"GET /" + b"a" * (8191 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
_FIELD_8190 = b"X: " + b"v" * (8190 - 3)
_FIELDS_99 = b"".join(b"X%d: v\r\n" % i for i in range(99))

LIMITS = [
    ok("request-line-8190", get(_LINE_8190), req(target=_LINE_8190[4:-9]), end(),
       ref="RFC 9112 3: SHOULD support 8000 octets"),
    bad("request-line-8191", get(_LINE_8191), 414, ref="RFC 9112 3 / RFC 9110 15.5.15",
        h11="h11 accepts request lines up to its 16 KiB buffer"),
    bad("request-line-8191-no-crlf-yet", _LINE_8191, 414, ref="RFC 9110 15.5.15",
        h11="h11 accepts the partial line and waits (16 KiB buffer)"),
    bad("request-line-too-long-and-bare-lf-later", get(_LINE_8191) + b"\n", 414,
        ref="RFC 9110 15.5.15: the first violation in the byte stream wins"),
    ok("fields-100", get(fields=HOST + _FIELDS_99),
       req(headers=(*H, *((b"x%d" % i, b"v") for i in range(99)))), end(),
       ref="RFC 6585 5 (our limit: 100 field lines)"),
    bad("fields-101", get(fields=HOST + _FIELDS_99 + b"Y: v\r\n"), 431, ref="RFC 6585 5",
        h11="h11 accepts any number of fields"),
    ok("field-8190", get(fields=HOST + _FIELD_8190 + b"\r\n"),
       req(headers=(*H, (b"x", _FIELD_8190[3:]))), end(), ref="RFC 6585 5"),
    bad("field-8191", get(fields=HOST + _FIELD_8190 + b"v\r\n"), 431, ref="RFC 6585 5",
        h11="h11 accepts long fields in a complete head"),
    bad("head-over-64k", get(fields=HOST + (_FIELD_8190 + b"\r\n") * 9), 431,
        ref="RFC 6585 5 (whole head limit)",
        h11="h11 accepts a complete head of any size"),
    bad("head-over-64k-no-end-yet", get(fields=HOST + (_FIELD_8190 + b"\r\n") * 9)[:-2], 431,
        ref="RFC 6585 5"),
    bad("small-head-limit", get(fields=HOST + b"A: 1\r\n" + b"B: " + b"2" * 60 + b"\r\n"
                                + b"C: " + b"3" * 60 + b"\r\n" + b"D: " + b"4" * 60 + b"\r\n"),
        431, limits=SMALL_LIMITS, ref="RFC 6585 5", h11=SMALL_NOTE),
    bad("small-request-line-limit", get(b"GET /" + b"a" * 60 + b" HTTP/1.1"), 414,
        limits=SMALL_LIMITS, ref="RFC 9110 15.5.15", h11=SMALL_NOTE),
    ok("small-request-line-at-limit", get(b"GET /" + b"a" * 50 + b" HTTP/1.1"),
       req(target=b"/" + b"a" * 50), end(), limits=SMALL_LIMITS, ref="RFC 9110 15.5.15"),
    bad("too-many-leading-crlf", b"\r\n" * 4096 + get(), 400,
        ref="RFC 9112 2.2: at least one empty line is ignored; an endless stream is not"),
]

KEEP_ALIVE = [
    ok("keep-alive-1.1-default", get(), *GET, attrs={"keep_alive": True}, ref="RFC 9112 9.3"),
    ok("connection-close", get(fields=HOST + b"Connection: close\r\n"),
       req(headers=(*H, (b"connection", b"close"))), end(), CLOSE, attrs={"keep_alive": False},
       ref="RFC 9112 9.6"),
    ok("connection-close-mixed-case", get(fields=HOST + b"Connection: Close\r\n"),
       req(headers=(*H, (b"connection", b"Close"))), end(), CLOSE, attrs={"keep_alive": False},
       ref="RFC 9110 7.6.1: connection options are case-insensitive"),
    ok("connection-list-with-close", get(fields=HOST + b"Connection: keep-alive, close\r\n"),
       req(headers=(*H, (b"connection", b"keep-alive, close"))), end(), CLOSE,
       ref="RFC 9112 9.6"),
    ok("http-1.0-default-close", get(b"GET / HTTP/1.0"), req(version="1.0"), end(), CLOSE,
       attrs={"keep_alive": False}, ref="RFC 9112 9.3"),
    ok("http-1.0-keep-alive", get(b"GET / HTTP/1.0", HOST + b"Connection: keep-alive\r\n"),
       req(version="1.0", headers=(*H, (b"connection", b"keep-alive"))), end(),
       attrs={"keep_alive": True}, ref="RFC 9112 C.2.2 / 9.3",
       h11="h11 never keeps an HTTP/1.0 connection alive"),
    ok("http-1.0-keep-alive-mixed-case",
       get(b"GET / HTTP/1.0", HOST + b"Connection: Keep-Alive\r\n"),
       req(version="1.0", headers=(*H, (b"connection", b"Keep-Alive"))), end(),
       attrs={"keep_alive": True}, ref="RFC 9112 C.2.2",
       h11="h11 never keeps an HTTP/1.0 connection alive"),
    ok("pipelined-two-gets", get() + get(b"GET /2 HTTP/1.1"), *GET, req(target=b"/2"), end(),
       ref="RFC 9112 9.3.2"),
    ok("pipelined-first-closes", get(fields=HOST + b"Connection: close\r\n") + get(),
       req(headers=(*H, (b"connection", b"close"))), end(), CLOSE,
       ref="RFC 9112 9.6: nothing after close is read"),
    ok("pipelined-1.0-closes", get(b"GET / HTTP/1.0") + get(), req(version="1.0"), end(), CLOSE,
       ref="RFC 9112 9.3"),
    ok("pipelined-with-crlf-between", get() + b"\r\n" + get(), *GET, *GET,
       ref="RFC 9112 2.2",
        h11="h11 rejects empty lines between pipelined requests"),
    ok("eof-after-request", get(), *GET, CLOSED, eof=True, ref="RFC 9112 9.6"),
    ok("eof-immediately", b"", CLOSED, eof=True, ref="RFC 9112 9.6"),
    bad("eof-mid-head", b"GET / HTTP/1.1\r\nHost: a\r\n", 400, eof=True, ref="RFC 9112 8"),
    bad("eof-mid-request-line", b"GET / HT", 400, eof=True, ref="RFC 9112 8"),
    bad("garbage-after-request", get() + b"\x00\x01\r\n\r\n", 400, *GET, ref="RFC 9112 2.2"),
    bad("error-after-valid-request-stops-parsing",
        get() + b"BAD\r\n\r\n" + get(b"GET /never HTTP/1.1"), 400, *GET, ref="RFC 9112 2.2"),
]

# Added by the hardening audit (RFC 9112 / RFC 9110 server MUSTs not covered above).
HARDENING = [
    bad("chunk-size-max-16-digits", chunked(b"ffffffffffffffff\r\n"), 413,
        req("POST", headers=TE_CHUNKED),
        ref="RFC 9112 7.1: MUST prevent overflow; 2**64-1 is refused at once (RFC 9110 15.5.14)",
        h11=BODY_NOTE),
    bad("chunk-size-over-limit-before-data", chunked(b"11\r\n" + b"x" * 17), 413,
        req("POST", headers=TE_CHUNKED), limits=SMALL_LIMITS,
        ref="RFC 9110 15.5.14: the size line alone exceeds the limit; no data is delivered",
        h11=BODY_NOTE),
    ok("trailer-at-field-budget", chunked(b"1\r\nz\r\n0\r\nA: 1\r\nB: 2\r\n\r\n"),
       req("POST", headers=TE_CHUNKED), data(b"z"), end((b"a", b"1"), (b"b", b"2")),
       limits=SMALL_LIMITS, ref="RFC 9112 7.1.2: 2 head + 2 trailer fields = the budget of 4"),
    bad("absolute-form-with-invalid-host-field", get(b"GET http://e/ HTTP/1.1", b"Host: a b\r\n"),
        400, ref="RFC 9112 3.2: MUST 400 an invalid Host value, even if it would be ignored",
        h11=HOST_NOTE),
    ok("absolute-form-with-empty-host-field", get(b"GET http://e/p HTTP/1.1", b"Host:\r\n"),
       req("GET", b"http://e/p", headers=((b"host", b""),)), end(),
       attrs={"host": b"e", "path": b"/p"}, ref="RFC 9112 3.2.2: the target's authority wins"),
    ok("expect-100-continue-chunked",
       chunked(b"0\r\n\r\n").replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1),
       req("POST", headers=(*TE_CHUNKED, (b"expect", b"100-continue"))), end(),
       attrs={"expect_continue": True}, ref="RFC 9110 10.1.1: a chunked body may be awaited"),
    bad("content-length-over-limit-no-body-read", post(b"Content-Length: 17\r\n", b"x" * 17),
        413, limits=SMALL_LIMITS, ref="RFC 9110 15.5.14: refused from the head, before the body",
        h11=BODY_NOTE),
]
# fmt: on

CORPUS: list[Case] = [
    *REQUEST_LINE,
    *UNFINISHED_REQUEST_LINE,
    *TARGET_FORMS,
    *HOST_RULES,
    *FIELDS,
    *BARE_LINE_ENDINGS,
    *CONTENT_LENGTH,
    *TRANSFER_ENCODING,
    *CHUNKED,
    *EXPECT,
    *LIMITS,
    *KEEP_ALIVE,
    *HARDENING,
]
VALID = [case for case in CORPUS if case.valid]
INVALID = [case for case in CORPUS if not case.valid]
