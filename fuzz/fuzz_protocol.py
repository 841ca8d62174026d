"""Coverage-guided fuzz target for the protocol layer (atheris / libFuzzer).

Feeds arbitrary bytes into `ServerConnection`, whole and split at fuzzer-chosen points, and
checks two properties:

1. only `wsgiserver.errors.ProtocolError` escapes (anything else is a crash);
2. feeding the bytes whole, byte by byte and split at arbitrary points gives the same outcome
   (the same events with bodies merged, or the same error status): RFC 9112 section 11.2,
   one message, one interpretation.

The first bytes of the input choose the limits (defaults or tiny ones, so 413/414/431 race
the syntax checks), whether the client closes its side at the end, and the cut points.

Run from the repository root (needs `pip install atheris`)::

    mkdir -p fuzz/corpus
    python fuzz/fuzz_protocol.py --seed-corpus fuzz/corpus   # seeds from tests/protocol/corpus.py
    nice -n 19 python fuzz/fuzz_protocol.py fuzz/corpus -dict=fuzz/http.dict \
        -max_total_time=1800 -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1

A crasher is written to `crash-<sha1>` in the working directory; replay it with
`python fuzz/fuzz_protocol.py crash-<sha1>` and keep it as a regression test in
`tests/protocol/test_fuzz_regressions.py`. `fuzz/corpus/` is not committed.
"""

from __future__ import annotations

import hashlib
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with atheris.instrument_imports():
    import wsgiserver.protocol  # noqa: F401  (instrumented for coverage)
    from wsgiserver.errors import ProtocolError
    from wsgiserver.protocol import Limits

from tests.protocol.protocol_harness import feed, split_at, split_bytes

SMALL_LIMITS = Limits(
    max_request_line=64,
    max_header_count=4,
    max_header_field=64,
    max_head_size=256,
    max_body_size=16,
    max_chunk_extension=16,
)
DEFAULT_LIMITS = Limits()


def check(raw: bytes) -> None:
    """The property, on one input; shared with the regression tests."""
    fdp = atheris.FuzzedDataProvider(raw)
    flags = fdp.ConsumeIntInRange(0, 3)
    limits = SMALL_LIMITS if flags & 1 else DEFAULT_LIMITS
    eof = bool(flags & 2)
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 8))]
    data = fdp.ConsumeBytes(fdp.remaining_bytes())
    run_outcome(data, limits, eof, cuts)


def run_outcome(data: bytes, limits: Limits, eof: bool, cuts: list[int]) -> None:
    # `feed` catches ProtocolError only: any other exception propagates and is a crash.
    whole = feed([data], limits, eof=eof)
    if whole.error is not None and not isinstance(whole.error, ProtocolError):
        raise AssertionError(f"non-protocol error {whole.error!r}")
    split = feed(split_at(data, cuts), limits, eof=eof)
    if split.outcome != whole.outcome:
        raise AssertionError(f"split feeding differs:\n{whole.outcome}\n{split.outcome}")
    if len(data) <= 512:
        by_byte = feed(split_bytes(data), limits, eof=eof)
        if by_byte.outcome != whole.outcome:
            raise AssertionError(f"byte feeding differs:\n{whole.outcome}\n{by_byte.outcome}")


def write_seeds(directory: str) -> None:
    """Seed the corpus with every corpus.py entry (prefix bytes: default limits, no cuts)."""
    from tests.protocol.corpus import CORPUS

    os.makedirs(directory, exist_ok=True)
    for case in CORPUS:
        flags = (1 if case.limits == SMALL_LIMITS else 0) | (2 if case.eof else 0)
        # FuzzedDataProvider reads integers from the end of the input... keep it simple:
        # the prefix is a best effort, libFuzzer mutates it anyway.
        seed = bytes([flags, 0]) + case.data
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(directory, name), "wb") as out:
            out.write(seed)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-corpus":
        write_seeds(sys.argv[2])
        return
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
