"""The limits of an HTTP/2 connection, with their defaults.

Owns: the numbers and their meaning: the defaults below are wsgiserver's (the `http2_*`
options of `Config` take theirs from an `H2Limits()`, so each is written once, here). Must
not: import `h2` (the configuration reads these defaults on every install).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WINDOW = 2**31 - 1  # RFC 9113 section 6.9.1: the largest flow-control window
# RFC 9113 section 6.5.1: every SETTINGS value is a 32-bit unsigned field; a larger one
# cannot be sent at all (the frame fails to serialize for every connection).
MAX_SETTING = 2**32 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class H2Limits:
    """Per-connection HTTP/2 limits (RFC 9113 section 6.5.2 settings, and flood budgets).

    `max_concurrent_streams`, `max_header_list_size` and `initial_window_size` are sent to
    the client in SETTINGS. A stream over the concurrency limit is refused (RST_STREAM
    REFUSED_STREAM, safe to retry); a header list over its limit is answered 431, and one
    that decodes to more than `HPACK_BOUND` times it (an HPACK bomb) ends the connection.
    The connection's own receive window is `CONNECTION_WINDOW_FACTOR` stream windows.

    The budgets count, per connection and over `flood_window` seconds, what costs the
    server work without carrying a request forward: `reset_budget` streams reset (by the
    client, or refused by us: CVE-2023-44487 "rapid reset"), and `frame_budget` SETTINGS,
    PING, PRIORITY, empty DATA and unknown frames. Over either, the connection ends with
    GOAWAY ENHANCE_YOUR_CALM.
    """

    max_concurrent_streams: int = 100
    max_header_list_size: int = 65536  # bytes, counted as RFC 9113 section 6.5.2 says
    initial_window_size: int = 262144  # bytes a stream may send before the app reads
    flood_window: float = 10.0
    reset_budget: int = 200
    frame_budget: int = 1000

    def __post_init__(self) -> None:
        for name in (
            "max_concurrent_streams",
            "max_header_list_size",
            "reset_budget",
            "frame_budget",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"H2Limits.{name} must be a positive int, got {value!r}")
        for name in ("max_concurrent_streams", "max_header_list_size"):  # sent in SETTINGS
            if getattr(self, name) > MAX_SETTING:
                raise ValueError(f"H2Limits.{name} must be at most {MAX_SETTING}")
        if not 1 <= self.initial_window_size <= MAX_WINDOW:
            raise ValueError(f"H2Limits.initial_window_size must be 1..{MAX_WINDOW}")
        if not self.flood_window > 0:
            raise ValueError("H2Limits.flood_window must be positive")

    @property
    def connection_window(self) -> int:
        return min(self.initial_window_size * CONNECTION_WINDOW_FACTOR, MAX_WINDOW)


# The connection's receive window, in stream windows: a stream whose app reads slowly holds
# at most its own window of it, so others can still upload.
CONNECTION_WINDOW_FACTOR = 4
# A header block may decode to this many times max_header_list_size before the connection
# is ended (hpack stops decoding there); up to that the stream gets a 431.
HPACK_BOUND = 2
