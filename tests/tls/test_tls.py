"""HTTPS end to end: Python ssl/http.client and curl clients against a real server."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.metrics.promtext import get, parse, value
from tests.tls.helpers import KEY_PASSWORD, Certs, environ_app, make_certs
from wsgiserver.errors import ConfigError
from wsgiserver.server.server import Server
from wsgiserver.testing import RunningServer, serving

StartResponse = Callable[..., Callable[[bytes], None]]
TIMEOUT = 5.0


def tls_options(certs: Certs, **extra: Any) -> dict[str, Any]:
    return {"certfile": certs.cert, "keyfile": certs.key, **extra}


def https_get(
    srv: RunningServer,
    context: ssl.SSLContext,
    path: str = "/",
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("localhost", srv.port, context=context, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_https_request_has_https_environ_and_alpn(certs: Certs) -> None:
    context = certs.client_context()
    with serving(environ_app, **tls_options(certs)) as srv:
        conn = http.client.HTTPSConnection("localhost", srv.port, context=context, timeout=5)
        try:
            for _ in range(2):  # keep-alive over TLS: the second request parks and resumes
                conn.request("GET", "/x")
                response = conn.getresponse()
                environ = json.loads(response.read())
                assert response.status == 200
            assert conn.sock is not None
            assert conn.sock.selected_alpn_protocol() == "http/1.1"
        finally:
            conn.close()
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTPS"] == "on"
    assert environ["SSL_PROTOCOL"] in ("TLSv1.2", "TLSv1.3")
    assert environ["SSL_CLIENT_CERT"] is None
    assert environ["PATH_INFO"] == "/x"


def test_the_url_of_a_tls_test_server_says_https(certs: Certs, tmp_path: Path) -> None:
    # It said http://, and a client following it got "400: this port speaks HTTPS".
    with serving(environ_app, **tls_options(certs)) as srv:
        assert srv.url == f"https://127.0.0.1:{srv.port}"
        context = certs.client_context()  # the certificate names 127.0.0.1 too
        with urllib.request.urlopen(srv.url + "/u", context=context, timeout=TIMEOUT) as response:
            assert json.loads(response.read())["wsgi.url_scheme"] == "https"
    path = str(tmp_path / "tls.sock")
    with serving(environ_app, bind=f"unix:{path}", **tls_options(certs)) as srv:
        assert srv.url == "https+unix://" + quote(path, safe="")
    with serving(environ_app) as srv:
        assert srv.url == f"http://127.0.0.1:{srv.port}"


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut-by-the-app"])
def test_close_notify_ends_a_whole_close_delimited_body_and_only_that(
    certs: Certs, cut: bool
) -> None:
    # RFC 9112 section 8: an HTTP/1.0 body without Content-Length ends at the close. Over
    # TLS the client tells a whole one from a cut one by the close_notify alert before it.
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        if cut:
            raise ValueError("mid-stream")
        yield b"last"

    context = certs.client_context()
    with (
        serving(app, **tls_options(certs)) as srv,
        socket.create_connection((srv.host, srv.port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls,
    ):
        tls.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        received = b""
        try:
            while data := tls.recv(65536):
                received += data
            ending = "close_notify"
        except (ssl.SSLEOFError, ConnectionResetError):
            ending = "cut"
    assert ending == ("cut" if cut else "close_notify")
    if not cut:
        assert received.endswith(b"\r\n\r\nfirstlast")


def test_curl_with_cacert(certs: Certs) -> None:
    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI"):
            pytest.fail("curl is needed (CI is set)")
        pytest.skip("curl is not installed")
    with serving(environ_app, **tls_options(certs)) as srv:
        result = subprocess.run(
            [curl, "-sS", "--fail", "--cacert", certs.ca, f"https://127.0.0.1:{srv.port}/c"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["wsgi.url_scheme"] == "https"


def test_upload_and_pipelining_over_tls(certs: Certs) -> None:
    payload = os.urandom(700_000)  # many TLS records, read by the app through wsgi.input
    with serving(environ_app, **tls_options(certs)) as srv:
        status, body = https_get(srv, certs.client_context(), method="POST", body=payload)
        assert status == 200
        assert json.loads(body)["body_length"] == len(payload)
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        with certs.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
            request = b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
            tls.sendall(request * 2 + b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3


def test_mtls_required(certs: Certs) -> None:
    options = tls_options(certs, ca_certs=certs.ca, verify_client="required")
    with serving(environ_app, **options) as srv:
        status, body = https_get(srv, certs.client_context(with_cert=True))
        assert status == 200
        environ = json.loads(body)
        assert environ["SSL_CLIENT_CERT"].startswith("-----BEGIN CERTIFICATE-----")
        assert environ["SSL_CLIENT_S_DN"] == "O=Example,CN=client-one"
        subject = environ["wsgiserver.peer_cert"]
        assert "client-one" in str(subject)
        # Without a client certificate the handshake fails (with TLS 1.3 the client learns
        # it on its first read).
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            https_get(srv, certs.client_context())


def test_mtls_refuses_a_client_certificate_from_another_ca(certs: Certs, tmp_path: Path) -> None:
    # The same recipe run again makes a look-alike CA and a client certificate with the very
    # same subject: only the chain to --ca-certs tells them apart.
    impostor = make_certs(tmp_path)
    context = certs.client_context()
    context.load_cert_chain(impostor.client_cert, impostor.client_key)
    options = tls_options(certs, ca_certs=certs.ca, verify_client="required")
    with serving(environ_app, **options) as srv:
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            https_get(srv, context)
        status, body = https_get(srv, certs.client_context(with_cert=True))
        assert status == 200
        assert json.loads(body)["SSL_CLIENT_S_DN"] == "O=Example,CN=client-one"


def test_mtls_optional_accepts_clients_without_certificate(certs: Certs) -> None:
    options = tls_options(certs, ca_certs=certs.ca, verify_client="optional")
    with serving(environ_app, **options) as srv:
        status, body = https_get(srv, certs.client_context())
        assert status == 200
        assert json.loads(body)["SSL_CLIENT_CERT"] is None
        status, body = https_get(srv, certs.client_context(with_cert=True))
        assert json.loads(body)["SSL_CLIENT_S_DN"] == "O=Example,CN=client-one"


@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_plaintext_http_on_tls_port_gets_a_clear_400(certs: Certs, method: bytes) -> None:
    with (
        serving(environ_app, **tls_options(certs)) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as sock,
    ):
        sock.sendall(method + b" / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in received
    # RFC 9110 section 9.3.2: no content in an answer to HEAD, this one included.
    explained = b"this port speaks HTTPS (TLS)" in received
    assert explained is (method == b"GET")
    assert received.endswith(b"\r\n\r\n") is (method == b"HEAD")


def test_tls_min_version_13_refuses_tls12_clients(certs: Certs) -> None:
    with serving(environ_app, **tls_options(certs, tls_min_version="1.3")) as srv:
        old = certs.client_context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            https_get(srv, old)
        status, body = https_get(srv, certs.client_context())
        assert status == 200
        assert json.loads(body)["SSL_PROTOCOL"] == "TLSv1.3"


def test_idle_and_stalled_handshakes_do_not_hold_the_only_thread(certs: Certs) -> None:
    # One thread and a pool that may not grow: if an idle TCP connection or a handshake
    # stuck half-way held it, the real request below would never be answered.
    with serving(environ_app, threads=1, max_threads=1, **tls_options(certs)) as srv:
        idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(20)]
        stalled = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(10)]
        try:
            for sock in stalled:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that never ends
            status, _ = https_get(srv, certs.client_context())
            assert status == 200
        finally:
            for sock in idle + stalled:
                sock.close()


def test_a_stalled_handshake_times_out_without_plaintext(certs: Certs) -> None:
    with (
        serving(
            environ_app, header_timeout=0.2, admin_bind="127.0.0.1:0", **tls_options(certs)
        ) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as sock,
    ):
        sock.sendall(b"\x16\x03\x01\x02\x00\x01")
        assert sock.recv(65536) == b""  # closed at the head deadline, no 408 in clear
        # Counted as the header timeout it is, as on a plain port (it counted as keepalive).
        address = srv.server.admin_address
        families = parse(get(address.host, address.port, "/metrics")[2].decode())
    assert value(families, "wsgiserver_timeouts_total", kind="header") == 1
    assert value(families, "wsgiserver_timeouts_total", kind="keepalive") == 0


def big_file_app(path: Path) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", "application/octet-stream")]
        if environ["PATH_INFO"] == "/declared":
            headers.append(("Content-Length", str(path.stat().st_size)))
        start_response("200 OK", headers)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    return app


@pytest.mark.parametrize("path", ["/", "/declared"])
def test_file_wrapper_over_tls(certs: Certs, tmp_path: Path, path: str) -> None:
    data = os.urandom(300_001)
    target = tmp_path / "blob.bin"
    target.write_bytes(data)
    with serving(big_file_app(target), **tls_options(certs)) as srv:
        status, body = https_get(srv, certs.client_context(), path)
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()


def test_a_large_body_in_one_piece_arrives_whole_over_tls(certs: Certs) -> None:
    # The rest of a write that could not finish goes out in slices; an SSL write must be
    # retried with at least the bytes it was given, so the first attempt takes one slice
    # only: given the whole 8 MB, its retry failed with "bad length" and cut the body.
    data = os.urandom(8_000_000)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    with serving(app, **tls_options(certs)) as srv:
        status, body = https_get(srv, certs.client_context(), "/")
        (record,) = srv.wait_for_requests(1)
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert record.body_bytes == len(data)


def test_encrypted_key_with_password(certs: Certs) -> None:
    options: dict[str, Any] = {"certfile": certs.cert, "keyfile": certs.encrypted_key}
    with serving(environ_app, keyfile_password=KEY_PASSWORD, **options) as srv:
        status, _ = https_get(srv, certs.client_context())
    assert status == 200


def _startup_error(**options: Any) -> str:
    with pytest.raises(ConfigError) as info:
        Server(environ_app, bind="127.0.0.1:0", **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_certificates_are_one_line_startup_errors(certs: Certs, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    assert missing in _startup_error(certfile=missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert str(garbage) in _startup_error(certfile=str(garbage), keyfile=certs.key)
    assert "wrong password" in _startup_error(
        certfile=certs.cert, keyfile=certs.encrypted_key, keyfile_password="nope"
    )
    assert "encrypted" in _startup_error(certfile=certs.cert, keyfile=certs.encrypted_key)
    assert missing in _startup_error(
        certfile=certs.cert, keyfile=certs.key, ca_certs=missing, verify_client="required"
    )


def test_cli_announces_an_https_url(certs: Certs) -> None:
    from tests.server.test_cli import CliProcess

    process = CliProcess(
        [
            "--certfile",
            certs.cert,
            "--keyfile",
            certs.key,
            "--bind",
            "127.0.0.1:0",
            "sample_apps.hello:app",
        ]
    )
    try:
        match = process.wait_for(r"serving on (\S+)")
        assert match.group(1).startswith("https://127.0.0.1:")
        assert process.stop() == 0
    finally:
        process.kill()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_keyfile_password_is_in_no_log_of_a_server_that_uses_it(
    certs: Certs, tmp_path: Path, workers: str
) -> None:
    from tests.server.test_cli import CliProcess

    access_log = tmp_path / "access.log"
    process = CliProcess(
        [
            *("--certfile", certs.cert, "--keyfile", certs.encrypted_key),
            *("--keyfile-password", KEY_PASSWORD, "--workers", workers),
            *("--log-level", "debug", "--access-log", str(access_log)),
            *("--bind", "127.0.0.1:0", "sample_apps.hello:app"),
        ]
    )
    try:
        serving = process.wait_for(r"serving on https://([0-9.]+):([0-9]+)")
        host, port = serving.group(1), int(serving.group(2))
        conn = http.client.HTTPSConnection(
            "localhost", port, context=certs.client_context(), timeout=TIMEOUT
        )
        conn.request("GET", "/secret-test")
        assert conn.getresponse().status == 200
        conn.close()
        assert process.stop() == 0
    finally:
        process.kill()
    assert host == "127.0.0.1"
    assert "/secret-test" in access_log.read_text()  # the logs were written
    assert any("stopped" in line for line in process.lines)
    assert KEY_PASSWORD not in access_log.read_text()
    assert KEY_PASSWORD not in "\n".join(process.lines)


def test_cli_bad_certificate_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiserver",
            "--certfile",
            missing,
            "wsgiref.simple_server:demo_app",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keyfile": "k.pem"}, "keyfile needs certfile"),
        ({"certfile": "c.pem", "verify_client": "required"}, "needs ca_certs"),
        ({"verify_client": "optional"}, "verify_client needs certfile"),
        ({"tls_min_version": "1.1"}, "tls_min_version"),
        ({"verify_client": "maybe"}, "verify_client"),
    ],
)
def test_tls_config_validation(options: dict[str, Any], message: str) -> None:
    from wsgiserver.config.options import Config

    with pytest.raises(ConfigError, match=message):
        Config(**options)
