"""Differential tests against h11, an independent HTTP/1.1 implementation.

For valid requests our events must equal h11's after normalisation (both lower-case field
names; bodies are compared concatenated). Where h11 is not a faithful oracle the corpus entry
says why in its `h11` note. For invalid requests we only require that h11 rejects them too,
unless the entry's note records that we are deliberately stricter than h11; we then check that
h11 really accepts it (so the note stays true) and that we reject it (the corpus does that).

Deliberately stricter than h11 (see the notes in corpus.py): bare LF line endings and obs-fold
(RFC 9112 2.2, 5.2), Transfer-Encoding together with Content-Length (RFC 9112 6.3 item 3),
'#' in the target, the Host value's syntax (RFC 9110 7.2), the target form for CONNECT, '*'
and absolute-form (RFC 9112 3.2), forbidden trailer fields (RFC 9110 6.5.1), whitespace after
a chunk size and unparseable chunk extensions (RFC 9112 7.1.1), unknown expectations (417),
and our size limits (field count, line and head sizes, body size, chunk size digits).
"""

from __future__ import annotations

from itertools import pairwise

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.corpus import CORPUS, Case
from tests.protocol.protocol_harness import Item, Outcome, feed, split_at, split_whole


def h11_outcome(data: bytes, *, eof: bool = False) -> Outcome:
    """Feed `data` whole to an h11 server and normalise its events like the harness does."""
    conn = h11.Connection(h11.SERVER)
    items: list[Item] = []
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                break
            if event is h11.PAUSED:  # only for a protocol switch: we answer at the end
                items.append(("switch",))
                break
            if isinstance(event, h11.Request):
                items.append(
                    (
                        "request",
                        event.method.decode("ascii"),
                        event.target,
                        event.http_version.decode("ascii"),
                        tuple(event.headers),  # iterating lower-cases the names
                    )
                )
            elif isinstance(event, h11.Data):
                if items and items[-1][0] == "data":
                    previous = items[-1][1]
                    assert isinstance(previous, bytes)
                    items[-1] = ("data", previous + bytes(event.data))
                else:
                    items.append(("data", bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                items.append(("end", tuple(event.headers)))
                if conn.their_state not in (h11.DONE, h11.MUST_CLOSE):  # CONNECT, Upgrade
                    items.append(("switch",))
                    break
                # Answer at once, as the harness does when our connection says PAUSED.
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    items.append(("close",))
                    break
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                items.append(("closed",))
                break
    except h11.RemoteProtocolError as exc:
        items.append(("error", exc.error_status_hint))
    return tuple(items)


def _ids(case: Case) -> str:
    return case.name


def _rejected(outcome: Outcome) -> bool:
    return bool(outcome) and outcome[-1][0] == "error"


@pytest.mark.parametrize(
    "case", [case for case in CORPUS if case.valid and case.h11 is None], ids=_ids
)
def test_valid_corpus_matches_h11(case: Case) -> None:
    """Valid corpus entries (RFC 9112): h11 sees the same requests, bodies and trailers."""
    ours = feed(split_whole(case.data), case.limits, eof=case.eof).outcome
    assert h11_outcome(case.data, eof=case.eof) == ours


@pytest.mark.parametrize(
    "case", [case for case in CORPUS if not case.valid and case.h11 is None], ids=_ids
)
def test_invalid_corpus_rejected_by_h11_too(case: Case) -> None:
    """Invalid entries without a note are errors for h11 too (the oracle agrees)."""
    assert _rejected(h11_outcome(case.data, eof=case.eof))


@pytest.mark.parametrize(
    "case",
    [case for case in CORPUS if not case.valid and case.h11 is not None],
    ids=_ids,
)
def test_stricter_than_h11_is_deliberate(case: Case) -> None:
    """Invalid entries with a note: h11 really accepts them and we really reject them."""
    assert not _rejected(h11_outcome(case.data, eof=case.eof)), case.h11
    assert feed([case.data], case.limits, eof=case.eof).error is not None


# -- generated valid requests ------------------------------------------------------------

_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Names that change framing, routing or connection handling are covered by the corpus.
_SPECIAL = {
    b"host",
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"expect",
    b"upgrade",
    b"te",
    b"trailer",
}
_VCHAR_NO_HASH = bytes(c for c in range(0x21, 0x7F) if c != ord("#"))

token = st.text(alphabet=_TCHARS, min_size=1, max_size=12).map(lambda s: s.encode("ascii"))
method = token.filter(lambda m: m not in (b"CONNECT", b"HEAD"))
target = st.binary(max_size=30).map(
    lambda raw: b"/" + bytes(_VCHAR_NO_HASH[b % len(_VCHAR_NO_HASH)] for b in raw)
)
field_name = token.filter(lambda n: n.lower() not in _SPECIAL)
value_char = st.sampled_from([bytes([c]) for c in (*range(0x21, 0x7F), *range(0x80, 0x100))])
field_value = st.lists(
    st.tuples(
        st.sampled_from([b"", b" ", b"\t", b" \t "]), st.lists(value_char, min_size=1, max_size=6)
    ),
    max_size=4,
).map(lambda parts: b"".join(sep + b"".join(chars) for sep, chars in parts).strip(b" \t"))
ows = st.sampled_from([b"", b" ", b"  ", b"\t"])


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A valid HTTP/1.1 request (head, optional CL or chunked body) and random cut points."""
    lines = [draw(method) + b" " + draw(target) + b" HTTP/1.1", b"Host: example.com"]
    for name, value in draw(st.lists(st.tuples(field_name, field_value), max_size=6)):
        lines.append(name + b":" + draw(ows) + value + draw(ows))
    body = draw(st.binary(max_size=64))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    payload = b""
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        bounds = [0, *cuts, len(body)]
        for a, b in pairwise(bounds):
            if b > a:
                size = b"%x" % (b - a)
                if draw(st.booleans()):
                    size = size.upper().rjust(3, b"0")
                payload += size + b"\r\n" + body[a:b] + b"\r\n"
        payload += b"0\r\n"
        for name, value in draw(st.lists(st.tuples(field_name, field_value), max_size=2)):
            payload += name + b": " + value + b"\r\n"
        payload += b"\r\n"
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + payload
    return raw, draw(st.lists(st.integers(0, len(raw)), max_size=8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_requests())
def test_generated_requests_match_h11(case: tuple[bytes, list[int]]) -> None:
    """RFC 9112 3, 5, 6, 7: random valid requests, randomly split, parse as h11 parses them."""
    raw, cuts = case
    ours = feed(split_at(raw, cuts)).outcome
    assert ours == h11_outcome(raw)
    assert ours[0][0] == "request"
    assert ours[-1][0] == "end"
