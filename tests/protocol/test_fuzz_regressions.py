"""Inputs found by the coverage-guided fuzzer (fuzz/fuzz_protocol.py), replayed as tests.

Each case is (small limits?, end of stream?, cut points, bytes), decoded from a fuzzer input
exactly as the fuzz target decodes it. The property is the target's: only ProtocolError may
escape (`feed` lets anything else through), and feeding whole, at the cut points and byte by
byte gives one outcome (RFC 9112 section 11.2). A crasher found by a future campaign is
added here; the two runs of 2026-11-24 found none, so these are interesting inputs from their
corpus (pipelining, chunked framing, 413/414/417/431/501/505 races, garbage after requests).
"""

from __future__ import annotations

import pytest

from tests.protocol.corpus import DEFAULT_LIMITS, SMALL_LIMITS
from tests.protocol.protocol_harness import feed, split_at, split_bytes

CASES: list[tuple[bool, bool, list[int], bytes]] = [
    # From run 2 (with fuzz/http.dict): bodies, chunked framing, 413/417/501 races.
    (True, True, [], b"v / HTTP/1.1\r\nHost:\r\nExpect:,,ff\r\n\r\n"),
    (False, False, [46], b"vT / HTTP/1.1\r\nContent-Length:6 \r\nHost: \r\n\r\n `"),
    (
        True,
        True,
        [3914, 1276, 0],
        b"v // HTTP/1.1\r\ntLdngh:P/\r\nContent-Length:60\r\nHost: a\r\n\r\n",
    ),
    (True, True, [], b"v / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:zip, chunked\r\n\r\n"),
    (
        True,
        True,
        [2570, 45, 766, 4080, 3857, 1086, 364],
        b"v / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:chunked \r\n\r\na\r\nT",
    ),
    (
        True,
        False,
        [],
        b"v / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:chunked \r\n\r\nfffff\r\n#",
    ),
    (
        False,
        False,
        [],
        b"v / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:chunked \r\n\r\n2\r\n\r\n\r\na\r\n"
        b"Ta.1\x00\x00\x10\n` / \xff\xff",
    ),
    (
        True,
        True,
        [2861, 3395, 364],
        b"v / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:chunked\r\n\r\n0\r\n\r\n\r\nav / HTTP/1.1"
        b"\r\nHost: a\r\nTransfer-Encoding:chunked \r\n\r\na\r\nT",
    ),
    (
        True,
        True,
        [],
        b"vT / HTTP/1.1\r\nHost:\r\n\r\nV / HTTP/1.1\r\nContent-Length:6 \r\nHost: a\r\n\r\n"
        b"v `11:\r\n\r\n` / HTTP/1.1\r\nContent-Length:7 \r\nHost: a\r\n\r\nvvvv\x11\nH",
    ),
    # From run 1 (no dictionary).
    (False, True, [45, 3666, 512, 0], b"\x01"),
    (False, False, [], b"\n\rH"),
    (True, False, [3532], b"\x00\r\n\r\n"),
    (True, True, [], b"T / HTTP/1.0\r\n\r\n"),
    (False, False, [], b"# / HTTP/4.1\r\n\r\n"),
    (True, True, [3934], b"v / HTTP/1.1\r\nHost:\r\n\r\n"),
    (False, False, [], b"T / HTTP/1.1\r\nHost:c\r\n\r\n`\r\n\r\n"),
    (True, False, [], b"v / HTTP/1.1\r\nH\r\nv\r\n1.1{\r\nc\r\n`/a\r\n\r\n"),
    (
        True,
        True,
        [],
        b"v / HTTP/1.1\r\nHost: a\r\n\r\n` / HTTP/1.1\r\nHost: \r\n\r\n /\r\n\r\n",
    ),
    (
        True,
        True,
        [],
        b"\x00\x00POST.\xff\xfd\xffu\xff\xff\x00\x00\xff\xff2\xff\xdfOST \x00\x00\x00\x00"
        b"\x00\x00\x00  HTP/0.\xff\xff\xff\xff\xff\xff\xfa{\xff\x10vvvvvvT\xff\xff\xff(\xff",
    ),
    (
        True,
        False,
        [263],
        b"\x89\x89v\x13vvT / HTTPeaaaa\xafaaaaa\x00\x01\x00\x00\x00\x00a"
        + b"\x00" * 30
        + b"\xfc\x00\x00\x00nt-L.\r-G",
    ),
    (
        True,
        True,
        [],
        b"vT / HTTP/1.1\r\nHost\xb9\xb9\xb9\xb9\xb9O\x00\x00\x00\x00\x00\xb9\xb9\x01\x00"
        b"\x00\x02\x00\x00\x00\x00\xb9\xb9\xb8\xb9\xb9\xff\x9b"
        + b"\xff" * 11
        + b"\xb9" * 5
        + b"0"
        + b"\xb9" * 9
        + b"0"
        + b"\xb9" * 7
        + b"\r\n\r\nel",
    ),
    (
        False,
        True,
        [],
        b"\r\n\r\n\r\naT / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\n` / HTTP/1.1\r\nHost: a\r\n\r\n"
        b"aT / HTTP/1.1\r\nHost: a\r\n\r\n`Pv\x00",
    ),
]


@pytest.mark.parametrize(("small", "eof", "cuts", "data"), CASES)
def test_fuzzer_input_has_one_outcome(small: bool, eof: bool, cuts: list[int], data: bytes) -> None:
    limits = SMALL_LIMITS if small else DEFAULT_LIMITS
    whole = feed([data], limits, eof=eof)
    assert feed(split_at(data, cuts), limits, eof=eof).outcome == whole.outcome
    assert feed(split_bytes(data), limits, eof=eof).outcome == whole.outcome
