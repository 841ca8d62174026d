"""The size limits the protocol layer enforces, with their defaults.

Owns: the numbers, their meaning and their defaults: the defaults below are wsgiserver's
(the `max_*` options of `Config` take theirs from a `Limits()`, so each is written once, here).
Must not: read config files or the environment; the server builds a `Limits` from the
`Config` and passes it down.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Per-connection parsing limits. Each exceeded limit has its own status code."""

    max_request_line: int = 8190  # bytes, without CRLF -> 414
    max_header_count: int = 100  # field lines in the head (trailers count too) -> 431
    max_header_field: int = 8190  # bytes of one field line -> 431
    max_head_size: int = 65536  # bytes of the whole head -> 431
    max_body_size: int = 1 << 30  # bytes of decoded body -> 413
    max_chunk_extension: int = 4096  # bytes of chunk extensions on one chunk line -> 400
    max_drain_size: int = 65536  # unread body bytes we still read to keep a connection alive

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Limits.{name} must be a non-negative int, got {value!r}")
