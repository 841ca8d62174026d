"""`wsgi.input` and `wsgi.file_wrapper` (PEP 3333 "Input and Error Streams", "Optional
Platform-Specific File Handling").

Owns: a file-like view of one request body that never reads past its end, and the file
wrapper type the gateway recognises for sendfile. Must not: know about sockets or framing;
body bytes come from a `pull` callable that returns b"" once the body is complete and raises
when it is truncated or too slow, or, for a body that was received whole before the app ran,
as that one bytes object (`InputStream.complete`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any


class InputStream:
    """The request body as a read-only binary stream (PEP 3333 `wsgi.input`).

    A read of exactly what is buffered, or of exactly one pulled piece, returns that bytes
    object itself: a body read whole, or in the sizes it arrived in, is never copied here.
    """

    __slots__ = ("_buf", "_done", "_pull")

    def __init__(self, pull: Callable[[], bytes]) -> None:
        self._pull = pull
        self._buf = b""
        self._done = False

    @classmethod
    def complete(cls, body: bytes) -> InputStream:
        """A stream of a body that is already whole: reading it never pulls."""
        stream = cls(_nothing)
        stream._buf = body
        stream._done = True
        return stream

    @property
    def unread(self) -> int:
        """Bytes pulled but not yet read by the application."""
        return len(self._buf)

    def _fill(self) -> bool:
        """Append the next piece of body to the buffer; False at the end of the body."""
        if self._done:
            return False
        data = self._pull()
        if not data:
            self._done = True
            return False
        self._buf = self._buf + data if self._buf else data
        return True

    def read(self, size: int | None = -1) -> bytes:
        buf = self._buf
        if size is None or size < 0:
            if not self._done:
                buf = self._gather(buf, -1)
            self._buf = b""
            return buf
        if len(buf) < size:
            if not self._done:
                buf = self._gather(buf, size)
            if len(buf) <= size:
                self._buf = b""
                return buf
        # A slice of all of `buf` is `buf` itself: reading exactly what is buffered never copies.
        self._buf = buf[size:]
        return buf[:size]

    def _gather(self, buf: bytes, size: int) -> bytes:
        """`buf` and further pieces until there are `size` bytes (-1: all) or the body ends."""
        pull = self._pull
        if not buf:
            buf = pull()  # usually one piece is enough: no list, no join
            if not buf:
                self._done = True
                return buf
            if 0 <= size <= len(buf):
                return buf
        # Join once at the end: growing one bytes object piece by piece would copy a large
        # body over and over (quadratic in the number of pieces).
        chunks = [buf]
        have = len(buf)
        try:
            while size < 0 or have < size:
                data = pull()
                if not data:
                    self._done = True
                    break
                chunks.append(data)
                have += len(data)
        except BaseException:
            # A timeout may be caught by the app, which may read again: what was received
            # stays readable, in order, instead of leaving a hole in the body.
            self._buf = b"".join(chunks)
            raise
        return b"".join(chunks)  # one piece is returned as it is: join() does not copy it

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if 0 <= limit <= len(self._buf):
                end = limit
                break
            start = len(self._buf)
            if not self._fill():
                end = len(self._buf)
                break
        if 0 <= limit < end:
            end = limit
        line = self._buf[:end]
        self._buf = self._buf[end:]
        return line

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def exhausted(self) -> bool:
        """True once the application has read the whole body."""
        return self._done and not self._buf


def _nothing() -> bytes:
    return b""


class FileWrapper:
    """`wsgi.file_wrapper`: lets the server send a file with `socket.sendfile`.

    Iterating it reads `block_size` blocks, so it also works under middleware that iterates the
    response itself. `close()` closes the file (PEP 3333 requires it to be callable).
    """

    __slots__ = ("block_size", "filelike")

    def __init__(self, filelike: IO[bytes] | Any, block_size: int = 65536) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while True:
            block = read(self.block_size)
            if not block:
                return
            yield block

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()
