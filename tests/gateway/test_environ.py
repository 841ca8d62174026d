"""PEP 3333 environ: required keys, types and values, checked with wsgiref.validate too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.validate import validator

import pytest

from sample_apps.plain import echo
from tests.gateway.harness import run

Environ = dict[str, Any]


def capture() -> tuple[list[Environ], Callable[..., Iterable[bytes]]]:
    seen: list[Environ] = []

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(dict(environ))
        while environ["wsgi.input"].read(65536):
            pass
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return seen, app


def environ_for(request: bytes, **kwargs: Any) -> Environ:
    seen, app = capture()
    exchange = run(validator(app), request, **kwargs)
    assert exchange.error is None, exchange.error
    return seen[0]


def test_required_keys_and_types() -> None:
    environ = environ_for(b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/a/b"
    assert environ["QUERY_STRING"] == "x=1&y=%20"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == "8000"
    assert isinstance(environ["SERVER_PORT"], str)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["HTTP_HOST"] == "example.com:8080"
    assert environ["REMOTE_ADDR"] == "10.0.0.1"
    assert environ["REMOTE_PORT"] == "51234"
    assert environ["RAW_URI"] == environ["REQUEST_URI"] == "/a/b?x=1&y=%20"
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True
    assert callable(environ["wsgi.file_wrapper"])
    assert "CONTENT_LENGTH" not in environ


def test_path_info_is_percent_decoded_latin1() -> None:
    # PEP 3333: PATH_INFO carries the decoded bytes as latin-1 ("bytes-as-str").
    environ = environ_for(b"GET /caf%C3%A9/%2F/a%20b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert environ["PATH_INFO"] == "/caf\xc3\xa9///a b"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café///a b"
    assert environ["RAW_URI"] == "/caf%C3%A9/%2F/a%20b"


def test_query_string_stays_raw() -> None:
    environ = environ_for(b"GET /?q=%C3%A9&a=%2B+b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert environ["QUERY_STRING"] == "q=%C3%A9&a=%2B+b"


def test_root_path_becomes_script_name() -> None:
    environ = environ_for(b"GET /prefix/page HTTP/1.1\r\nHost: x\r\n\r\n", root_path="/prefix")
    assert environ["SCRIPT_NAME"] == "/prefix"
    assert environ["PATH_INFO"] == "/page"


def test_root_path_exact_and_foreign_paths() -> None:
    exact = environ_for(b"GET /prefix HTTP/1.1\r\nHost: x\r\n\r\n", root_path="/prefix")
    assert (exact["SCRIPT_NAME"], exact["PATH_INFO"]) == ("/prefix", "")
    # A proxy that already stripped the prefix: PATH_INFO is left alone.
    other = environ_for(b"GET /prefixed/x HTTP/1.1\r\nHost: x\r\n\r\n", root_path="/prefix")
    assert (other["SCRIPT_NAME"], other["PATH_INFO"]) == ("/prefix", "/prefixed/x")


def test_repeated_headers_are_joined() -> None:
    environ = environ_for(
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"
    )
    assert environ["HTTP_ACCEPT"] == "a, b"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"


def test_header_names_with_underscores_are_dropped() -> None:
    # "X_Forwarded_For" would otherwise collide with "X-Forwarded-For" in the environ.
    environ = environ_for(
        b"GET / HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: evil\r\nX-Real: ok\r\n\r\n"
    )
    assert "HTTP_X_FORWARDED_FOR" not in environ
    assert environ["HTTP_X_REAL"] == "ok"


def test_content_type_and_length_are_cgi_names() -> None:
    environ = environ_for(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
    )
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_chunked_request_has_no_content_length() -> None:
    environ = environ_for(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    assert "CONTENT_LENGTH" not in environ
    assert environ["HTTP_TRANSFER_ENCODING"] == "chunked"


def test_absolute_form_overrides_host() -> None:
    # RFC 9112 section 3.2.2: the target's authority wins over the Host field.
    environ = environ_for(b"GET http://real.example:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n")
    assert environ["HTTP_HOST"] == "real.example:81"
    assert environ["PATH_INFO"] == "/p"
    assert environ["QUERY_STRING"] == "q"


def test_asterisk_form_has_an_empty_path_info() -> None:
    # RFC 9112 section 3.2.4 / RFC 3875 section 4.1.5: no resource, so no "/"-less PATH_INFO
    # (wsgiref.validate, which environ_for runs, rejects one).
    environ = environ_for(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert environ["PATH_INFO"] == ""
    assert environ["SCRIPT_NAME"] == ""
    assert environ["REQUEST_URI"] == "*"
    assert environ["REQUEST_METHOD"] == "OPTIONS"


def test_server_wide_options_in_absolute_form_is_the_asterisk_form() -> None:
    # RFC 9112 section 3.2.4: "OPTIONS http://host:port" (empty path, no query) is what the
    # last proxy would forward as "OPTIONS *": the same environ, with the target's host.
    environ = environ_for(b"OPTIONS http://x:8001 HTTP/1.1\r\nHost: other\r\n\r\n")
    assert environ["PATH_INFO"] == ""
    assert environ["REQUEST_URI"] == "http://x:8001"
    assert environ["HTTP_HOST"] == "x:8001"


def test_http10_without_host() -> None:
    environ = environ_for(b"GET / HTTP/1.0\r\n\r\n")
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert "HTTP_HOST" not in environ


def test_latin1_header_values_pass_through() -> None:
    environ = environ_for(b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n\r\n")
    assert environ["HTTP_X_NAME"] == "caf\xe9"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_echo_sample_app_under_validator(method: str) -> None:
    body = b"" if method in ("GET", "OPTIONS") else b"payload"
    request = (
        f"{method} /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    exchange = run(validator(echo), request)
    assert exchange.error is None
    head, payload = exchange.response()
    assert head.status_code == 200
    data = json.loads(payload)
    assert data["REQUEST_METHOD"] == method
    assert data["body_length"] == str(len(body))
