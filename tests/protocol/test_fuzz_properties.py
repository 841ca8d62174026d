"""Property tests: mutated requests never crash the parser and never get two framings.

Random insertions, deletions and byte flips of valid requests (from the corpus) must only
ever raise ProtocolError subclasses, and feeding the result whole, line by line, byte by byte
or at random cut points must give the same outcome: the same events, or the same error
status (RFC 9112 section 11.2: a message must have exactly one interpretation).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.corpus import SMALL_LIMITS, VALID
from tests.protocol.protocol_harness import SPLITTERS, feed, split_at
from wsgiserver.protocol import Limits

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
