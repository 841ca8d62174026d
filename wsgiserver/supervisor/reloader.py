"""`--reload`: notice changed `.py` files under a directory by polling their mtimes.

Owns: the scan and the comparison. Must not: restart anything (the supervisor does).
"""

from __future__ import annotations

import os

SCAN_INTERVAL = 1.0
SKIP_DIRS = frozenset(("__pycache__", "node_modules", "site-packages"))


class FileWatcher:
    """`poll(now)` returns the .py files (relative paths) changed since the last scan."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.mtimes = self._scan()
        self.next_scan = 0.0

    def poll(self, now: float) -> list[str]:
        if now < self.next_scan:
            return []
        self.next_scan = now + SCAN_INTERVAL
        current = self._scan()
        changed = sorted(
            os.path.relpath(path, self.root)
            for path in current.keys() | self.mtimes.keys()
            if current.get(path) != self.mtimes.get(path)
        )
        self.mtimes = current
        return changed

    def _scan(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for directory, subdirs, files in os.walk(self.root):
            subdirs[:] = [
                d
                for d in subdirs
                if not d.startswith(".")
                and d not in SKIP_DIRS
                and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
            ]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    try:
                        found[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        continue
        return found
