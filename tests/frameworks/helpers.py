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
import requests

from tests.frameworks.transports import HTTP1, Client

REPO = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"serving on (https?://\S+?)(?:,|$)")
STARTUP_LIMIT = 60.0  # a bound on waiting for the "serving on" event, not a sleep


class ServerProcess:
    """A server in a subprocess; `url` comes from the `serving on http://...` log line.

    Both pipes are drained by threads into `stderr_lines` / `stdout_lines` (the access log
    goes to stdout with `--access-log -`), so a chatty server never blocks on a full pipe.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        repo_on_path: bool = True,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """`repo_on_path=False` runs `argv` as a user would from the repository root: with
        no PYTHONPATH (the checkout is then importable only where Python itself adds the
        current directory)."""
        self.argv = list(argv)
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if repo_on_path:
            full_env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
            )
        else:
            full_env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=full_env,
            pass_fds=tuple(pass_fds),
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


# Chunked uploads (Transfer-Encoding: chunked): small, 1 MiB (in memory below the default
# --spool-threshold) and 50 MiB (spooled to a temporary file), the last through the CLI only.
CHUNKED_SIZES = (5000, 1 << 20, 50 << 20)


UPLOAD_CASES = ("length", *CHUNKED_SIZES)


def chunked_sizes_for(mode: str, size: int) -> None:
    """Skip the 50 MiB chunked upload outside the CLI mode (one such run is enough)."""
    if size > CHUNKED_SIZES[1] and mode != "cli":
        pytest.skip("the 50 MiB chunked upload runs through the CLI only")


def upload_case(mode: str, case: int | str, small: int) -> tuple[int, bool]:
    """(size, chunked) for one of UPLOAD_CASES: "length" is a Content-Length upload of 50 MiB
    through the CLI and of `small` bytes in the other modes; a number is a chunked upload."""
    if case == "length":
        return (50 << 20 if mode == "cli" else small), False
    size = int(case)
    chunked_sizes_for(mode, size)
    return size, True


def post_upload(
    url: str,
    body: MultipartUpload,
    *,
    chunked: bool = False,
    session: requests.Session | None = None,
    http: Client = HTTP1,
) -> requests.Response:
    """POST `body` with a Content-Length, or `chunked` (an iterator has no length, so
    requests sends it with Transfer-Encoding: chunked on HTTP/1.1, and over HTTP/2 in DATA
    frames with no content-length); through `session`, or a new one of `http`."""
    if session is None:
        with http.Session() as own:
            return post_upload(url, body, chunked=chunked, session=own)
    data: MultipartUpload | Iterator[bytes] = iter(body) if chunked else body
    return session.post(url, data=data, headers={"Content-Type": body.content_type}, timeout=120)


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
