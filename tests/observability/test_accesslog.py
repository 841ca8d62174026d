"""Access log formats: combined/common/json/custom templates, escaping in every format."""

from __future__ import annotations

import json
import logging
import time

import pytest

from tests.observability.helpers import hello, reader
from tests.server.helpers import RawClient
from wsgiserver.config.options import Config
from wsgiserver.errors import ConfigError
from wsgiserver.observability.accesslog import (
    RequestRecord,
    compile_format,
    format_record,
    formatter,
)
from wsgiserver.protocol.head import parse_request_head
from wsgiserver.protocol.limits import Limits
from wsgiserver.testing import serving
from wsgiserver.transport.records import Records

HOSTILE_TARGETS = [
    b'/q?a="quoted"&b=\\back\\slash',
    b"/%00%0A%0D%1B%22%5C%7F%C3%A9%FF",  # controls and non-ASCII bytes, percent-encoded
    b"/%E2%80%A8line-separator",
    b"/a'b{c}%7Bd%7D",
]


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {
        "remote": "192.0.2.1",
        "method": "GET",
        "target": "/",
        "version": "1.1",
        "status": 200,
        "body_bytes": 5,
        "started": 1_700_000_000.25,
        "duration_us": 1234,
        "queue_us": 56,
        "request_id": "abcd-1",
    }
    base.update(fields)
    return RequestRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_json_lines_parse_for_hostile_targets(target: bytes) -> None:
    with serving(hello) as srv, RawClient(srv.address) as client:
        # Raw obs-text (bytes 0x80-0xFF) and quotes in header values reach the record too.
        client.send(
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
            b'User-Agent: "evil\\" \xff\xfe\tagent\r\nReferer: \x80\x99"\r\n\r\n'
        )
        assert client.read_response().status == 200
        (rec,) = srv.wait_for_requests(1)
    line = formatter("json")(rec)
    assert "\n" not in line
    assert line.isascii()
    data = json.loads(line)
    assert data["target"] == target.decode("latin-1")
    assert data["user_agent"] == '"evil\\" \xff\xfe\tagent'
    assert data["referer"] == '\x80\x99"'
    assert data["status"] == 200
    assert data["bytes"] == 5
    assert data["request_id"] == rec.request_id != ""
    assert data["client"] == data["remote"] == "127.0.0.1"
    assert isinstance(data["duration_us"], int)
    assert isinstance(data["queue_us"], int)


def test_json_escapes_every_control_character() -> None:
    nasty = "".join(chr(i) for i in range(0x20)) + '"\\\x7f\x80\xff'
    line = format_record(record(target=nasty, user_agent=nasty, referer=nasty), "json")
    assert all(0x20 <= ord(c) < 0x7F for c in line)
    assert json.loads(line)["target"] == nasty


@pytest.mark.parametrize("fmt", ["combined", "common", "{target} {req:User-Agent} {referer}"])
def test_text_formats_escape_controls_quotes_and_non_ascii(fmt: str) -> None:
    nasty = 'a\x00b\nc"d\\e\x7f\xff'
    line = format_record(
        record(
            target=nasty,
            user_agent=nasty,
            referer=nasty,
            request_headers=[(b"user-agent", nasty.encode("latin-1"))],
        ),
        fmt,
    )
    assert all(0x20 <= ord(c) < 0x7F for c in line)
    for escaped in ("\\x00", "\\x0a", "\\x22", "\\xff"):
        assert escaped in line


def test_custom_format_with_request_and_response_headers() -> None:
    fmt = (
        "{client} {method} {target} {status} {bytes} {request_bytes} {request_id} "
        "{req:X-Custom} {resp:Content-Type} {resp:X-Missing} {{literal}}"
    )
    with serving(reader, forwarded_allow_ips="127.0.0.1") as srv:
        with RawClient(srv.address) as client:
            client.send(
                b"POST /p?x=1 HTTP/1.1\r\nHost: x\r\nX-Custom: one\r\nX-Custom: two\r\n"
                b"X-Forwarded-For: 198.51.100.7\r\nContent-Length: 3\r\n\r\nabc"
            )
            assert client.read_response().status == 200
        (rec,) = srv.wait_for_requests(1)
        (line,) = srv.access_lines(fmt)
    assert line == (
        f"198.51.100.7 POST /p?x=1 200 {rec.body_bytes} 3 {rec.request_id} "
        "one, two text/plain - {literal}"
    )
    assert rec.remote == "127.0.0.1"


def test_every_named_field_renders() -> None:
    from wsgiserver.observability.accesslog import FIELDS

    template = " ".join("{" + name + "}" for name in FIELDS)
    assert len(compile_format(template)(record()).split(" ")) >= len(FIELDS)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("{remote} {nope} {req:}", "unknown field(s) {nope}, {req:}"),
        ("{remote} {resp:bad name}", "unknown field(s) {resp:bad name}"),
        ("{remote", "unmatched '{'"),
        ("plain text", "names no {field}"),
    ],
)
def test_bad_templates_are_one_line_config_errors(fmt: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(access_log_format=fmt)
    text = str(info.value)
    assert text.startswith("access_log_format: ")
    assert message in text
    assert "\n" not in text


def test_cli_rejects_unknown_fields_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from wsgiserver.cli.main import main

    code = main(["--access-log-format", "{remote} {bogus}", "--check-config", "x:app"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "{bogus}" in err


def test_configured_access_log_emits_json_to_the_access_logger() -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    access = logging.getLogger("wsgiserver.access")
    handler, level = Collect(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        with serving(hello, access_log="-", access_log_format="json") as srv:
            with RawClient(srv.address) as client:
                client.send(b"GET /x%0a HTTP/1.1\r\nHost: x\r\n\r\n")
                client.read_response()
            srv.wait_for_requests(1)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert len(lines) == 1
    assert json.loads(lines[0])["target"] == "/x%0a"


# -- one record per answered request, with the body bytes actually sent ------------------


def _failing(environ: dict[str, object], start_response: object) -> list[bytes]:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("request_bytes", "status", "line"),
    [
        # A complete head refused by its fields: its request line is recorded.
        (b"GET /x HTTP/1.1\r\n\r\n", 400, ("GET", "/x", "1.1")),  # no Host
        (
            b"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
            413,
            ("POST", "/cl", "1.1"),
        ),
        (b"HEAD / HTTP/1.1\r\n\r\n", 400, ("HEAD", "/", "1.1")),
        # No complete request line to report.
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, ("-", "-", "-")),
    ],
    ids=["400", "413", "400-head", "414"],
)
def test_requests_the_server_refuses_get_a_record(
    request_bytes: bytes, status: int, line: tuple[str, str, str]
) -> None:
    with serving(hello) as srv, RawClient(srv.address) as client:
        client.send(request_bytes)
        head_only = request_bytes.startswith(b"HEAD")
        response = client.read_response(head=head_only)
        assert response.status == status
        (rec,) = srv.wait_for_requests(1)
    assert rec.status == status
    assert (rec.method, rec.target, rec.version) == line
    assert rec.remote == "127.0.0.1"
    assert rec.body_bytes == (0 if head_only else len(response.body))
    assert rec.environ is None  # so the on_request_end hook is not called for it


def test_an_app_failure_records_the_500_body_that_was_sent() -> None:
    with serving(_failing) as srv, RawClient(srv.address) as client:
        response = client.request(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response.status == 500
        (rec,) = srv.wait_for_requests(1)
        srv.take_app_errors()
    assert rec.status == 500
    assert rec.method == "GET"
    assert rec.target == "/f"
    assert rec.body_bytes == len(response.body) > 0


def test_head_records_no_body_bytes() -> None:
    with serving(hello) as srv, RawClient(srv.address) as client:
        response = client.request(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", head=True)
        assert response.header("content-length") == "5"
        (rec,) = srv.wait_for_requests(1)
    assert rec.status == 200
    assert rec.body_bytes == 0


def test_a_user_agent_or_referer_sent_twice_is_logged_whole() -> None:
    # RFC 9110 section 5.3: the values combine, as the app's HTTP_USER_AGENT has them; the
    # record kept the last one only (an operations probe).
    with serving(hello) as srv, RawClient(srv.address) as client:
        response = client.request(
            b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: a\r\nReferer: http://r/1\r\n"
            b"User-Agent: b\r\nReferer: http://r/2\r\n\r\n"
        )
        assert response.status == 200
        (rec,) = srv.wait_for_requests(1)
        (line,) = srv.access_lines("combined")
    assert (rec.user_agent, rec.referer) == ("a, b", "http://r/1, http://r/2")
    assert line.endswith('"http://r/1, http://r/2" "a, b"')


def test_queue_us_counts_from_the_wait_for_a_thread_when_the_server_knows_it() -> None:
    # The queue_wait_seconds metric counts from the moment the connection was (estimated)
    # ready with every thread busy; the record's queue_us only from the complete head, read
    # once a thread had it: 5 µs in the log for a request the metric saw wait 1.7 s (an
    # operations probe). Both now count from the same moment; the record's is the later.
    records: list[RequestRecord] = []
    keeper = Records(records.append, ("127.0.0.1", 1), lambda request: (None, "id"))
    request = parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Limits())
    now = time.monotonic()
    keeper.head_at = now
    keeper.ready_since = now - 5.0  # the transport's estimate, as given to the metric
    assert keeper.start(request).queue_us >= 5_000_000
    keeper.head_at = time.monotonic()  # the next request: no wait for a thread known
    assert keeper.start(request).queue_us < 5_000_000
