"""The `--pid FILE`: written atomically once listening, removed on exit if still ours.

Owns: nothing else. Must not: decide when the process starts or stops.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


def running_pid(path: str) -> int | None:
    """The pid in `path` when it names a running process other than this one, else None
    (no file, not a pid, or a stale one: such a file is simply replaced)."""
    try:
        with open(path, encoding="ascii") as file:
            pid = int(file.read().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)  # no signal: only asks whether the process exists
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # it exists, as another user's
    return pid


def write_pidfile(path: str, pid: int | None = None) -> None:
    """Write the pid to a temporary file next to `path`, then rename it into place.

    OSError if the file names another running process: a second server started with the
    same --pid by mistake would take the file over, and remove it when it stops, leaving
    the first one with none (signals sent with $(cat FILE) then miss it)."""
    other = running_pid(path)
    if other is not None:
        raise OSError(
            f"pid: {path!r} names process {other}, which is running: is another server "
            "using it? (if it is stale, remove the file)"
        )
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
