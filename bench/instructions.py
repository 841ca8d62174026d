"""Instructions per request, counted by valgrind: ``python -m bench.instructions``.

Wall-clock and CPU-time numbers move with whatever else runs on a shared machine; an
instruction count does not (to about 1 %). This runs N keep-alive requests in-process through
``Transport.serve`` over a socketpair (the whole HTTP/1.1 path: parse, environ, app, head,
send; no threads, no poller) under ``valgrind --tool=callgrind``, twice with different N, and
reports the difference per request, so interpreter start-up and imports cancel out. With
``--baseline REV`` the package of an earlier commit is counted the same way, for a ratio.
Needs valgrind (Debian: ``apt-get install valgrind``). Must not: be used for absolute speed
(valgrind's count is not time), or count the server layer (pool, poller, housekeeper), which
a full run of ``python -m bench`` measures.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.baseline import BaselineError, export, resolve
from bench.paths import REPO_ROOT

SCENARIOS = ("hello", "post")
POST_BODY = b"x" * 65536
FEW, MANY = 500, 2500  # requests in the two counted runs; their difference is what is reported


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] == "POST":
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!"]


def _request(scenario: str) -> bytes:
    if scenario == "post":
        head = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
        return head % len(POST_BODY) + POST_BODY
    return b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


def drive(scenario: str, count: int) -> int:
    """Serve `count` keep-alive requests of `scenario`; return how many were answered.

    Imports whichever layout the `wsgiserver` on sys.path has (the layered one, or the flat
    one of commits before the layers), so an earlier commit can be counted too."""
    try:
        from wsgiserver.gateway.gateway import Gateway, ServerInfo
        from wsgiserver.transport.transport import Timeouts, Transport
    except ImportError:  # a commit from before the layers
        from wsgiserver.gateway import Gateway, ServerInfo  # type: ignore[attr-defined,no-redef]
        from wsgiserver.transport import Timeouts, Transport  # type: ignore[attr-defined,no-redef]
    from wsgiserver.protocol import Limits

    gateway = Gateway(_app, ServerInfo("127.0.0.1", "8000"), date=lambda: "Server: bench\r\n")
    server_end, client = socket.socketpair()
    for end in (server_end, client):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    transport = Transport(server_end, ("127.0.0.1", 1), gateway, Limits(), Timeouts())
    request = _request(scenario)
    ending = b"Hello, world!" if scenario == "hello" else POST_BODY[-16:]
    answered = 0
    try:
        for _ in range(count):
            client.sendall(request)
            transport.serve()
            received = b""
            while not received.endswith(ending):
                received += client.recv(1 << 20)
            answered += 1
    finally:
        client.close()
        server_end.close()
    return answered


def total_instructions(callgrind_out: str) -> int:
    """The total instruction count (Ir) of a callgrind output file's text."""
    for line in callgrind_out.splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError("no summary or totals line in the callgrind output")


def _count(valgrind: str, package_root: Path, scenario: str, requests: int) -> int:
    # The package root first on sys.path, then the repository (for `bench` itself): `-m`
    # would put the working directory first, and with it the working tree's package.
    code = (
        "import sys; sys.path[:0] = sys.argv[1:3]; from bench.instructions import drive; "
        "sys.exit(0 if drive(sys.argv[3], int(sys.argv[4])) == int(sys.argv[4]) else 1)"
    )
    with tempfile.TemporaryDirectory(prefix="wsgiserver-callgrind-") as directory:
        out = Path(directory) / "callgrind.out"
        subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--quiet",
                sys.executable,
                "-c",
                code,
                str(package_root),
                str(REPO_ROOT),
                scenario,
                str(requests),
            ],
            check=True,
            cwd=directory,
        )
        return total_instructions(out.read_text())


def per_request(valgrind: str, package_root: Path, scenario: str) -> int:
    """Instructions per request of `scenario` for the package under `package_root`."""
    few = _count(valgrind, package_root, scenario, FEW)
    many = _count(valgrind, package_root, scenario, MANY)
    return round((many - few) / (MANY - FEW))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per keep-alive request through Transport.serve (valgrind).",
    )
    parser.add_argument(
        "--scenarios", default="hello,post", help=f"comma-separated, of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--baseline", metavar="REV", help="also count the package of REV")
    args = parser.parse_args(argv)
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        print(f"bench.instructions: unknown scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("bench.instructions: valgrind is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wsgiserver-bench-baseline-") as workdir:
        roots = {"working tree": REPO_ROOT}
        if args.baseline is not None:
            try:
                short, _ = resolve(args.baseline)
                roots[short] = export(short, Path(workdir))
            except BaselineError as exc:
                print(f"bench.instructions: {exc}", file=sys.stderr)
                return 2
        for scenario in scenarios:
            counts = {name: per_request(valgrind, root, scenario) for name, root in roots.items()}
            line = ", ".join(f"{name} {count:,}" for name, count in counts.items())
            if len(counts) == 2:
                mine, theirs = counts.values()
                line += f" (ratio {mine / theirs:.3f})"
            print(f"{scenario}: instructions per request: {line}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
