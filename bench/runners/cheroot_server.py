"""Runs an app on ``cheroot.wsgi.Server`` with its defaults.

Usage: ``python -m bench.runners.cheroot_server MODULE:APP HOST PORT``.
SIGTERM stops the server cleanly (cheroot's ``safe_start`` calls ``stop``).
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType

from bench.runners import load_app


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str]) -> None:
    """Serve until SIGTERM."""
    spec, host, port = argv
    wsgi = importlib.import_module("cheroot.wsgi")
    server = wsgi.Server((host, int(port)), load_app(spec))
    signal.signal(signal.SIGTERM, _exit)
    server.safe_start()


if __name__ == "__main__":
    main(sys.argv[1:])
