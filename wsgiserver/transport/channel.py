"""The bytes of one connected socket: receiving and sending with deadlines.

Owns: recv/send/sendfile on one socket (plain or TLS), the body timeout and the minimum body
rate while a body is read, the send timeout for a slow reader, the send lock that keeps
anything from following a request-deadline 504, the bytes-in/out and timeout counters, the
"has the client gone?" check, TLS close_notify and the lingering read after an error. OS
errors become `ConnectionLost` (or a 408 `ClientRequestTimeout`) here, once.
Must not: parse HTTP, decide what to send, or own threads; exactly one thread uses a
channel at a time, except `interrupt()` (the request deadline), which says how it is safe.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from typing import IO

from wsgiserver.errors import ClientRequestTimeout, ConnectionLost
from wsgiserver.observability import metrics as m

# One read takes a prebuffered body (up to 64 KiB) together with its head: one recv instead
# of two per request. Below glibc's 128 KiB mmap threshold on purpose: recv() allocates its
# full size first, and a mapped block costs fresh pages on every call (several times slower).
RECV_SIZE = 126976
SEND_FILE_BLOCK = 65536  # TLS has no sendfile: the file goes out in blocks of this size
# The send timeout bounds each wait for the client to take more, not a whole buffer: a large
# body (one bytes object of 100 MB) to a client that reads steadily but slowly must not be
# cut. A plain socket's send() returns what fit; an SSL socket's write finishes its whole
# buffer within one timeout, so it is given at most this much at a time.
SEND_SLICE = 262144

_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_HANGUP = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


class SocketChannel:
    """One connected, non-blocking socket. `sock` is replaced once if TLS wraps it."""

    __slots__ = (
        "_body_rate",
        "_body_timeout",
        "_grace",
        "_metrics",
        "_send_lock",
        "_send_timeout",
        "body_received",
        "body_started",
        "interrupted",
        "last_word",
        "sock",
        "tls",
        "unsent",
    )

    def __init__(
        self,
        sock: socket.socket,
        *,
        body_timeout: float,
        send_timeout: float,
        min_body_rate: int,
        body_rate_grace: float,
        metrics: m.ProcessMetrics | None = None,
        interruptible: bool = False,
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.tls = False
        self._body_timeout = body_timeout
        self._send_timeout = send_timeout
        # A body must arrive at `min_body_rate` bytes/s on average once `body_rate_grace`
        # seconds have passed (0 disables): a client trickling a body cannot hold a worker for
        # body_timeout per byte. Deadline = start + grace + received / rate (as Apache MinRate).
        self._body_rate = min_body_rate
        self._grace = body_rate_grace
        self._metrics = metrics
        self.body_started: float | None = None  # when we first waited for this body's bytes
        self.body_received = 0
        self.interrupted = False  # the request deadline fired: nothing more may be sent
        self.last_word: bytes | None = None  # what `interrupt` sent (a 504), once it has
        # Bytes handed to a send or sendfile that failed and did not go out (the access
        # record's body size subtracts them).
        self.unsent = 0
        # With a request deadline another thread may send a 504: sends take this lock.
        self._send_lock = threading.Lock() if interruptible else None

    def fileno(self) -> int:
        return self.sock.fileno()

    # -- receiving ------------------------------------------------------------------------

    def start_body(self) -> None:
        """A new request's body begins: its rate is measured from its first wait."""
        self.body_started = None
        self.body_received = 0

    def rate_deadline(self, now: float) -> float:
        """When the body is too slow for the minimum rate (inf if disabled); starts the clock."""
        rate = self._body_rate
        if not rate:
            return float("inf")
        if self.body_started is None:
            self.body_started = now
        return self.body_started + self._grace + self.body_received / rate

    def body_deadline(self, now: float) -> float:
        """When waiting for more of a body must end: inactivity or the minimum rate."""
        return min(now + self._body_timeout, self.rate_deadline(now))

    def receive_nowait(self) -> bytes | None:
        """Whatever the socket has now (b"" at EOF), or None if nothing has arrived.

        OSError (a reset) propagates: the caller closes the connection.
        """
        sock = self.sock
        try:
            data = sock.recv(RECV_SIZE)
        except _WOULD_BLOCK:
            return None
        if self.tls and data and isinstance(sock, ssl.SSLSocket):
            # Bytes already decrypted inside the SSL object are invisible to the poller:
            # parking with them would stall the connection until its deadline.
            while sock.pending():
                try:
                    data += sock.recv(RECV_SIZE)
                except _WOULD_BLOCK:
                    break
        if self._metrics is not None:
            self._metrics.here().add(m.BYTES_IN, len(data))
        return data

    def receive(self) -> bytes:
        """Block for the next bytes of a body (b"" at EOF), within the body timeout and rate."""
        data = self._receive_body()
        self.body_received += len(data)
        if self._metrics is not None:
            self._metrics.here().add(m.BYTES_IN, len(data))
        return data

    def _receive_body(self) -> bytes:
        sock = self.sock
        try:
            return sock.recv(RECV_SIZE)
        except _WOULD_BLOCK:
            pass
        except OSError as exc:
            # A reset (or a broken TLS record) is the client's doing: the app must not see a
            # raw OSError, which it would turn into a 500 logged as its own failure.
            raise ConnectionLost(str(exc)) from exc
        timeout = self._body_timeout
        left = self.rate_deadline(time.monotonic()) - time.monotonic()
        too_slow = left < timeout
        if left <= 0:
            raise ClientRequestTimeout("request body arrived too slowly")
        sock.settimeout(min(timeout, left))
        try:
            return sock.recv(RECV_SIZE)
        except TimeoutError:
            if self._metrics is not None:
                self._metrics.here().timeout("body")
            if too_slow:
                raise ClientRequestTimeout("request body arrived too slowly") from None
            raise ClientRequestTimeout("request body not received in time") from None
        except OSError as exc:
            raise ConnectionLost(str(exc)) from exc
        finally:
            sock.setblocking(False)

    def readable(self) -> bool:
        """Bytes, EOF or an error wait in the socket (plain or TLS); never blocks."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | _HANGUP)
        try:
            return bool(poller.poll(0))
        except OSError:
            return True

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks.

        Plain TCP: peek at one byte; EOF or a reset means gone, bytes (a pipelined request)
        or nothing yet mean still there. TLS cannot peek through the record layer, so the
        socket is polled for a hang-up (POLLRDHUP: the peer shut down its sending side).
        """
        sock = self.sock
        try:
            if self.tls:
                poller = select.poll()
                poller.register(sock.fileno(), _HANGUP)
                return bool(poller.poll(0))
            return sock.recv(1, socket.MSG_PEEK | _DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True  # ECONNRESET, EBADF (closed): the client is gone

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send all of `data`, waiting at most the send timeout for a slow reader."""
        lock = self._send_lock
        if lock is None:
            self.send_unguarded(data)
            return
        with lock:  # a request deadline may fire: nothing goes out after its 504
            if self.interrupted:
                self.unsent += len(data)
                raise ConnectionLost("the request timed out")
            self.send_unguarded(data)

    def send_unguarded(self, data: bytes) -> None:
        """`send` without the request-deadline lock: for a channel that is not
        interruptible (the transport binds it as its `send`, one call fewer per response)."""
        if self._metrics is not None:
            self._metrics.here().add(m.BYTES_OUT, len(data))
        sock = self.sock
        first: bytes | memoryview = data
        if self.tls and len(data) > SEND_SLICE:
            # An SSL write that could not finish must be retried with the same bytes, at
            # least as many (OpenSSL: "bad length" otherwise): the loop below retries with
            # one slice, so the first attempt takes no more than that.
            first = memoryview(data)[:SEND_SLICE]
        try:
            sent = sock.send(first)
        except _WOULD_BLOCK:
            sent = 0
        except OSError as exc:
            self.unsent += len(data)
            raise ConnectionLost(str(exc)) from exc
        if sent == len(data):
            return
        rest = memoryview(data)[sent:]
        sock.settimeout(self._send_timeout)
        try:
            while rest:  # not sendall: its timeout would cover the whole rest (SEND_SLICE)
                rest = rest[sock.send(rest[:SEND_SLICE]) :]
        except OSError as exc:
            self.unsent += len(rest)
            if isinstance(exc, TimeoutError) and self._metrics is not None:
                self._metrics.here().timeout("send")
            raise ConnectionLost(str(exc)) from exc
        finally:
            sock.setblocking(False)

    def send_quietly(self, data: bytes) -> None:
        """One non-blocking attempt, errors ignored: a last word before closing (408)."""
        with contextlib.suppress(OSError):
            self.sock.send(data)

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int:
        """Send `count` bytes of `file` from `offset` with os.sendfile where possible."""
        if self.tls:
            return self._send_file_blocks(file, offset, count)
        # os.sendfile in a loop of our own rather than socket.sendfile: that one falls back
        # to reading and sending blocks when its first call fails, and its count of what
        # went out is then lost (the access record needs it).
        out, source = self.sock.fileno(), file.fileno()
        sent = 0
        writable: select.poll | None = None
        try:
            while sent < count:
                try:
                    done = os.sendfile(out, source, offset + sent, min(count - sent, 1 << 30))
                except BlockingIOError:
                    if writable is None:
                        writable = select.poll()
                        writable.register(out, select.POLLOUT)
                    # The send timeout bounds each wait for the client, as in `send`.
                    if not writable.poll(self._send_timeout * 1000):
                        raise TimeoutError("timed out") from None
                    continue
                if not done:
                    break  # the file is shorter than it was
                sent += done
        except OSError as exc:
            self.unsent += count - sent
            if isinstance(exc, TimeoutError) and self._metrics is not None:
                self._metrics.here().timeout("send")
            raise ConnectionLost(str(exc)) from exc
        finally:
            file.seek(offset + sent)  # after the last byte sent, as socket.sendfile leaves it
        if sent < count:
            self.unsent += count - sent
            raise ConnectionLost("file ended before the promised length was sent")
        return sent

    def _send_file_blocks(self, file: IO[bytes], offset: int, count: int) -> int:
        """TLS: the kernel cannot encrypt, so read the file in blocks and send each one."""
        handed = 0
        try:
            for block in file_blocks(file, offset, count):
                handed += len(block)
                self.send(block)  # on failure, counts what of `block` did not go out
        except ConnectionLost:
            self.unsent += count - handed  # and what was never read
            raise
        return handed

    def interrupt(self, last_word: bytes | None, *, reset: bool = False) -> None:
        """From another thread (the request deadline): send `last_word` if nothing is being
        sent and it is safe (then kept in `self.last_word`, set before `interrupted`, so the
        owner thread that sees the one sees the other), then shut the socket down, never
        close it (its owner thread still holds it and closes the descriptor itself; its later
        writes fail quietly).
        `reset`: the response under way is close-delimited, so the connection must end in a
        reset (`abort`), which the owner sends when it closes: only the receiving side is
        shut down here (a FIN now would make the cut body look whole), and a send the owner
        may be blocked in ends at its send timeout instead of at once.

        The one cross-thread use of a channel (docs/design.rst). Not over TLS: the SSL
        object must not be used by two threads at once, so there only the shutdown happens.
        """
        lock = self._send_lock
        got = lock.acquire(blocking=False) if lock is not None else False
        try:
            if got and last_word is not None and not self.tls:
                counters = self._metrics.here() if self._metrics is not None else None
                if counters is not None:
                    # Before the send, which the client may read and then scrape; what did
                    # not go out is taken back after.
                    counters.add(m.BYTES_OUT, len(last_word))
                sent = 0
                with contextlib.suppress(OSError):
                    sent = self.sock.send(last_word)
                if sent == len(last_word):
                    self.last_word = last_word
                elif counters is not None:
                    counters.add(m.BYTES_OUT, sent - len(last_word))
            self.interrupted = True  # under the lock: no send of the owner's comes after
        finally:
            if got and lock is not None:
                lock.release()
        if reset:
            self._reset_on_close()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)

    # -- ending ---------------------------------------------------------------------------

    def close_notify(self) -> None:
        """TLS: tell the client the response ended here (RFC 8446 section 6.1), not cut."""
        sock = self.sock
        if self.tls and isinstance(sock, ssl.SSLSocket):
            # Non-blocking: the alert goes out; not waiting for the client's (WantRead).
            with contextlib.suppress(OSError, ValueError):
                sock.unwrap()

    def abort(self) -> None:
        """Close so that the client can tell the close-delimited response was cut (RFC 9112
        section 8): a TCP reset and, over TLS, no close_notify. What is still unsent is
        dropped, which for a cut response loses nothing. A unix socket has no reset: its
        peer sees a plain end of stream."""
        self._reset_on_close()
        self.close()

    def _reset_on_close(self) -> None:
        """SO_LINGER on with 0 s: closing the socket sends a TCP reset, not a FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)

    def shutdown_write(self) -> bool:
        """Close the sending side (after close_notify); False if the socket is gone."""
        self.close_notify()
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        return True

    def input_waiting(self) -> bool:
        """Bytes (or the client's close) wait in the kernel, unread: one poll, no wait."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        try:
            return bool(poller.poll(0))
        except OSError:
            return False

    def discard_input(self) -> bool:
        """Read and drop what the client sends; True once it closed (or failed), False when
        nothing more has arrived for now."""
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                return True
            if not data:
                return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def file_blocks(file: IO[bytes], offset: int, count: int) -> Iterator[bytes]:
    """`count` bytes of `file` from `offset`, in blocks of at most SEND_FILE_BLOCK, for a
    connection that cannot use sendfile (TLS, HTTP/2 framing). ConnectionLost if the file
    cannot be read or ends early; once all is read, the file's position is after the last
    byte, where socket.sendfile leaves it too."""
    fd = file.fileno()
    done = 0
    while done < count:
        try:
            block = os.pread(fd, min(SEND_FILE_BLOCK, count - done), offset + done)
        except OSError as exc:
            raise ConnectionLost(f"reading the file failed: {exc}") from exc
        if not block:
            raise ConnectionLost("file ended before the promised length was sent")
        done += len(block)
        if done == count:
            file.seek(offset + done)
        yield block
