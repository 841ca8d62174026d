"""The `--pid FILE`: written atomically once listening, removed on exit if still ours.

Owns: nothing else. Must not: decide when the process starts or stops.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


def write_pidfile(path: str, pid: int | None = None) -> None:
    """Write the pid to a temporary file next to `path`, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".wsgiserver-pid-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(f"{os.getpid() if pid is None else pid}\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        # One line like every start-up error: the pid file's name (not the temporary file
        # next to it) and the reason, without the "[Errno N]" of the OSError's str().
        raise OSError(f"pid: cannot write {path!r}: {exc.strerror or exc}") from None


def remove_pidfile(path: str, pid: int | None = None) -> None:
    """Remove `path` unless another process has written its own pid there since."""
    expected = os.getpid() if pid is None else pid
    try:
        with open(path, encoding="ascii") as file:
            if file.read().strip() != str(expected):
                return
        os.unlink(path)
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def pidfile(path: str | None) -> Iterator[None]:
    """Write the pid file (when `path` is given) for the duration of the block."""
    if path is None:
        yield
        return
    write_pidfile(path)
    try:
        yield
    finally:
        remove_pidfile(path)
