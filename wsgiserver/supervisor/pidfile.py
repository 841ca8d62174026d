"""The `--pid FILE`: written atomically once listening, locked while the server runs, removed
on exit if still ours.

The server holds an exclusive `flock` on the file it wrote for as long as it runs (forked
workers share it). That lock, not the pid in the file, says whether a server still uses
the file: a pid can belong to an unrelated process by the next start (containers reuse
small pids at every run, and a pid file on a volume outlives them).

Owns: nothing else. Must not: decide when the process starts or stops.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator

try:
    import fcntl

    _LOCKS = True
except ImportError:  # Windows: the single process serves there too, with the pid check only
    _LOCKS = False


def running_pid(path: str) -> int | None:
    """The pid in `path` when a running server holds the file, else None (no file, not a
    pid, this process's own, or a file nobody holds: a stale one, which is simply
    replaced). Where there are no locks, a pid naming a running process counts. A lock
    held while that pid is gone is a leftover child's (a fork inherits the lock): the
    server the file names is dead, so the file is stale all the same."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            pid = int(os.read(fd, 64).decode("ascii").strip())
        except (OSError, ValueError):
            return None
        if pid <= 0 or pid == os.getpid():
            return None
        if _LOCKS:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: by the server that wrote it, if that pid still runs
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                # No locks here (some network file systems): the pid alone decides.
            else:
                return None  # nobody holds it: stale, whatever process has that pid now
        return pid if _exists(pid) else None
    finally:
        os.close(fd)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's
    return True


def write_pidfile(path: str, pid: int | None = None) -> int:
    """Write the pid to a temporary file next to `path`, lock it, then rename it into place.
    Returns the descriptor that holds the lock: keep it open while serving, close it after
    `remove_pidfile`.

    OSError if a running server holds the file: a second server started with the same
    --pid by mistake would take the file over, and remove it when it stops, leaving the
    first one with none (signals sent with $(cat FILE) then miss it)."""
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
            if _LOCKS:
                with contextlib.suppress(OSError):  # no locks here: the pid alone must do
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody has it
            os.write(fd, f"{os.getpid() if pid is None else pid}\n".encode("ascii"))
            os.chmod(temporary, 0o644)  # os.fchmod is not on Windows before Python 3.13
            os.replace(temporary, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        # One line like every start-up error: the pid file's name (not the temporary file
        # next to it) and the reason, without the "[Errno N]" of the OSError's str().
        raise OSError(f"pid: cannot write {path!r}: {exc.strerror or exc}") from None
    return fd


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
    lock = write_pidfile(path)
    try:
        yield
    finally:
        remove_pidfile(path)
        os.close(lock)
