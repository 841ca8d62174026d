"""Owns the HTTP/2 load generator: building h2load command lines and reading its output.

h2load (Debian's ``nghttp2-client``) drives the ``h2`` scenarios: cleartext
HTTP/2 with prior knowledge (an ``http://`` URL), a fixed number of
connections each keeping a fixed number of streams open.  Its text report
gives the totals and the rate but no latency percentiles, so every run also
writes h2load's per-request log (``--log-file``: start time, status,
duration in µs, one line per finished request) and the percentiles come from
it.  The numbers end up in the same :class:`~bench.wrk.WrkResult` as wrk's,
so rounds, medians, ratios and tables need nothing of their own; h2load's
``failed`` count (errored, timed out, or answered with a status of 400 or
more) goes in :attr:`~bench.wrk.WrkResult.failed`, and the runner reports a
run with any as failed rather than as a number.

Nothing here starts a server or decides what a failure means for a run.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench.wrk import WrkResult

THREADS = 1
"""h2load threads: one, since h2load is pinned to a single CPU."""
INACTIVITY_TIMEOUT_S = 5
"""A connection with nothing received for this long is given up (its requests time out)."""
PERCENTILES = ("50", "75", "90", "99")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


class H2loadError(RuntimeError):
    """h2load failed, completed no request, or printed something this module cannot read."""


def command(
    h2load: Path,
    cpu: int,
    url: str,
    connections: int,
    streams: int,
    seconds: float,
    log_file: Path,
    headers: Sequence[str] = (),
    data: Path | None = None,
) -> list[str]:
    """A pinned h2load command line: ``connections`` x ``streams`` for ``seconds``."""
    cmd = [
        "taskset",
        "-c",
        str(cpu),
        str(h2load),
        "-t",
        str(THREADS),
        "-c",
        str(connections),
        "-m",
        str(streams),
        "-D",
        str(max(1, round(seconds))),
        "-N",
        str(INACTIVITY_TIMEOUT_S),
        f"--log-file={log_file}",
    ]
    for header in headers:
        cmd += ["-H", header]
    if data is not None:
        cmd += ["-d", str(data)]
    cmd.append(url)
    return cmd


def run(cmd: list[str], seconds: float, log_file: Path) -> WrkResult:
    """Run h2load (``cmd`` from :func:`command` with ``log_file``) and read its numbers."""
    log_file.unlink(missing_ok=True)  # a run that logs nothing must not read an older log
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise H2loadError("h2load did not finish in time") from exc
    if done.returncode != 0:
        # h2load 1.52 can abort on a libev assertion when it closes a connection that its
        # inactivity timeout (-N) gave up on: the run failed, whoever was slow.
        how = (
            f"was killed by {signal.Signals(-done.returncode).name}"
            if done.returncode < 0
            else f"exited {done.returncode}"
        )
        why = done.stderr.strip() or done.stdout.strip()
        raise H2loadError(f"h2load {how}: {why[-300:]}")
    # No log at all when no request finished: parse() then says what failed.
    log = log_file.read_text() if log_file.exists() else ""
    return parse(done.stdout, durations_us(log))


def durations_us(log: str) -> list[int]:
    """The request durations (µs) of h2load's ``--log-file``, in the order written."""
    found: list[int] = []
    for line in log.splitlines():
        fields = line.split("\t")
        if len(fields) != 3 or not fields[2].strip().isdigit():
            raise H2loadError(f"unexpected h2load log line: {line[:80]!r}")
        found.append(int(fields[2]))
    return found


def parse(report: str, durations: Sequence[int]) -> WrkResult:
    """h2load's text report and the durations of its request log, as one result."""
    finished = re.search(r"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", report, re.M)
    counts = re.search(
        r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored, (\d+) timeout",
        report,
        re.M,
    )
    statuses = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", report, re.M)
    if finished is None or counts is None or statuses is None:
        raise H2loadError(f"unexpected h2load output: {report.strip()[-300:]!r}")
    _, _, _, succeeded, failed, errored, timeout = (int(value) for value in counts.groups())
    if not durations:
        # h2load's own line: it can also be "0 total" (no stream was ever opened).
        raise H2loadError(f"h2load completed no request; {counts[0]}")
    ordered = sorted(durations)
    seconds = float(finished[1]) * _SECONDS[finished[2]]
    return WrkResult(
        requests=succeeded,
        seconds=seconds,
        requests_per_sec=float(finished[3]),
        latency_avg_ms=sum(ordered) / len(ordered) / 1000.0,
        latency_max_ms=ordered[-1] / 1000.0,
        percentiles_ms={name: _percentile(ordered, float(name)) / 1000.0 for name in PERCENTILES},
        non_2xx_3xx=int(statuses[3]) + int(statuses[4]),
        socket_errors={"errored": errored, "timeout": timeout},
        failed=failed,
    )


def failure(result: WrkResult) -> str | None:
    """Why a run with failed requests is not a number, or None when none failed."""
    if result.failed == 0:
        return None
    errors = result.socket_errors
    return (
        f"{result.failed:,} requests failed ({errors.get('errored', 0):,} errored, "
        f"{errors.get('timeout', 0):,} timed out, {result.non_2xx_3xx:,} with status 4xx/5xx); "
        f"{result.requests:,} succeeded"
    )


def body_file(directory: Path, size: int) -> Path:
    """A file of ``size`` bytes of ``x`` in ``directory`` for h2load's ``-d`` (the request
    body every stream posts, as ``bench/post.lua`` does for wrk)."""
    path = directory / f"body-{size}.bin"
    path.write_bytes(b"x" * size)
    return path


def _percentile(ordered: Sequence[int], percent: float) -> float:
    """Nearest-rank percentile of sorted values (an observed duration, never interpolated)."""
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return float(ordered[rank - 1])
