"""HTTP/2 limits and attacks (RFC 9113 section 10.5): each ends in the right GOAWAY or
RST_STREAM, the server stays responsive, and nothing is left behind (`no_leaks`).

These tests speak raw frames (`RawH2`): a well-behaved client library refuses to send what
an attacker sends (more streams than SETTINGS allow, resets in a loop, endless
CONTINUATION frames).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest
from hpack import Decoder, Encoder

from tests.http2.client import GET_BLOCK, continuation_frame, header_block, headers_frame
from tests.http2.helpers import BOUND, Environ, StartResponse, client, echo, h2c_server
from wsgiserver.http2.connection import (
    ENHANCE_YOUR_CALM,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
)
from wsgiserver.testing import RunningServer

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK = 0x1, 0x1
COMPRESSION_ERROR = 0x9


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame, serialized by hand (RFC 9113 section 4.1)."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


@dataclass
class Frame:
    kind: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def error_code(self) -> int:
        """RST_STREAM's code, or GOAWAY's (after its last stream id)."""
        at = 4 if self.kind == GOAWAY else 0
        return int.from_bytes(self.payload[at : at + 4], "big")


class RawH2:
    """A client that sends whatever bytes a test wants and reads the server's frames."""

    def __init__(self, running: RunningServer, settings: bytes = b"") -> None:
        self.sock = socket.create_connection((running.host, running.port), timeout=BOUND)
        self.frames: list[Frame] = []
        self.closed = False
        self._inbox = b""
        self.send(PREFACE + frame(SETTINGS, 0, 0, settings))

    def __enter__(self) -> RawH2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        """False when the server has closed the connection under the sender."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def read_until(self, done: Callable[[Frame], bool]) -> Frame | None:
        """Frames until one satisfies `done` (returned), or None once the server closes."""
        while True:
            while len(self._inbox) >= 9:
                size = 9 + int.from_bytes(self._inbox[:3], "big")
                if len(self._inbox) < size:
                    break
                raw, self._inbox = self._inbox[:size], self._inbox[size:]
                got = Frame(raw[3], raw[4], int.from_bytes(raw[5:9], "big") & 0x7FFFFFFF, raw[9:])
                self.frames.append(got)
                if got.kind == SETTINGS and not got.flags & ACK:
                    self.send(frame(SETTINGS, ACK, 0))
                if done(got):
                    return got
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                return None
            self._inbox += data

    def goaway(self) -> Frame:
        """Read to the server's GOAWAY (which must come) and then to the connection's end."""
        found = self.read_until(lambda f: f.kind == GOAWAY)
        assert found is not None, [(f.kind, f.stream_id) for f in self.frames]
        self.read_until(lambda f: False)
        assert self.closed
        return found

    def status(self, stream_id: int) -> int | None:
        """The :status of the stream's final response, read so far."""
        decoder = Decoder()
        status = None
        for got in self.frames:
            if got.kind == HEADERS:
                fields = dict(decoder.decode(got.payload, raw=True))
                if got.stream_id == stream_id and not fields[b":status"].startswith(b"1"):
                    status = int(fields[b":status"])
        return status


def request_frame(stream_id: int, encoder: Encoder, *, end_stream: bool = True) -> bytes:
    return frame(
        HEADERS, 0x4 | (END_STREAM if end_stream else 0), stream_id, encoder.encode(GET_BLOCK)
    )


def still_serves(running: RunningServer) -> None:
    with client(running) as c:
        assert c.get("/after").status == 200


class Gate:
    """An app that holds every request until `release`, counting the calls that ran."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0
        self.entered = threading.Semaphore(0)
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.calls += 1
        self.entered.release()
        if environ["PATH_INFO"] != "/after":
            assert self.release.wait(BOUND)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def test_streams_over_max_concurrent_streams_are_refused_and_the_others_answered() -> None:
    gate = Gate()
    with h2c_server(gate, threads=8, http2_max_concurrent_streams=4) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        # RFC 9113 section 5.1.2: a stream over the advertised limit is a stream error;
        # REFUSED_STREAM tells the client it was not processed (section 8.7).
        raw.send(b"".join(request_frame(1 + 2 * n, encoder) for n in range(6)))
        refused = {raw.read_until(lambda f: f.kind == RST_STREAM).stream_id for _ in range(2)}  # type: ignore[union-attr]
        assert refused == {9, 11}
        assert all(f.error_code == REFUSED_STREAM for f in raw.frames if f.kind == RST_STREAM)
        gate.release.set()
        answered = {1, 3, 5, 7}
        while answered:
            got = raw.read_until(lambda f: f.kind == DATA and f.flags & END_STREAM != 0)
            assert got is not None
            answered.remove(got.stream_id)
            assert raw.status(got.stream_id) == 200
        assert gate.calls == 4
        still_serves(srv)


def test_a_header_list_over_the_limit_is_431_and_far_over_it_ends_the_connection() -> None:
    with h2c_server(echo, http2_max_header_list_size=4096) as srv:
        with client(srv) as c:
            reply = c.get("/", headers=[("x-big", "a" * 5000)])
            assert reply.status == 431
            assert c.get("/").status == 200  # the connection carries on
        with RawH2(srv) as raw:
            # An HPACK bomb: one large entry in the dynamic table, then a block of one-byte
            # references to it that decodes to far more than the advertised limit.
            encoder = Encoder()
            first = encoder.encode([*GET_BLOCK, (b"x-bomb", b"b" * 3000)], huffman=False)
            raw.send(frame(HEADERS, 0x5, 1, first))
            raw.read_until(lambda f: f.kind == DATA and f.stream_id == 1)
            assert raw.status(1) == 200  # the entry alone is within the limit
            index = bytes([0x80 | 62])  # the newest dynamic-table entry (RFC 7541 section 6.1)
            bomb = encoder.encode(GET_BLOCK) + index * 4000  # 12 MB once decoded
            raw.send(frame(HEADERS, 0x5, 3, bomb))
            goaway = raw.goaway()
            assert goaway.error_code in (ENHANCE_YOUR_CALM, COMPRESSION_ERROR)
        still_serves(srv)


@pytest.mark.parametrize(
    "block",
    [
        bytes([0x80 | 62]),  # an index past the static table, with an empty dynamic table
        bytes([0x80]),  # index 0 (RFC 7541 section 6.1)
        bytes([0x3F, 0xE1, 0xFF, 0x03]),  # a table size update over SETTINGS (section 6.3)
        bytes([0x00, 0x81, 0xFF]),  # a literal whose Huffman code has EOS (section 5.2)
    ],
    ids=["index-too-high", "index-zero", "table-size-too-large", "huffman-eos"],
)
def test_a_field_block_that_cannot_be_decoded_is_a_compression_error(block: bytes) -> None:
    # RFC 9113 section 4.3: "a decoding error in a field block MUST be treated as a
    # connection error of type COMPRESSION_ERROR"; h2 itself says PROTOCOL_ERROR.
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        raw.send(frame(HEADERS, 0x5, 1, block))
        assert raw.goaway().error_code == COMPRESSION_ERROR
        still_serves(srv)


def test_a_continuation_flood_ends_the_connection() -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        block = header_block(GET_BLOCK)
        frames = [headers_frame(1, block, end_stream=True, end_headers=False).serialize()]
        # CONTINUATION frames that never end the block (CVE-2024-27316 and kin), bounded here.
        frames += [continuation_frame(1, b"", end_headers=False).serialize()] * 5000
        raw.send(b"".join(frames))
        goaway = raw.goaway()
        assert goaway.error_code in (PROTOCOL_ERROR, ENHANCE_YOUR_CALM)
        still_serves(srv)


def test_rapid_reset_ends_the_connection_and_runs_few_calls() -> None:
    gate = Gate()
    gate.release.set()
    with h2c_server(gate) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        attack = b"".join(
            request_frame(stream_id, encoder)
            + frame(RST_STREAM, 0, stream_id, (0x8).to_bytes(4, "big"))  # CANCEL
            for stream_id in range(1, 2 * 2000, 2)
        )
        raw.send(attack)  # may fail part-way: the server hangs up
        goaway = raw.goaway()
        assert goaway.error_code == ENHANCE_YOUR_CALM
        # CVE-2023-44487: the budget (200 resets in the flood window) ends it long before
        # the 2000 streams, and reset streams that were still queued never reach the app.
        assert gate.calls <= 400, gate.calls
        still_serves(srv)


@pytest.mark.parametrize("kind", ["settings", "ping", "empty-data"])
def test_control_frame_floods_end_the_connection(kind: str) -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        if kind == "settings":
            flood = frame(SETTINGS, 0, 0) * 3000
        elif kind == "ping":
            flood = frame(PING, 0, 0, b"12345678") * 3000
        else:
            # A stream whose body never comes: empty DATA frames cost work and carry nothing.
            opened = Encoder().encode([(b":method", b"POST"), *GET_BLOCK[1:]])
            flood = frame(HEADERS, 0x4, 1, opened) + frame(DATA, 0, 1) * 3000
        raw.send(flood)
        goaway = raw.goaway()
        assert goaway.error_code == ENHANCE_YOUR_CALM
        still_serves(srv)


def test_a_window_update_trickle_cannot_hold_a_thread() -> None:
    body = b"x" * 100_000
    finished = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        try:
            yield body
        finally:
            finished.set()

    # The client's stream window starts at 16 bytes and grows by 16 bytes per round: the
    # whole body would take thousands of rounds; the write's send timeout ends it.
    window = (0x4).to_bytes(2, "big") + (16).to_bytes(4, "big")  # INITIAL_WINDOW_SIZE
    with h2c_server(app, send_timeout=0.5) as srv, RawH2(srv, settings=window) as raw:
        raw.send(request_frame(1, Encoder()))
        reset = None
        for _ in range(2000):  # bounded: the server must give up long before
            got = raw.read_until(lambda f: f.kind in (DATA, RST_STREAM, GOAWAY))
            assert got is not None, "the server closed instead of resetting the stream"
            if got.kind != DATA:
                reset = got
                break
            raw.send(frame(WINDOW_UPDATE, 0, 1, (16).to_bytes(4, "big")))
            threading.Event().wait(0.01)  # the trickle's pace (the attack), not a wait for a result
        assert reset is not None
        assert reset.kind == RST_STREAM, reset
        assert finished.wait(BOUND)  # the app's generator was closed: its thread is free
        still_serves(srv)


def test_a_graceful_goaway_from_the_client_is_answered_in_kind() -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        raw.send(request_frame(1, encoder))
        raw.read_until(lambda f: f.kind == DATA and f.stream_id == 1)
        raw.send(frame(GOAWAY, 0, 0, (1).to_bytes(4, "big") + NO_ERROR.to_bytes(4, "big")))
        goaway = raw.goaway()
        assert goaway.error_code == NO_ERROR
        assert raw.status(1) == 200


def post_block(encoder: Encoder, length: bytes) -> bytes:
    return frame(
        HEADERS,
        0x4,  # END_HEADERS; the body follows
        1,
        encoder.encode([(b":method", b"POST"), *GET_BLOCK[1:], (b"content-length", length)]),
    )


@pytest.mark.parametrize(
    ("trailers", "reset"),
    [
        ([(b"x-checksum", b"abc")], False),
        ([(b":path", b"/")], True),
        ([(b"connection", b"close")], True),
        ([(b"Upper", b"1")], True),
        # RFC 9110 section 6.5.1, as over HTTP/1.1 (accepted here before, a probe found).
        ([(b"content-length", b"9")], True),
        ([(b"host", b"evil.example")], True),
    ],
    ids=["valid", "pseudo-header", "connection-specific", "upper-case", "length", "host"],
)
def test_request_trailers_are_checked_then_dropped(
    trailers: list[tuple[bytes, bytes]], reset: bool
) -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        raw.send(
            post_block(encoder, b"3")
            + frame(DATA, 0, 1, b"abc")
            + frame(HEADERS, 0x5, 1, encoder.encode(trailers))
        )
        got = raw.read_until(
            lambda f: (
                f.kind == GOAWAY
                or (f.stream_id == 1 and (f.kind == RST_STREAM or f.flags & END_STREAM != 0))
            )
        )
        assert got is not None
        if reset:  # RFC 9113 section 8.1: a malformed request is a stream error
            assert (got.kind, got.error_code) == (RST_STREAM, PROTOCOL_ERROR)
        else:
            assert raw.status(1) == 200
            body = b"".join(f.payload for f in raw.frames if f.kind == DATA and f.stream_id == 1)
            assert body == b"POST / 3\nabc"
        still_serves(srv)


@pytest.mark.parametrize(
    "attack",
    [
        frame(DATA, END_STREAM, 0, b"x"),  # DATA on stream 0 (section 6.1)
        frame(WINDOW_UPDATE, 0, 0, (0).to_bytes(4, "big")),  # a zero increment (6.9)
        frame(0x2, 0, 1, (1).to_bytes(4, "big") + b"\x10"),  # a stream depending on itself
    ],
    ids=["data-on-stream-0", "zero-window-update", "self-dependency"],
)
def test_connection_errors_end_in_goaway_protocol_error(attack: bytes) -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        raw.send(attack)
        assert raw.goaway().error_code == PROTOCOL_ERROR
        still_serves(srv)


@pytest.mark.parametrize(
    ("head", "body", "answered"),
    [
        ([(b"content-length", b"5")], frame(DATA, END_STREAM, 1, b"abc"), True),
        ([(b"content-length", b"2")], frame(DATA, END_STREAM, 1, b"abc"), True),
        ([(b"content-length", b"2")], frame(DATA, 0, 1, b"abc"), True),
        ([(b"content-length", b"0")], frame(DATA, END_STREAM, 1, b"a"), True),
        ([(b"content-length", b"abc")], frame(DATA, END_STREAM, 1, b"abc"), True),
        ([(b"content-length", b"3"), (b"content-length", b"4")], b"", True),
        # The app runs before the body arrives (it waits for 100 Continue): only the reset.
        (
            [(b"content-length", b"2"), (b"expect", b"100-continue")],
            frame(DATA, END_STREAM, 1, b"abc"),
            False,
        ),
    ],
    ids=[
        "short",
        "long",
        "long-unended",
        "zero-but-data",
        "not-a-number",
        "conflicting",
        "long-while-the-app-reads",
    ],
)
def test_a_body_that_contradicts_its_content_length_is_a_stream_error(
    head: list[tuple[bytes, bytes]], body: bytes, answered: bool
) -> None:
    # RFC 9113 section 8.1.1: malformed, so a stream error (RST_STREAM PROTOCOL_ERROR); a
    # response may come first. The connection, and its other streams, go on.
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        block = [(b":method", b"POST"), *GET_BLOCK[1:], *head]
        raw.send(frame(HEADERS, 0x4, 1, encoder.encode(block)) + body)
        got = raw.read_until(lambda f: f.stream_id == 1 and f.kind in (RST_STREAM, GOAWAY))
        assert got is not None
        assert (got.kind, got.error_code) == (RST_STREAM, PROTOCOL_ERROR)
        assert raw.status(1) == (400 if answered else None)
        raw.send(request_frame(3, encoder))
        assert raw.read_until(lambda f: f.stream_id == 3 and f.flags & END_STREAM != 0)
        assert raw.status(3) == 200
        assert not any(f.kind == GOAWAY for f in raw.frames)


@pytest.mark.parametrize(
    "block",
    [
        [*GET_BLOCK, (b"Upper", b"1")],
        [*GET_BLOCK, (b"connection", b"keep-alive")],
        [*GET_BLOCK, (b"te", b"gzip")],
        [*GET_BLOCK, (b":unknown", b"1")],
        [field for field in GET_BLOCK if field[0] != b":path"],
    ],
    ids=["upper-case", "connection-specific", "te-not-trailers", "unknown-pseudo", "no-path"],
)
def test_a_malformed_header_block_is_answered_then_reset(block: list[tuple[bytes, bytes]]) -> None:
    # RFC 9113 section 8.1.1: a stream error (RST_STREAM PROTOCOL_ERROR), which conformance
    # suites (h2spec 8.1.2) wait for even when the request ended with its headers; the 400
    # before it tells a person what was wrong. The connection goes on.
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        raw.send(frame(HEADERS, 0x4 | END_STREAM, 1, encoder.encode(block)))
        got = raw.read_until(lambda f: f.stream_id == 1 and f.kind in (RST_STREAM, GOAWAY))
        assert got is not None
        assert (got.kind, got.error_code) == (RST_STREAM, PROTOCOL_ERROR)
        assert raw.status(1) == 400
        raw.send(request_frame(3, encoder))
        assert raw.read_until(lambda f: f.stream_id == 3 and f.flags & END_STREAM != 0)
        assert raw.status(3) == 200


def answer_without_reading(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("401 Unauthorized", [("Content-Length", "0")])
    return []


@pytest.mark.parametrize(
    ("app", "length", "code"),
    [(echo, b"+5", PROTOCOL_ERROR), (answer_without_reading, b"100000", NO_ERROR)],
    ids=["malformed", "answered-before-the-body"],
)
def test_frames_on_a_stream_the_server_reset_are_ignored(
    app: Callable[..., Iterable[bytes]], length: bytes, code: int
) -> None:
    # RFC 9113 section 5.1: they MUST be ignored (the client sent them before it saw the
    # reset). h2 answered each with one more RST_STREAM (STREAM_CLOSED), a probe found.
    with h2c_server(app) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        block = [(b":method", b"POST"), *GET_BLOCK[1:], (b"content-length", length)]
        raw.send(frame(HEADERS, 0x4, 1, encoder.encode(block)))
        got = raw.read_until(lambda f: f.stream_id == 1 and f.kind in (RST_STREAM, GOAWAY))
        assert got is not None
        assert (got.kind, got.error_code) == (RST_STREAM, code)
        raw.send(b"".join(frame(DATA, 0, 1, bytes(1000)) for _ in range(5)))
        raw.send(request_frame(3, encoder))
        assert raw.read_until(lambda f: f.stream_id == 3 and f.flags & END_STREAM != 0)
        resets = [f for f in raw.frames if f.kind == RST_STREAM]
        assert [(f.stream_id, f.error_code) for f in resets] == [(1, code)]
        assert not any(f.kind == GOAWAY for f in raw.frames)


def test_a_bodiless_request_with_a_content_length_is_a_stream_error() -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        block = [(b":method", b"POST"), *GET_BLOCK[1:], (b"content-length", b"3")]
        raw.send(frame(HEADERS, 0x4 | END_STREAM, 1, encoder.encode(block)))
        assert raw.read_until(lambda f: f.stream_id == 1 and f.kind == RST_STREAM)
        assert raw.status(1) == 400
        assert raw.frames[-1].error_code == PROTOCOL_ERROR
        still_serves(srv)


def test_a_zero_window_update_on_a_stream_resets_that_stream_only() -> None:
    # RFC 9113 section 6.9: a stream error. (h2 itself ends the connection for it.)
    gate = Gate()
    with h2c_server(gate) as srv, RawH2(srv) as raw:
        encoder = Encoder()
        raw.send(request_frame(1, encoder))
        assert gate.entered.acquire(timeout=BOUND)  # stream 1 is in the app
        raw.send(frame(WINDOW_UPDATE, 0, 1, (0).to_bytes(4, "big")))
        got = raw.read_until(lambda f: f.stream_id == 1 and f.kind in (RST_STREAM, GOAWAY))
        assert got is not None
        assert (got.kind, got.error_code) == (RST_STREAM, PROTOCOL_ERROR)
        gate.release.set()
        raw.send(request_frame(3, encoder))
        assert raw.read_until(lambda f: f.stream_id == 3 and f.flags & END_STREAM != 0)
        assert raw.status(3) == 200
        assert not any(f.kind == GOAWAY for f in raw.frames)


@pytest.mark.parametrize(
    ("attack", "code"),
    [
        (frame(WINDOW_UPDATE, 0, 7, (0).to_bytes(4, "big")), PROTOCOL_ERROR),  # idle stream
        (frame(SETTINGS, ACK, 0, b"\x00"), FRAME_SIZE_ERROR),  # section 6.5
    ],
    ids=["zero-window-update-on-an-idle-stream", "settings-ack-with-a-payload"],
)
def test_frames_h2_would_misjudge_get_the_rfcs_connection_error(attack: bytes, code: int) -> None:
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        raw.send(attack)
        assert raw.goaway().error_code == code
        still_serves(srv)


def test_a_frame_over_the_maximum_size_is_refused_from_its_header() -> None:
    # RFC 9113 section 4.2: the length in the 9-byte header is enough to refuse it; the
    # server must not buffer up to 16 MiB of payload first.
    with h2c_server(echo) as srv, RawH2(srv) as raw:
        raw.send((0xFFFFFF).to_bytes(3, "big") + bytes([DATA, 0]) + (1).to_bytes(4, "big"))
        raw.send(b"x" * 1000)  # a little of the payload; the rest never comes
        assert raw.goaway().error_code == FRAME_SIZE_ERROR
        still_serves(srv)
