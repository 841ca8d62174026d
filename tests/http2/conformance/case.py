"""What a conformance case is (an id, a description, a function), and what it runs against.

A case function gets the `Target` and a fresh `RawConnection` to it, sends its frames, and
returns the `Verdict` of its last pass rule (or raises `Failed` or `Skipped`). The groups
(`generic`, `http2_*`, `hpack_decoding`) each collect theirs in a `Group`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.http2.conformance.rules import Failed, Verdict
from tests.http2.conformance.wire import Frame, FrameType, Headers, RawConnection

FILLER_VALUE_LENGTH = 4_000  # bytes in the value of each filler field


@dataclass(frozen=True)
class Target:
    """The server under test, reached over cleartext HTTP/2 with prior knowledge."""

    host: str
    port: int
    timeout: float  # for each wait; h2spec's default is 2 s
    path: str = "/"

    def connect(self) -> RawConnection:
        return RawConnection((self.host, self.port), self.timeout)

    def request(self, method: str = "GET") -> Headers:
        """The pseudo-header fields of a request for `path`, in the usual order."""
        return [
            (":method", method),
            (":scheme", "http"),
            (":path", self.path),
            (":authority", f"{self.host}:{self.port}"),
        ]

    def filler(self, count: int) -> Headers:
        """`count` made-up fields of 4,000-byte values, to make a field block large."""
        return [(f"x-dummy{index}", "x" * FILLER_VALUE_LENGTH) for index in range(count)]

    def response_length(self) -> int:
        """How many body bytes a GET of `path` gets, read on a connection of its own."""
        with self.connect() as conn:
            conn.handshake()
            conn.write_headers(1, conn.encode(self.request()))
            total = 0
            while not conn.ended:
                event = conn.next_event()
                if not (
                    isinstance(event, Frame) and event.type in (FrameType.DATA, FrameType.HEADERS)
                ):
                    continue
                if event.type == FrameType.DATA:
                    total += len(event.payload)
                if event.ends_stream:
                    return total
        raise Failed("a whole response to measure", conn.received[-1] if conn.received else None)


Run = Callable[[Target, RawConnection], Verdict]


@dataclass(frozen=True)
class Case:
    id: str  # h2spec's, e.g. "http2/8.1.2.6/1"
    description: str
    run: Run


class Group:
    """The cases of one module, in the order they are defined."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def case(self, id_: str, description: str) -> Callable[[Run], Run]:
        def register(run: Run) -> Run:
            self.cases.append(Case(id_, description, run))
            return run

        return register
