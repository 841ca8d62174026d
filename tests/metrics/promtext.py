"""A tiny strict parser of the Prometheus text exposition format 0.0.4, and test clients.

Strict on purpose: every sample belongs to a family announced by a HELP and a TYPE line
before it, names and labels match the grammar, label values use only the three escapes,
histogram buckets are cumulative and end with le="+Inf" equal to _count.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^(?P<name>{_NAME})(?:\{{(?P<labels>(?:{_LABEL}={_VALUE})(?:,{_LABEL}={_VALUE})*)?\}})?"
    r" (?P<value>[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?|\+Inf|-Inf|NaN))$"
)
_PAIR = re.compile(rf"({_LABEL})=({_VALUE})")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


@dataclass
class Family:
    name: str
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), quoted[1:-1])


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ValueError("the exposition must end with a newline")
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    for number, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            if not re.fullmatch(_NAME, name) or name in helps:
                raise ValueError(f"line {number}: bad or repeated HELP {line!r}")
            helps[name] = doc
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if kind not in _TYPES or name in families or name not in helps:
                raise ValueError(f"line {number}: bad TYPE {line!r}")
            families[name] = Family(name, kind, helps[name])
        elif line.startswith("#") or not line:
            raise ValueError(f"line {number}: unexpected {line!r}")
        else:
            match = _SAMPLE.match(line)
            if match is None:
                raise ValueError(f"line {number}: bad sample {line!r}")
            name = match.group("name")
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            family = families.get(name) or families.get(base)
            if family is None or (family.name != name and family.kind != "histogram"):
                raise ValueError(f"line {number}: sample without a family: {line!r}")
            if list(families)[-1] != family.name:
                raise ValueError(f"line {number}: family {family.name} is interleaved")
            labels = {k: _unescape(v) for k, v in _PAIR.findall(match.group("labels") or "")}
            family.samples.append((name, labels, float(match.group("value"))))
    for family in families.values():
        if family.kind == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    buckets = [(s[1]["le"], s[2]) for s in family.samples if s[0].endswith("_bucket")]
    counts = [s[2] for s in family.samples if s[0].endswith("_count")]
    if not buckets or buckets[-1][0] != "+Inf" or len(counts) != 1:
        raise ValueError(f"{family.name}: no +Inf bucket or _count")
    values = [v for _, v in buckets]
    if values != sorted(values) or values[-1] != counts[0]:
        raise ValueError(f"{family.name}: buckets not cumulative or +Inf != _count")


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    family = families.get(name) or families[re.sub(r"_(bucket|sum|count)$", "", name)]
    return sum(
        v
        for sample, have, v in family.samples
        if sample == name and all(have.get(k) == want for k, want in labels.items())
    )


def get(host: str, port: int, path: str, *, timeout: float = 10.0) -> tuple[int, bytes, bytes]:
    """One request with `Connection: close`, read to EOF: (status, head, body).

    Reading to EOF matters: the server closes only after it has finished with the request
    (counters included), so what the next scrape shows is settled.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body
