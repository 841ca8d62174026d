"""Runs an app on bjoern with its defaults (single-threaded, libev).

Usage: ``python -m bench.runners.bjoern_server MODULE:APP HOST PORT``.
SIGTERM's default action ends the process, which is a clean stop for bjoern.
"""

from __future__ import annotations

import importlib
import sys

from bench.runners import load_app


def main(argv: list[str]) -> None:
    """Serve until killed."""
    spec, host, port = argv
    importlib.import_module("bjoern").run(load_app(spec), host, int(port))


if __name__ == "__main__":
    main(sys.argv[1:])
