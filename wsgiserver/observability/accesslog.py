"""Access log records and their formats: `combined`, `common`, `json` and custom templates.

Owns: the record the transport fills in for each answered request, and turning it into one
safe line. Request bytes are attacker-controlled, so every field is escaped in every format:
in `combined`, `common` and custom templates no control character, non-ASCII byte, quote or
backslash reaches the log raw (`\\xHH`); `json` is `json.dumps(ensure_ascii=True)`, one object
per line. Must not: do I/O; the server hands the line to a logger.

Custom templates name fields in braces: `{remote} {method} {target} {status} {duration_us}`,
plus `{req:User-Agent}` / `{resp:Content-Type}` for any request or response header. `{{` and
`}}` are literal braces. `compile_format` validates a template once (at config time) and
raises ValueError naming the unknown fields. See docs/observability.rst.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wsgiserver.protocol.grammar import is_token

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\xff"\\]')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FORMATS = ("combined", "common", "json")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; the transport fills it in as the request goes.

    Times: `started` is the wall clock when the server began handling the request (after its
    head was parsed); `queue_us` is from the head being complete to the server starting to
    build the environ for the app (it includes receiving a small body before the app runs);
    `duration_us` is from the head being complete to the end of the response.
    """

    remote: str  # the socket peer ("-" on a unix socket)
    method: str = "-"
    target: str = "-"
    version: str = "-"
    status: int = 0
    body_bytes: int = 0  # response body bytes sent
    referer: str = ""
    user_agent: str = ""
    started: float = 0.0  # wall clock (time.time) when the head was parsed
    duration_us: int = 0
    queue_us: int = 0
    request_bytes: int = 0  # request body bytes the app read (after de-chunking)
    client: str = ""  # REMOTE_ADDR after trusted-proxy rewriting ("" = the peer)
    request_id: str = ""
    request_headers: list[tuple[bytes, bytes]] | None = None  # raw, lower-case names
    response_headers: list[tuple[str, str]] | None = None  # as the app gave them
    environ: dict[str, Any] | None = None  # the request's environ (for hooks)

    def request_header(self, name: str) -> str | None:
        """A request header's value (repeated fields joined with ", "), or None."""
        wanted = name.lower().encode("latin-1")
        values = [v.decode("latin-1") for n, v in self.request_headers or () if n == wanted]
        return ", ".join(values) if values else None

    def response_header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [v for n, v in self.response_headers or () if n.lower() == wanted]
        return ", ".join(values) if values else None


def escape(text: str) -> str:
    """Escape control characters, non-ASCII, quotes and backslashes as \\xHH."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _timestamp(when: float) -> str:
    tm = time.localtime(when)
    offset = tm.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} "
        f"{sign}{offset // 60:02d}{offset % 60:02d}"
    )


def _iso_time(when: float) -> str:
    tm = time.gmtime(when)
    millis = int(when * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{millis:03d}Z"


def format_record(record: RequestRecord, fmt: str = "combined") -> str:
    """One log line (without newline) in `fmt`: a name in `FORMATS` or a custom template."""
    if fmt == "combined" or fmt == "common":
        request_line = escape(f"{record.method} {record.target} HTTP/{record.version}")
        size = str(record.body_bytes) if record.body_bytes else "-"
        line = (
            f"{escape(record.remote) or '-'} - - [{_timestamp(record.started)}] "
            f'"{request_line}" {record.status or "-"} {size}'
        )
        if fmt == "combined":
            line += f' "{escape(record.referer) or "-"}" "{escape(record.user_agent) or "-"}"'
        return line
    if fmt == "json":
        return format_json(record)
    return compile_format(fmt)(record)


def format_json(record: RequestRecord) -> str:
    """One JSON object; `ensure_ascii` escapes every control and non-ASCII character."""
    return json.dumps(
        {
            "time": _iso_time(record.started),
            "remote": record.remote,
            "client": record.client or record.remote,
            "method": record.method,
            "target": record.target,
            "version": record.version,
            "status": record.status,
            "bytes": record.body_bytes,
            "request_bytes": record.request_bytes,
            "duration_us": record.duration_us,
            "queue_us": record.queue_us,
            "request_id": record.request_id,
            "referer": record.referer,
            "user_agent": record.user_agent,
        },
        ensure_ascii=True,
        separators=(",", ":"),
    )


# -- custom templates -------------------------------------------------------------------

_Getter = Callable[[RequestRecord], object]

FIELDS: dict[str, tuple[_Getter, str]] = {
    "remote": (lambda r: r.remote, "the socket peer's address"),
    "client": (
        lambda r: r.client or r.remote,
        "the client's address after trusted-proxy rewriting (REMOTE_ADDR)",
    ),
    "method": (lambda r: r.method, "the request method"),
    "target": (lambda r: r.target, "the request target as sent (path and query)"),
    "version": (lambda r: r.version, "the HTTP version, e.g. 1.1"),
    "request_line": (
        lambda r: f"{r.method} {r.target} HTTP/{r.version}",
        "method, target and version, as in the request line",
    ),
    "status": (lambda r: r.status or "-", "the response status code"),
    "bytes": (lambda r: r.body_bytes, "response body bytes sent"),
    "request_bytes": (lambda r: r.request_bytes, "request body bytes the app read"),
    "duration_us": (lambda r: r.duration_us, "from the head being complete to the response end"),
    "duration_ms": (lambda r: f"{r.duration_us / 1000:.3f}", "duration_us in milliseconds"),
    "queue_us": (lambda r: r.queue_us, "from the head being complete to the app being called"),
    "request_id": (lambda r: r.request_id, "the request id (environ wsgiserver.request_id)"),
    "time": (
        lambda r: _timestamp(r.started),
        "local time, as in common: 10/Oct/2000:13:55:36 +0000",
    ),
    "iso_time": (lambda r: _iso_time(r.started), "UTC time in ISO 8601 with milliseconds"),
    "referer": (lambda r: r.referer, "the Referer header"),
    "user_agent": (lambda r: r.user_agent, "the User-Agent header"),
    "pid": (lambda _r: os.getpid(), "the worker process id"),
}


def _header_getter(kind: str, name: str) -> _Getter:
    if kind == "req":
        return lambda r: r.request_header(name)
    return lambda r: r.response_header(name)


def _safe(value: object) -> str:
    if value is None or value == "":
        return "-"
    if type(value) is int:
        return str(value)
    return escape(str(value))


def compile_format(template: str) -> Callable[[RequestRecord], str]:
    """A function formatting a record with the custom `template`. Raises ValueError naming
    every unknown field (or a stray brace) in one line."""
    parts: list[str | _Getter] = []
    unknown: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append(template[position : match.start()])
        position = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        name = match.group(1)
        if name is None:
            raise ValueError(f"unmatched {token!r} (write {token * 2} for one)")
        kind, colon, header = name.partition(":")
        if colon and kind in ("req", "resp") and is_token(header):
            parts.append(_header_getter(kind, header))
        elif not colon and name in FIELDS:
            parts.append(FIELDS[name][0])
        else:
            unknown.append(name)
    if position < len(template):
        parts.append(template[position:])
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        raise ValueError(
            f"unknown field(s) {names}; known: "
            f"{', '.join(FIELDS)}, req:Header-Name, resp:Header-Name"
        )
    if not any(callable(part) for part in parts):
        raise ValueError(f"{template!r} is not one of {', '.join(FORMATS)} and names no {{field}}")
    frozen = tuple(parts)

    def render(record: RequestRecord) -> str:
        return "".join(part if isinstance(part, str) else _safe(part(record)) for part in frozen)

    return render


def formatter(fmt: str) -> Callable[[RequestRecord], str]:
    """The function turning records into lines for `fmt` (validated; ValueError if bad)."""
    if fmt in ("combined", "common"):
        return lambda record: format_record(record, fmt)
    if fmt == "json":
        return format_json
    return compile_format(fmt)
