"""Property tests: mutated requests never crash the parser and never get two framings.

Random insertions, deletions and byte flips of valid requests (from the corpus) must only
ever raise ProtocolError subclasses, and feeding the result whole, line by line, byte by byte
or at random cut points must give the same outcome: the same events, or the same error
status (RFC 9112 section 11.2: a message must have exactly one interpretation).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.corpus import SMALL_LIMITS, VALID
from tests.protocol.protocol_harness import SPLITTERS, feed, split_at
from wsgiserver.errors import ProtocolError
from wsgiserver.protocol import Limits
from wsgiserver.protocol.head import _parse_any, _parse_common

SEEDS = [case.data for case in VALID if len(case.data) < 2048]
# Bytes that matter to the grammar, so mutations hit interesting places more often.
INTERESTING = b'\r\n \t:;,="\x00\x7f\x80\xff0123456789aAfFgG-+#/*?%@[]'


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "flip", "replace", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        byte = draw(st.one_of(st.sampled_from(list(INTERESTING)), st.integers(0, 255)))
        if kind == "insert":
            data.insert(at, byte)
        elif data and kind == "delete":
            del data[at]
        elif data and kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif data and kind == "replace":
            data[at] = byte
        elif data:
            end = draw(st.integers(at, min(len(data), at + 16)))
            data[at:at] = data[at:end]
    return bytes(data)


def _same_everywhere(data: bytes, limits: Limits, cuts: list[int], eof: bool) -> None:
    reference = feed([data], limits, eof=eof)
    for name, splitter in SPLITTERS.items():
        other = feed(splitter(data), limits, eof=eof)
        assert other.outcome == reference.outcome, name
    assert feed(split_at(data, cuts), limits, eof=eof).outcome == reference.outcome


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutations(), st.lists(st.integers(0, 4096), max_size=6), st.booleans())
def test_mutations_have_one_outcome(data: bytes, cuts: list[int], eof: bool) -> None:
    """Any mutation: only ProtocolErrors (feed() lets others through), one outcome per input."""
    _same_everywhere(data, Limits(), cuts, eof)


@FUZZ
@given(mutations(), st.lists(st.integers(0, 4096), max_size=6), st.booleans())
def test_mutations_have_one_outcome_with_small_limits(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    """The same with tiny limits, so the 413/414/431 checks race the syntax checks."""
    _same_everywhere(data, SMALL_LIMITS, cuts, eof)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_random_bytes_have_one_outcome(data: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes, not just near-valid ones."""
    _same_everywhere(data, SMALL_LIMITS, cuts, True)


@pytest.mark.parametrize("seed", range(len(SEEDS)), ids=lambda i: f"seed{i}")
def test_every_prefix_is_need_data_or_error(seed: int) -> None:
    """RFC 9112 8: a truncated valid request is incomplete (no spurious error) until EOF."""
    data = SEEDS[seed]
    whole = feed([data]).outcome
    for cut in range(len(data)):
        prefix = feed([data[:cut]]).outcome
        assert all(item[0] != "error" for item in prefix)
        if prefix and prefix[-1][0] == "data":
            # The body may be cut short: its bytes so far start the whole body.
            partial, full = prefix[-1][1], whole[len(prefix) - 1][1]
            assert isinstance(partial, bytes)
            assert isinstance(full, bytes)
            assert full.startswith(partial)
            prefix = prefix[:-1]
        assert prefix == whole[: len(prefix)]


def _head_of(data: bytes) -> bytes | None:
    end = data.find(b"\r\n\r\n")
    head = data[: end + 4] if end >= 0 else b""
    if (
        not head
        or head.count(b"\r") != head.count(b"\r\n")
        or head.count(b"\n") != head.count(b"\r\n")
    ):
        return None  # the connection refuses bare CR/LF before the head parser runs
    return head


@pytest.mark.parametrize("limits", [Limits(), SMALL_LIMITS], ids=["default", "small"])
@FUZZ
@given(data=mutations())
def test_fast_head_path_agrees_with_the_full_one(limits: Limits, data: bytes) -> None:
    """head.py's fast path either declines or gives exactly what the line-by-line path gives
    (which is also the only one that raises): one head, one interpretation."""
    head = _head_of(data)
    if head is None:
        return
    fast = _parse_common(head, limits)
    try:
        full = _parse_any(head, limits)
    except ProtocolError:
        assert fast is None
        return
    assert fast is None or fast == full


def test_fast_head_path_is_taken_for_ordinary_requests() -> None:
    ordinary = re.compile(rb"(GET|POST) /[a-z/]* HTTP/1\.[01]\r\n(?:[A-Za-z-]+: [!-~]+\r\n)*\r\n")
    taken = 0
    for case in VALID:
        head = _head_of(case.data)
        if (
            head is not None
            and len(head) < case.limits.max_header_field
            and ordinary.fullmatch(head)
        ):
            assert _parse_common(head, case.limits) == _parse_any(head, case.limits)
            taken += 1
    assert taken >= 10
