"""Access log records and their formats (Apache `combined` and `common`).

Owns: the record the transport fills in for each answered request, and turning it into one
safe line. Request bytes are attacker-controlled, so every field is escaped: no control
character, quote or backslash reaches the log raw. Must not: do I/O; the server hands the line
to a logger.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\xff"\\]')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FORMATS = ("combined", "common")


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; the transport fills it in as the request goes."""

    remote: str
    method: str = "-"
    target: str = "-"
    version: str = "-"
    status: int = 0
    body_bytes: int = 0
    referer: str = ""
    user_agent: str = ""
    started: float = 0.0  # wall clock (time.time) when the head was parsed
    duration_us: int = 0


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


def format_record(record: RequestRecord, fmt: str = "combined") -> str:
    """One log line (without newline) in `fmt`, which must be one of `FORMATS`."""
    request_line = escape(f"{record.method} {record.target} HTTP/{record.version}")
    size = str(record.body_bytes) if record.body_bytes else "-"
    line = (
        f"{escape(record.remote) or '-'} - - [{_timestamp(record.started)}] "
        f'"{request_line}" {record.status or "-"} {size}'
    )
    if fmt == "combined":
        line += f' "{escape(record.referer) or "-"}" "{escape(record.user_agent) or "-"}"'
    return line
