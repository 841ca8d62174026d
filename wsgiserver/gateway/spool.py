"""A request body received whole before the application runs (a buffered chunked body).

Owns: the decoded bytes of one request body while they arrive, in memory up to a threshold
and beyond it in an unnamed temporary file, and handing them to the application as
`wsgi.input` once complete. Must not: read sockets or remove framing; the transport feeds it
the protocol layer's decoded `Data` and closes it when the request is over, on every path.

Why: PEP 3333 makes de-chunking the server's job, and most applications (Django among them)
read exactly CONTENT_LENGTH bytes. A chunked body has no length until its last chunk, so it
is received first and the application gets a CONTENT_LENGTH like any other request.
"""

from __future__ import annotations

import tempfile
from typing import IO

from wsgiserver.errors import ConnectionLost, HTTPError
from wsgiserver.gateway.body import InputStream

SPOOL_THRESHOLD = 1 << 20  # bytes of one body kept in memory; larger ones go to a file
READ_BLOCK = 65536  # bytes read from the file per pull by the app's reads


class SpoolError(HTTPError):
    """The temporary file for a large request body could not be created or written.

    Its `detail` goes to the client and says nothing of the server's files; `log_detail`
    (the directory and the OS error) goes to the error log only.
    """

    status = 500
    reason = "Internal Server Error"
    log_detail = ""


class BodySpool:
    """The decoded body of one request, in memory up to `threshold` bytes, then in a file.

    The file is a `tempfile.TemporaryFile` in `directory` (None: the system's temporary
    directory): it has no name on disk (O_TMPFILE, or unlinked at once), so nothing is left
    behind even if the process is killed.
    """

    __slots__ = (
        "_chunks",
        "_directory",
        "_file",
        "_from_file",
        "_read",
        "_stream",
        "_threshold",
        "size",
    )

    def __init__(self, threshold: int = SPOOL_THRESHOLD, directory: str | None = None) -> None:
        self._threshold = threshold
        self._directory = directory
        self._chunks: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._stream: InputStream | None = None
        self._read = 0  # bytes handed from the file to the stream
        self._from_file = False
        self.size = 0

    @property
    def spooled(self) -> bool:
        """True once the body outgrew memory and lives in a temporary file."""
        return self._file is not None

    def write(self, data: bytes) -> None:
        """Append decoded body bytes; SpoolError if the temporary file fails."""
        self.size += len(data)
        file = self._file
        try:
            if file is None:
                if self.size <= self._threshold:
                    self._chunks.append(data)
                    return
                # Closed by close(), which the transport calls on every path.
                file = self._file = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115
                for chunk in self._chunks:
                    file.write(chunk)
                self._chunks.clear()
            file.write(data)
        except OSError as exc:
            raise self._failed("store", exc) from exc

    def stream(self) -> InputStream:
        """The complete body as `wsgi.input`: read-only, ending where the body ends.

        The same `InputStream` an app gets for any other body, whether the body sits in
        memory or in the file: the app never holds the server's file (to write, seek,
        truncate or close it), and what it can do never depends on the body's size.
        """
        file = self._file
        if file is None:
            chunks = self._chunks
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._stream = InputStream.complete(body)
            return self._stream
        try:
            file.flush()
            file.seek(0)
        except OSError as exc:
            raise self._failed("read back", exc) from exc
        self._from_file = True
        self._stream = InputStream(self._read_block)
        return self._stream

    def _read_block(self) -> bytes:
        file = self._file
        if file is None:  # closed: the request is over
            return b""
        try:
            block = file.read(READ_BLOCK)
        except (OSError, ValueError) as exc:
            raise ConnectionLost(f"reading the spooled request body failed: {exc}") from exc
        self._read += len(block)
        return block

    def consumed(self) -> int:
        """How many bytes of the body the application read (for the access log)."""
        stream = self._stream
        if stream is None:
            return 0
        # In memory the stream held the whole body from the start; from the file, what
        # was read into it so far.
        given = self._read if self._from_file else self.size
        return given - stream.unread

    def _failed(self, doing: str, exc: OSError) -> SpoolError:
        """The error for the client (no path, no OS detail) and, in `log_detail`, for the log."""
        place = self._directory or tempfile.gettempdir()
        error = SpoolError("the server could not store the request body")
        error.log_detail = (
            f"could not {doing} a request body in a temporary file in {place}: "
            f"{exc.strerror or exc}"
        )
        return error

    def close(self) -> None:
        """Release the memory and the temporary file (idempotent)."""
        self._chunks.clear()
        self._stream = None
        file, self._file = self._file, None
        if file is not None:
            file.close()
