"""Shared helpers of the framework tests: subprocess servers, streamed multipart bodies."""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"serving on (http://\S+?)(?:,|$)")
STARTUP_LIMIT = 60.0  # a bound on waiting for the "serving on" event, not a sleep


class ServerProcess:
    """A server in a subprocess; `url` comes from the `serving on http://...` log line.

    Both pipes are drained by threads into `stderr_lines` / `stdout_lines` (the access log
    goes to stdout with `--access-log -`), so a chatty server never blocks on a full pipe.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
        )
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.url = ""
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, True)),
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines, False)),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        if not self._ready.wait(STARTUP_LIMIT) or not self.url:
            self.stop()
            pytest.fail(f"{' '.join(self.argv)} did not start:\n{self.stderr()}")

    def _drain(self, stream: object, lines: list[str], watch: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                lines.append(line)
            if watch and not self.url and (match := SERVING.search(line)):
                self.url = match.group(1)
                self._ready.set()
        if watch:
            self._ready.set()  # the process ended: stop waiting

    def stderr(self) -> str:
        with self._lock:
            return "".join(self.stderr_lines)

    def access_log(self) -> str:
        with self._lock:
            return "".join(self.stdout_lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for thread in self._threads:
            thread.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        code = self.stop()
        if kind is None:
            assert code == 0, f"server exited with {code}:\n{self.stderr()}"


def wsgiserver_cli(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """`python -m wsgiserver --bind 127.0.0.1:0 ARGS`."""
    return ServerProcess([sys.executable, "-m", "wsgiserver", "--bind", "127.0.0.1:0", *args], env)


def validated_cli(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """Like `wsgiserver_cli`, with the app wrapped in `wsgiref.validate.validator`."""
    argv = [sys.executable, "-m", "tests.frameworks.validated_cli", "--bind", "127.0.0.1:0"]
    return ServerProcess([*argv, *args], env)


class MultipartUpload:
    """A multipart/form-data body of `size` pseudo-random bytes, produced while it is sent.

    It has a length, so requests sends Content-Length (Django needs it) and streams the body
    with read() instead of building 50 MB in memory. `sha256` is known once it was all read.
    """

    BLOCK = 1 << 20

    def __init__(self, size: int, fields: dict[str, str] | None = None, seed: int = 7) -> None:
        self.size = size
        self.boundary = f"----wsgiserver{uuid.uuid4().hex}"
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (fields or {}).items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self._head = head.encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts = self._generate(random.Random(seed))
        self._pending = b""
        self._digest = hashlib.sha256()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __len__(self) -> int:
        return len(self._head) + self.size + len(self._tail)

    def _generate(self, rng: random.Random) -> Iterator[bytes]:
        yield self._head
        left = self.size
        while left:
            block = rng.randbytes(min(self.BLOCK, left))
            self._digest.update(block)
            left -= len(block)
            yield block
        yield self._tail

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            block = next(self._parts, None)
            if block is None:
                return b""
            self._pending = block
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(self.BLOCK):
            yield block


def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("curl is required in CI")
        pytest.skip("curl is not installed")
    return path


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match is not None, html[:2000]
    return match.group(1)
