"""Request ids: taken from a trusted proxy's header, or generated.

Owns: choosing the id of each request. A trusted proxy's (`--forwarded-allow-ips`) request-id
header (`--request-id-header`, default `X-Request-ID`) is used when it is 1 to 128 printable
ASCII characters without spaces; otherwise, or from an untrusted peer, an id is generated: a
per-process random prefix (8 hex digits from `os.urandom`, drawn when the server is created,
so every worker process has its own), a dash and a per-process decimal counter, e.g.
`3f9a01c2-1042`. Unique per process lifetime and cheap: about 50 ns, no syscall per request
(16 random hex digits from `os.urandom` per request would cost a syscall each).
Must not: touch sockets; the gateway calls it with the environ it built.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from typing import Any

from wsgiserver.gateway.environ import environ_key

MAX_LENGTH = 128
_VALID = re.compile(r"[!-~]{1,%d}" % MAX_LENGTH)  # noqa: UP031 - a regex full of braces


class RequestIds:
    """`ids(environ, peer_host)` -> the request id. Thread-safe (itertools.count)."""

    __slots__ = ("_counter", "_key", "_prefix", "_trusts", "header")

    def __init__(self, header: str, trusts: Callable[[str | None], bool]) -> None:
        self.header = header  # "" disables reading (and echoing) a header
        # The option was checked to be a token without "_" (config): it has a CGI name.
        self._key = (environ_key(header.lower().encode("ascii")) or "") if header else ""
        self._trusts = trusts
        self._prefix = os.urandom(4).hex() + "-"
        self._counter = itertools.count(1)

    def generate(self) -> str:
        return self._prefix + str(next(self._counter))

    def __call__(self, environ: dict[str, Any], remote: tuple[str, int] | None) -> str:
        key = self._key
        if key:
            value = environ.get(key)
            if (
                value is not None
                and _VALID.fullmatch(value) is not None
                and self._trusts(remote[0] if remote is not None else None)
            ):
                return value  # type: ignore[no-any-return]
        return self._prefix + str(next(self._counter))
