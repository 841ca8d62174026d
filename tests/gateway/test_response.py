"""start_response, write(), body iteration, framing, validation and close()."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import run
from wsgiserver.errors import ApplicationError, ResponseFramingError
from wsgiserver.gateway.response import CheckedHeads

Environ = dict[str, Any]
App = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
GET10 = b"GET / HTTP/1.0\r\n\r\n"
PROC_STATUS = Path("/proc/self/status")  # a file whose size (0) says nothing of its content


def simple(
    body: Iterable[bytes], status: str = "200 OK", headers: list[tuple[str, str]] | None = None
) -> App:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, headers if headers is not None else [("Content-Type", "text/plain")])
        return body

    return app


def streamed(*chunks: bytes) -> Iterator[bytes]:
    """A body of unknown length: each chunk is made only when asked for."""
    yield from chunks


class Recorder:
    """An iterable body that records close() calls and can fail at a chosen point."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError("boom")
            yield chunk

    def close(self) -> None:
        self.closed += 1


def test_list_body_gets_exact_content_length() -> None:
    exchange = run(simple([b"Hello, ", b"world!"]))
    head, body = exchange.response()
    assert body == b"Hello, world!"
    assert (b"content-length", b"13") in head.headers
    assert b"Date: " in exchange.raw
    assert b"Server: wsgiserver" in exchange.raw


def test_generator_body_is_chunked_on_http11() -> None:
    exchange = run(simple(streamed(b"a", b"", b"bc")))
    assert b"Transfer-Encoding: chunked" in exchange.raw
    assert exchange.raw.endswith(b"1\r\na\r\n2\r\nbc\r\n0\r\n\r\n")
    assert exchange.response()[1] == b"abc"


class ListBacked:
    """Django's HttpResponse: an object (not a list) whose iterator walks a list of chunks."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("body", [ListBacked(b"Hello, ", b"world!"), iter((b"Hello, ", b"world!"))])
def test_a_body_iterating_chunks_in_memory_gets_a_content_length_and_one_send(body: Any) -> None:
    # Its whole length is known without waiting on the app: chunked framing cost a second
    # send (and a second packet) for the last chunk of every Django page.
    exchange = run(simple(body))
    head, received = exchange.response()
    assert received == b"Hello, world!"
    assert (b"content-length", b"13") in head.headers
    assert b"Transfer-Encoding" not in exchange.raw
    assert exchange.channel.sends == 1
    assert exchange.conn.keep_alive
    if isinstance(body, ListBacked):
        assert body.closed == 1


def test_head_of_a_body_iterating_chunks_in_memory_has_the_length_of_get() -> None:
    exchange = run(simple(ListBacked(b"abc", b"de")), HEAD)
    assert b"Content-Length: 5\r\n" in exchange.raw
    assert exchange.raw.endswith(b"\r\n\r\n")
    assert exchange.conn.keep_alive


def test_a_body_in_memory_after_write_is_still_chunked() -> None:
    # write() sent the head already: the length of the rest cannot be put in it.
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])(b"a")
        return ListBacked(b"bc")

    exchange = run(app)
    assert b"Transfer-Encoding: chunked" in exchange.raw
    assert exchange.response()[1] == b"abc"


def test_generator_body_is_close_delimited_on_http10() -> None:
    exchange = run(simple(streamed(b"a", b"bc")), GET10)
    assert b"Transfer-Encoding" not in exchange.raw
    assert b"Connection: close" in exchange.raw
    assert exchange.raw.endswith(b"\r\n\r\nabc")
    assert not exchange.conn.keep_alive


def test_http10_keep_alive_with_known_length() -> None:
    exchange = run(simple([b"abc"]), b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: keep-alive" in exchange.raw
    assert exchange.conn.keep_alive


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses(status: str) -> None:
    exchange = run(simple([b"must not be sent"], status))
    assert exchange.raw.endswith(b"\r\n\r\n")
    assert b"must not be sent" not in exchange.raw
    assert b"Transfer-Encoding" not in exchange.raw


@pytest.mark.parametrize("request_head", [GET, HEAD])
def test_205_has_no_content_and_says_so(request_head: bytes) -> None:
    # RFC 9110 section 15.3.6: MUST NOT generate content in a 205. Its status does not make
    # it bodiless for RFC 9112 section 6.3, so "Content-Length: 0" delimits the empty body.
    headers = [("Content-Length", "16"), ("Content-Type", "text/plain")]
    exchange = run(simple([b"must not be sent"], "205 Reset Content", headers), request_head)
    assert exchange.error is None
    assert exchange.raw.endswith(b"Content-Length: 0\r\n\r\n")
    assert exchange.raw.count(b"Content-Length") == 1
    assert exchange.conn.keep_alive


def test_204_drops_content_length() -> None:
    # RFC 9110 section 8.6: MUST NOT send Content-Length in a 204.
    exchange = run(simple([], "204 No Content", [("Content-Length", "0")]))
    assert b"Content-Length" not in exchange.raw


def test_head_keeps_length_and_sends_no_body() -> None:
    exchange = run(simple([b"twelve bytes"]), HEAD)
    assert b"Content-Length: 12\r\n" in exchange.raw
    assert exchange.raw.endswith(b"\r\n\r\n")


class EndlessEvents:
    """A server-sent event stream that never ends by itself (it counts what is taken)."""

    def __init__(self) -> None:
        self.taken = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.taken += 1
        if self.taken > 1000:
            raise AssertionError("the server kept taking a body it does not send")
        return b"data: tick\n\n"

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("request_head", "status"),
    [(HEAD, "200 OK"), (GET, "204 No Content"), (GET, "304 Not Modified")],
    ids=["HEAD", "204", "304"],
)
def test_a_body_that_is_not_sent_is_not_consumed_either(request_head: bytes, status: str) -> None:
    # An endless stream answering HEAD was iterated, to be thrown away, forever: a thread
    # (or a core) held for good, close() never called, the connection never closed.
    events = EndlessEvents()
    exchange = run(simple(events, status, [("Content-Type", "text/event-stream")]), request_head)
    assert exchange.error is None
    assert exchange.raw.endswith(b"\r\n\r\n")
    assert events.taken == 1  # the first event sends the head; nothing more is taken
    assert events.closed


def test_declared_length_short_body_aborts() -> None:
    exchange = run(simple([b"abc"], headers=[("Content-Length", "10")]))
    assert isinstance(exchange.error, ResponseFramingError)
    assert exchange.raw.endswith(b"\r\n\r\nabc")
    assert not exchange.conn.keep_alive


def test_declared_length_long_body_is_cut_and_closes() -> None:
    exchange = run(simple(streamed(b"abcdef", b"more"), headers=[("Content-Length", "4")]))
    assert exchange.error is None
    assert exchange.raw.endswith(b"\r\n\r\nabcd")
    assert not exchange.conn.keep_alive


def test_write_callable_sends_immediately() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"first ")
        write(b"")
        return [b"second"]

    exchange = run(app)
    assert exchange.response()[1] == b"first second"


def test_close_called_once_on_success_and_failure() -> None:
    ok = Recorder([b"a", b"b"])
    run(simple(ok))
    assert ok.closed == 1
    failing = Recorder([b"a", b"b"], fail_at=1)
    exchange = run(simple(failing))
    assert failing.closed == 1
    assert isinstance(exchange.error, RuntimeError)
    assert exchange.outcome.aborted
    # Chunked and aborted: the terminating chunk must not be sent (RFC 9112 section 7.1).
    assert not exchange.raw.endswith(b"0\r\n\r\n")


def test_app_error_before_head_is_500_and_closes_iterable() -> None:
    failing = Recorder([b"a"], fail_at=0)
    exchange = run(simple(failing))
    assert isinstance(exchange.error, ApplicationError)
    assert exchange.error.status == 500
    assert exchange.raw == b""
    assert failing.closed == 1


def test_app_raising_before_start_response() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise KeyError("nope")

    exchange = run(app)
    assert isinstance(exchange.error, ApplicationError)
    assert isinstance(exchange.error.__cause__, KeyError)


def test_start_response_twice_without_exc_info_fails() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        start_response("500 Oops", [])
        return [b""]

    exchange = run(app)
    assert isinstance(exchange.error, ApplicationError)


def test_start_response_with_exc_info_replaces_status_before_head() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"error page"]

    exchange = run(app)
    head, body = exchange.response()
    assert head.status_code == 500
    assert body == b"error page"


def test_start_response_with_exc_info_after_head_reraises() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial")
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"never"]

    exchange = run(app)
    assert isinstance(exchange.error, ValueError)
    assert exchange.outcome.aborted


def test_no_start_response_is_500() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return [b"x"]

    assert isinstance(run(app).error, ApplicationError)


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("200", []),
        ("OK 200", []),
        ("099 Low", []),
        ("100 Continue", []),
        ("600 Beyond", []),  # RFC 9110 section 15: codes are 100..599
        ("999 Nope", []),
        ("200 OK\r\nX: y", []),
        (b"200 OK", []),
        ("200 OK", [("Bad Name", "v")]),
        ("200 OK", [("X", "line\r\nbreak")]),
        ("200 OK", [("X", "nul\x00")]),
        ("200 OK", [("X", "snow\u2603")]),
        ("200 OK", [(b"X", "bytes name")]),
        ("200 OK", [("X", b"bytes value")]),
        ("200 OK", [("X", "v", "extra")]),
        ("200 OK", ("not", "a list")),
        ("200 OK", [("Connection", "close")]),
        ("200 OK", [("Transfer-Encoding", "chunked")]),
        ("200 OK", [("Upgrade", "websocket")]),
        ("200 OK", [("Content-Length", "-1")]),
        ("200 OK", [("Content-Length", "1"), ("Content-Length", "2")]),
    ],
)
def test_invalid_status_or_headers_are_500(status: Any, headers: Any) -> None:
    exchange = run(simple([b"x"], status, headers))
    assert isinstance(exchange.error, ApplicationError), exchange.raw
    assert exchange.raw == b""


@pytest.mark.parametrize("body", [["text"], [b"ok", "text"], [None], iter([1])])
def test_non_bytes_body_is_500(body: Any) -> None:
    exchange = run(simple(body))
    assert isinstance(exchange.error, ApplicationError)


def test_write_requires_bytes() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])("text")
        return []

    assert isinstance(run(app).error, ApplicationError)


def test_file_wrapper_uses_sendfile(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    handles: list[Any] = []

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        handle = path.open("rb")
        handle.seek(100)
        handles.append(handle)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](handle)
        return wrapper

    exchange = run(app)
    head, body = exchange.response()
    assert body == data[100:]
    assert (b"content-length", str(len(data) - 100).encode()) in head.headers
    assert exchange.channel.sendfile_calls == [(100, len(data) - 100)]
    assert handles[0].closed


def test_file_wrapper_respects_declared_length(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"0123456789")

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "4")])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    exchange = run(app)
    assert exchange.response()[1] == b"0123"
    assert exchange.channel.sendfile_calls == [(0, 4)]
    # PEP 3333: a file goes out "until the end is reached, or until Content-Length bytes
    # have been written": serving a byte range this way is no app error, and the
    # connection stays open. It was logged as a surplus and the connection closed.
    writer = exchange.conn.current_writer
    assert writer is not None
    assert (writer.surplus, writer.keep_alive) == (0, True)


@pytest.mark.parametrize("block_size", [3, 4, 100])
def test_file_wrapper_without_fileno_stops_at_the_declared_length(block_size: int) -> None:
    import io

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("206 Partial Content", [("Content-Length", "4")])
        file = io.BytesIO(b"0123456789")
        file.seek(2)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](file, block_size)
        return wrapper

    exchange = run(app)
    assert exchange.error is None
    assert exchange.response()[1] == b"2345"
    writer = exchange.conn.current_writer
    assert writer is not None
    assert (writer.surplus, writer.keep_alive) == (0, True)


def test_a_file_shorter_than_its_content_length_is_still_an_error() -> None:
    import io

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "20")])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789"))
        return wrapper

    assert run(app).error is not None


def test_file_wrapper_without_fileno_is_iterated() -> None:
    import io

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](io.BytesIO(b"in memory"), 4)
        return wrapper

    exchange = run(app)
    assert exchange.response()[1] == b"in memory"
    assert exchange.channel.sendfile_calls == []


@pytest.mark.skipif(not PROC_STATUS.exists(), reason="needs Linux's /proc")
def test_file_wrapper_of_a_file_whose_size_says_nothing_is_read_to_its_end() -> None:
    # /proc and /sys files have a size of 0 and content: sent as a complete, empty 200.
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](PROC_STATUS.open("rb"))
        return wrapper

    exchange = run(app)
    assert exchange.error is None
    assert exchange.response()[1].startswith(b"Name:")
    assert exchange.channel.sendfile_calls == []


def test_file_wrapper_of_an_empty_file_is_an_empty_body(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    exchange = run(app)
    head, body = exchange.response()
    assert body == b""
    assert (b"content-length", b"0") in head.headers


def test_file_wrapper_head_request_sends_no_body(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"0123456789")

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    exchange = run(app, HEAD)
    assert exchange.raw.endswith(b"\r\n\r\n")
    assert b"Content-Length: 10" in exchange.raw
    assert exchange.channel.sendfile_calls == []


def test_close_error_is_reported_not_raised() -> None:
    class BadClose(Recorder):
        def close(self) -> None:
            raise OSError("close failed")

    exchange = run(simple(BadClose([b"a"])))
    assert exchange.error is None
    assert isinstance(exchange.outcome.close_error, OSError)


def test_app_date_and_server_headers_are_not_duplicated() -> None:
    headers = [("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("Server", "custom")]
    exchange = run(simple([b"x"], headers=headers))
    assert exchange.raw.count(b"Date: ") == 1
    assert exchange.raw.count(b"Server: ") == 1
    assert b"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" in exchange.raw
    assert b"Server: custom\r\n" in exchange.raw


def test_unread_chunked_body_closes_connection() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    exchange = run(simple([b"ignored the body"]), request)
    assert b"Connection: close" in exchange.raw
    assert not exchange.conn.keep_alive


# -- the memo of checked heads (wsgiserver/gateway/response.py) -------------------------------


def test_header_list_changed_after_start_response_is_what_is_sent() -> None:
    # The list is read when the body begins, as wsgiref does; a field added (or a bad one
    # put in) between start_response and the body must be sent (or refused), not skipped.
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "text/plain")]
        start_response("200 OK", headers)
        headers.append(("X-Late", "yes"))
        return [b"ok"]

    response, _ = run(app).response()
    assert (b"x-late", b"yes") in response.headers

    def bad(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "text/plain")]
        start_response("200 OK", headers)
        headers.append(("Connection", "close"))
        return [b"ok"]

    assert isinstance(run(bad).error, ApplicationError)


def test_a_remembered_head_is_not_shared_across_different_headers() -> None:
    first, _ = run(simple([b"ok"], headers=[("X-A", "1")])).response()
    second, _ = run(simple([b"ok"], headers=[("X-A", "2")])).response()
    again, _ = run(simple([b"ok"], headers=[("X-A", "1")])).response()
    assert (b"x-a", b"1") in first.headers
    assert (b"x-a", b"2") in second.headers
    assert (b"x-a", b"1") in again.headers
    # An invalid list is refused every time, never remembered as valid.
    for _ in range(2):
        assert isinstance(run(simple([b"x"], headers=[("X", "a\nb")])).error, ApplicationError)


def test_remembered_heads_stay_bounded() -> None:
    heads = CheckedHeads(limit=8)
    for index in range(20):
        checked = heads.check("200 OK", [("X-Id", str(index))])
        assert checked.fields.lines == f"X-Id: {index}\r\n"
        assert len(heads) <= 8
    # A repeat is served from the memo: the very same checked object.
    assert heads.check("200 OK", [("X-Id", "19")]) is heads.check("200 OK", [("X-Id", "19")])


def test_str_subclasses_are_checked_but_not_remembered() -> None:
    class Name(str):
        pass

    exchange = run(simple([b"ok"], headers=[(Name("X-Sub"), Name("v"))]))
    response, _ = exchange.response()
    assert (b"x-sub", b"v") in response.headers
    heads = CheckedHeads()
    heads.check("200 OK", [(Name("X-Sub"), Name("v"))])
    assert len(heads) == 0
    heads.check("200 OK", [("X-Sub", "v")])
    assert len(heads) == 1


def test_invalid_heads_are_never_remembered() -> None:
    heads = CheckedHeads()
    for headers in ([("X", "a\nb")], [["X", "list pair"]], [("Connection", "close")]):
        for _ in range(2):
            with pytest.raises(ApplicationError):
                heads.check("200 OK", headers)
    assert len(heads) == 0


def test_content_length_is_sent_once_and_normalized() -> None:
    headers = [("Content-Length", "002"), ("Content-Type", "text/plain"), ("Content-Length", "2")]
    exchange = run(simple([b"ok"], headers=headers))
    assert exchange.raw.count(b"Content-Length") == 1
    assert b"Content-Length: 2\r\n" in exchange.raw


@pytest.mark.parametrize("body", [[], iter([]), [b""]], ids=["list", "iterator", "empty-item"])
def test_head_request_with_the_body_left_out_gets_no_made_up_length(body: Any) -> None:
    # RFC 9110 section 9.3.2 lets an app leave the body out for HEAD; section 8.6 allows
    # Content-Length there only with GET's length, which an empty body does not tell.
    exchange = run(simple(body), HEAD)
    assert exchange.error is None
    assert b"Content-Length" not in exchange.raw
    assert b"Transfer-Encoding" not in exchange.raw
    assert exchange.raw.endswith(b"\r\n\r\n")
    assert exchange.conn.keep_alive


def test_write_after_the_response_ended_raises_and_sends_nothing() -> None:
    # PEP 3333 write() belongs to its response: bytes written after the end would be read
    # by the client as the start of the next response.
    kept: list[Callable[[bytes], None]] = []
    failures: list[BaseException] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"body"

        def close(self) -> None:
            try:
                kept[0](b"forged")
            except ApplicationError as exc:
                failures.append(exc)

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        kept.append(start_response("200 OK", [("Content-Type", "text/plain")]))
        return Body()

    exchange = run(app)
    assert exchange.error is None
    assert exchange.raw.endswith(b"4\r\nbody\r\n0\r\n\r\n")
    assert b"forged" not in exchange.raw
    assert len(failures) == 1
    assert "after its response ended" in str(failures[0])
    with pytest.raises(ApplicationError):
        kept[0](b"later, from another thread")
    assert b"later" not in exchange.raw


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_head_request_for_a_bodyless_status_gets_no_content_length(status: str) -> None:
    # RFC 9110 section 8.6: never on a 204; on a 304 only the length of the 200 it stands
    # for, which the server cannot know from the (empty) body the app returned.
    exchange = run(simple([], status), HEAD)
    assert b"Content-Length" not in exchange.raw
    assert exchange.raw.endswith(b"\r\n\r\n")


def test_str_subclasses_cannot_change_what_is_checked_or_sent() -> None:
    class Sneaky(str):
        def __format__(self, spec: str) -> str:
            return "v\r\nX-Injected: 1"

        def lower(self) -> str:
            return "x-harmless"

    exchange = run(simple([b"ok"], headers=[("X-A", Sneaky("v"))]))
    assert b"X-Injected" not in exchange.raw
    assert b"X-A: v\r\n" in exchange.raw
    # A hop-by-hop name is refused even if its lower() says otherwise.
    refused = run(simple([b"ok"], headers=[(Sneaky("Connection"), "close")]))
    assert isinstance(refused.error, ApplicationError)


def test_file_wrapper_length_follows_headers_changed_after_start_response(
    tmp_path: Path,
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", "5")]
        start_response("200 OK", headers)
        del headers[1]  # the app changed its mind: the file's own size applies
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    head, body = run(app).response()
    assert body == b"x" * 1000
    assert (b"content-length", b"1000") in head.headers
