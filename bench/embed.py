"""Owns the embedding benchmark: in-process start + first request + stop.

Run ``python -m bench.embed`` from the repository root.  For each server it
repeats "start on an ephemeral port, GET /, stop" (200 times by default) in
this one process and reports the median cycle, then checks that the thread
count and the open fd count (``/proc/self/fd``) are back to their baseline.
Servers: ``wsgiserver.testing.serving`` (skipped if it cannot be imported),
waitress through ``webtest.http.StopableWSGIServer``, werkzeug's
``make_server`` and ``cheroot.wsgi.Server``.  Third-party modules are
imported through importlib so the harness type-checks without them.

When started outside ``bench/.venv`` it prepares that venv and re-executes
itself there.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import json
import logging
import os
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.paths import REPO_ROOT

Serving = Callable[[], contextlib.AbstractContextManager[str]]
"""Starts a server and yields its base URL; leaving the block stops it."""

SETTLE_SECONDS = 2.0
"""How long to wait for threads and fds to return to baseline after the cycles."""


def _hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = b"Hello, world!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _base_url(served: object) -> str:
    """Best-effort URL of whatever ``wsgiserver.testing.serving`` yields."""
    if isinstance(served, str):
        return served
    for attribute in ("url", "base_url", "application_url"):
        value = getattr(served, attribute, None)
        if isinstance(value, str):
            return value
    address = getattr(served, "server_address", None) or getattr(served, "address", None)
    if isinstance(served, tuple):
        address = served
    if isinstance(address, tuple) and len(address) >= 2:
        return f"http://{address[0]}:{address[1]}/"
    port = getattr(served, "port", None)
    if isinstance(port, int):
        return f"http://127.0.0.1:{port}/"
    raise TypeError(f"cannot find a URL on {served!r}")


@contextlib.contextmanager
def _wsgiserver() -> Iterator[str]:
    testing = importlib.import_module("wsgiserver.testing")
    with testing.serving(_hello) as served:
        yield _base_url(served)


@contextlib.contextmanager
def _waitress() -> Iterator[str]:
    http_module = importlib.import_module("webtest.http")
    server = http_module.StopableWSGIServer.create(_hello)
    try:
        yield str(server.application_url)
    finally:
        server.shutdown()
        server.runner.join(10)


@contextlib.contextmanager
def _werkzeug() -> Iterator[str]:
    serving = importlib.import_module("werkzeug.serving")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    server = serving.make_server("127.0.0.1", 0, _hello, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug-bench")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def _cheroot() -> Iterator[str]:
    wsgi = importlib.import_module("cheroot.wsgi")
    server = wsgi.Server(("127.0.0.1", 0), _hello)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="cheroot-bench")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}/"
    finally:
        server.stop()
        thread.join(10)


CANDIDATES: dict[str, tuple[str, Serving]] = {
    "wsgiserver": ("wsgiserver.testing.serving(app)", _wsgiserver),
    "waitress": ("webtest.http.StopableWSGIServer.create(app)", _waitress),
    "werkzeug": ("werkzeug.serving.make_server + serve_forever thread", _werkzeug),
    "cheroot": ("cheroot.wsgi.Server in a thread", _cheroot),
}


@dataclass
class EmbedResult:
    """Timings and leak check of one server."""

    server: str
    how: str
    status: str
    error: str | None = None
    cycles: int = 0
    median_ms: float = 0.0
    p90_ms: float = 0.0
    max_ms: float = 0.0
    threads_baseline: int = 0
    threads_after: int = 0
    fds_baseline: int = 0
    fds_after: int = 0

    @property
    def clean(self) -> bool:
        return self.threads_after == self.threads_baseline and self.fds_after == self.fds_baseline


def _thread_count() -> int:
    """OS threads of this process (catches threads ``threading`` does not know)."""
    return len(os.listdir("/proc/self/task"))


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _first_request(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or body != b"Hello, world!":
        raise RuntimeError(f"unexpected response {response.status} {body[:40]!r}")


def _cycle(serving: Serving) -> float:
    started = time.perf_counter()
    with serving() as url:
        _first_request(url)
    return time.perf_counter() - started


def _settled(baseline: tuple[int, int]) -> tuple[int, int]:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        now = (_thread_count(), _fd_count())
        if now == baseline or time.monotonic() >= deadline:
            return now
        time.sleep(0.05)


def measure(name: str, how: str, serving: Serving, cycles: int) -> EmbedResult:
    """Run ``cycles`` start/request/stop cycles; failures become a result."""
    result = EmbedResult(name, how, "ok")
    try:
        _cycle(serving)  # warm-up: imports and one-time allocations
        result.threads_baseline, result.fds_baseline = _thread_count(), _fd_count()
        times = [_cycle(serving) for _ in range(cycles)]
    except ImportError as exc:
        result.status, result.error = "skipped", f"cannot import: {exc}"
        return result
    except Exception as exc:  # any server failure is reported, not raised
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        return result
    result.threads_after, result.fds_after = _settled(
        (result.threads_baseline, result.fds_baseline)
    )
    result.cycles = len(times)
    milliseconds = sorted(t * 1000 for t in times)
    result.median_ms = statistics.median(milliseconds)
    result.p90_ms = milliseconds[int(0.9 * (len(milliseconds) - 1))]
    result.max_ms = milliseconds[-1]
    return result


def _table(results: list[EmbedResult]) -> str:
    head = ("server", "median", "p90", "max", "threads", "fds", "clean")
    rows: list[tuple[str, ...]] = [head]
    notes = []
    for r in results:
        if r.status != "ok":
            rows.append((r.server, r.status.upper(), "-", "-", "-", "-", "-"))
            notes.append(f"  {r.server}: {r.status}: {r.error}")
            continue
        rows.append(
            (
                r.server,
                f"{r.median_ms:.2f}ms",
                f"{r.p90_ms:.2f}ms",
                f"{r.max_ms:.2f}ms",
                f"{r.threads_baseline}->{r.threads_after}",
                f"{r.fds_baseline}->{r.fds_after}",
                "yes" if r.clean else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines + notes)


def _reexec_in_venv(argv: list[str]) -> None:
    from bench.environment import SetupError, ensure_environment, running_in_venv

    if running_in_venv():
        return
    try:
        env = ensure_environment(lambda message: print(f"[bench.embed] {message}", file=sys.stderr))
    except SetupError as exc:
        raise SystemExit(f"bench.embed: {exc}") from exc
    os.chdir(REPO_ROOT)
    os.execve(str(env.python), [str(env.python), "-m", "bench.embed", *argv], env.server_env())


def main(argv: list[str] | None = None) -> int:
    """Measure every selected server and print a table (and JSON if asked)."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.embed", description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--servers", default=",".join(CANDIDATES))
    parser.add_argument("--json", type=Path, metavar="FILE")
    # Parsed (and checked) before the venv is prepared: --help or a typo costs no install.
    args = parser.parse_args(args_list)
    names = [name for name in args.servers.split(",") if name]
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown servers: {', '.join(unknown)}")
    _reexec_in_venv(args_list)
    results = []
    for name in names:
        how, serving = CANDIDATES[name]
        print(f"[bench.embed] {name}: {args.cycles} cycles", file=sys.stderr, flush=True)
        results.append(measure(name, how, serving, args.cycles))
    print(
        f"start + first request + stop, {args.cycles} cycles in one process "
        f"(Python {sys.version.split()[0]}):"
    )
    print(_table(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cycles": args.cycles,
                    "python": sys.version.split()[0],
                    "results": [{**asdict(r), "clean": r.clean} for r in results],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
