"""`environ["wsgi.early_hints"]`: 103 Early Hints (RFC 8297) with gunicorn's convention.

The callable takes a list of (name, value) pairs (str or bytes), may be called more than
once, does nothing once the response head went out or the response ended, never sends to an
HTTP/1.0 client, and refuses what `start_response` would refuse (and Content-Length).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import h11
import pytest

from tests.gateway.harness import run
from wsgiserver.errors import ApplicationError

Environ = dict[str, Any]
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
GET10 = b"GET / HTTP/1.0\r\n\r\n"
LINK = ("Link", "</style.css>; rel=preload; as=style")


def hinting(*calls: object) -> Callable[[Environ, Callable[..., Any]], Iterable[bytes]]:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        for headers in calls:
            environ["wsgi.early_hints"](headers)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"page"]

    return app


def informational(raw: bytes) -> list[h11.InformationalResponse]:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    found = []
    while True:
        event = client.next_event()
        if isinstance(event, h11.InformationalResponse):
            found.append(event)
        elif isinstance(event, h11.Response):
            return found
        else:  # pragma: no cover - a failing test's way out
            raise AssertionError(f"unexpected {event!r} in {raw!r}")


def test_each_call_sends_a_103_before_the_response() -> None:
    app = hinting([LINK], [("Link", "</app.js>; rel=preload; as=script"), ("X-Hint", "2")])
    exchange = run(app)
    assert exchange.error is None
    hints = informational(exchange.raw)
    assert [h.status_code for h in hints] == [103, 103]
    assert hints[0].headers == [(b"link", b"</style.css>; rel=preload; as=style")]
    assert hints[1].headers == [(b"link", b"</app.js>; rel=preload; as=script"), (b"x-hint", b"2")]
    assert exchange.raw.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>")
    head, body = exchange.response()
    assert (head.status_code, body) == (200, b"page")


def test_bytes_names_and_values_are_taken_as_latin1() -> None:
    exchange = run(hinting([(b"Link", b"</caf\xe9.css>; rel=preload")]))
    assert exchange.raw.startswith(
        b"HTTP/1.1 103 Early Hints\r\nLink: </caf\xe9.css>; rel=preload\r\n\r\n"
    )


def test_an_http10_client_gets_no_103() -> None:
    exchange = run(hinting([LINK]), GET10)
    assert exchange.error is None
    assert exchange.raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"103" not in exchange.raw


def test_a_no_op_once_the_head_was_sent_or_the_response_ended() -> None:
    kept: list[Callable[[object], None]] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"first"
            kept[0]([LINK])  # the head is out: too late
            yield b"second"

        def close(self) -> None:
            kept[0]([LINK])  # the response is over

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        kept.append(environ["wsgi.early_hints"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    exchange = run(app)
    assert exchange.error is None
    assert b"103" not in exchange.raw
    assert exchange.response()[1] == b"firstsecond"


def test_after_start_response_and_before_the_body_it_still_goes_out() -> None:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        environ["wsgi.early_hints"]([LINK])
        return [b"page"]

    exchange = run(app)
    assert [h.status_code for h in informational(exchange.raw)] == [103]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("Link", "a\r\nSet-Cookie: x=1")], id="crlf-in-value"),
        pytest.param([("Bad Name", "v")], id="bad-name"),
        pytest.param([("Connection", "close")], id="hop-by-hop"),
        pytest.param([("Content-Length", "0")], id="content-length"),
        pytest.param([("Link",)], id="not-a-pair"),
        pytest.param("Link: x", id="not-a-list"),
        pytest.param([(1, "x")], id="name-not-text"),
    ],
)
def test_invalid_hints_are_the_apps_error(headers: object) -> None:
    exchange = run(hinting(headers))
    assert isinstance(exchange.error, ApplicationError)
    assert exchange.raw == b""  # nothing went out: the transport answers 500
