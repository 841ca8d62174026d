"""Run the request corpus: each entry whole, line by line and byte by byte (RFC 9112).

One input must have one answer whatever the read boundaries: the same events (bodies
compared concatenated) or the same error status. After an error the connection stays failed.
"""

from __future__ import annotations

import pytest

from tests.protocol.corpus import CORPUS, INVALID, Case
from tests.protocol.protocol_harness import SPLITTERS, assert_failed_for_good, feed


def _ids(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("mode", list(SPLITTERS))
@pytest.mark.parametrize("case", CORPUS, ids=_ids)
def test_corpus(case: Case, mode: str) -> None:
    """The entry's expected outcome, cited in `case.ref`, in every feeding mode."""
    run = feed(SPLITTERS[mode](case.data), case.limits, eof=case.eof)
    assert run.outcome == case.outcome, case.ref
    if case.attrs:
        assert run.requests, "attrs need a request"
        first = run.requests[0]
        for name, value in case.attrs.items():
            assert getattr(first, name) == value, (name, case.ref)


@pytest.mark.parametrize("case", INVALID, ids=_ids)
def test_failed_connection_stays_failed(case: Case) -> None:
    """RFC 9112 section 11.2: after a framing error no later byte may become an event."""
    run = feed([case.data], case.limits, eof=case.eof)
    assert run.error is not None
    assert_failed_for_good(run)


def test_corpus_is_big_and_cited() -> None:
    """The corpus covers both kinds of input, and every entry names its RFC rule."""
    assert len(CORPUS) >= 120
    assert len(INVALID) >= 60
    assert all(case.ref.startswith("RFC") for case in CORPUS)
    assert len({case.name for case in CORPUS}) == len(CORPUS)
