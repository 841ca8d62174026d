"""wsgiserver behind a real nginx (X-Forwarded-*, unix socket and TCP upstreams, a buffered
upload) and a real HAProxy (PROXY protocol v2, plain and in front of TLS)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any

from tests.docs.recipes import recipe
from tests.proxy.daemons import require, running
from tests.tls.helpers import Certs, environ_app
from wsgiserver.testing import serving

TIMEOUT = 10.0

NGINX_CONF = """
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 16m;
    proxy_http_version 1.1;
    upstream via_unix {{ server unix:{unix_socket}; keepalive 4; }}
    upstream via_tcp {{ server 127.0.0.1:{tcp_port}; keepalive 4; }}
    upstream untrusting {{ server 127.0.0.1:{untrusting_port}; }}
    server {{
        listen 127.0.0.1:{port};
        location /unix/ {{
            include {tmp}/forwarding.conf;
            proxy_set_header X-Forwarded-Prefix /unix;
            proxy_pass http://via_unix/;
        }}
        location /tcp/ {{
            include {tmp}/forwarding.conf;
            proxy_set_header X-Forwarded-Prefix /tcp;
            proxy_pass http://via_tcp/;
        }}
        location /untrusting/ {{
            include {tmp}/forwarding.conf;
            proxy_pass http://untrusting/;
        }}
    }}
}}
"""
# (proxy_set_header is inherited only by blocks that set none of their own: include it.)
FORWARDING = """
proxy_set_header Connection "";
proxy_set_header Host $http_host;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Forwarded-Proto https;
proxy_set_header X-Forwarded-Host public.test:8443;
"""


def nginx_request(
    port: int, path: str, *, method: str = "GET", body: bytes | None = None
) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        # The client claims an address of its own; nginx appends the real one (127.0.0.1).
        conn.request(method, path, body=body, headers={"X-Forwarded-For": "203.0.113.7"})
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, data
        result: dict[str, Any] = json.loads(data)
        return result
    finally:
        conn.close()


def test_behind_nginx(tmp_path: Path) -> None:
    nginx = require("nginx", "nginx-light (or nginx)")
    unix_socket = str(tmp_path / "app.sock")
    with (
        serving(environ_app, bind=f"unix:{unix_socket}") as via_unix,
        serving(environ_app) as via_tcp,
        serving(environ_app, forwarded_allow_ips="10.0.0.1") as untrusting,
    ):
        conf = tmp_path / "nginx.conf"
        (tmp_path / "forwarding.conf").write_text(FORWARDING)

        def command(ports: list[int]) -> list[str]:
            conf.write_text(
                NGINX_CONF.format(
                    tmp=tmp_path,
                    port=ports[0],
                    unix_socket=unix_socket,
                    tcp_port=via_tcp.port,
                    untrusting_port=untrusting.port,
                )
            )
            return [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "nginx-error.log"),
                    "-c", str(conf), "-g", "daemon off;"]  # fmt: skip

        assert via_unix.address == unix_socket
        with running(command, 1, tmp_path / "nginx.out") as (port,):
            for prefix in ("unix", "tcp"):
                environ = nginx_request(port, f"/{prefix}/hello")
                assert environ["REMOTE_ADDR"] == "203.0.113.7"  # 127.0.0.1 (nginx) skipped
                assert environ["REMOTE_PORT"] is None
                assert environ["wsgi.url_scheme"] == "https"
                assert environ["HTTP_HOST"] == "public.test:8443"
                assert environ["SERVER_NAME"] == "public.test"
                assert environ["SERVER_PORT"] == "8443"
                assert environ["SCRIPT_NAME"] == f"/{prefix}"
                assert environ["PATH_INFO"] == "/hello"
            assert nginx_request(port, "/unix/x")["wsgiserver.peer_addr"] is None
            assert nginx_request(port, "/tcp/x")["wsgiserver.peer_addr"][0] == "127.0.0.1"
            # A buffered upload: nginx receives the whole body, then sends it upstream.
            payload = os.urandom(3_000_000)
            environ = nginx_request(port, "/tcp/upload", method="POST", body=payload)
            assert environ["body_length"] == len(payload)
            # A server that does not trust nginx ignores its X-Forwarded-* fields.
            environ = nginx_request(port, "/untrusting/x")
            assert environ["REMOTE_ADDR"] == "127.0.0.1"
            assert environ["wsgi.url_scheme"] == "http"
            assert environ["SCRIPT_NAME"] == ""


HAPROXY_CONF = """
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend plain
    bind 127.0.0.1:{plain_port}
    default_backend plain_app
backend plain_app
    server app 127.0.0.1:{app_port} send-proxy-v2
frontend tls
    bind 127.0.0.1:{tls_port}
    default_backend tls_app
backend tls_app
    server app unix@{tls_socket} send-proxy-v2
"""


def raw_exchange(port: int, certs: Certs | None = None) -> tuple[int, dict[str, Any]]:
    """One request through HAProxy; (our local port, the environ the app saw)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    local_port: int = sock.getsockname()[1]
    if certs is not None:
        sock = certs.client_context().wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(b"GET /hp HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n"), received[:300]
    environ: dict[str, Any] = json.loads(received.partition(b"\r\n\r\n")[2])
    return local_port, environ


RECIPE_CONF = """
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
FORGED = {
    "Host": "good.example",
    "Forwarded": 'for="[::1]";proto=https;host=evil.example',
    "X-Forwarded-For": "::1",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "4444",
    "X-Forwarded-Prefix": "/evil",
}


def test_the_deployment_recipe_against_a_client_forging_every_forwarding_field(
    tmp_path: Path,
) -> None:
    """docs/deployment.rst's nginx recipe as written, with wsgiserver's defaults behind it.
    The client connects from 127.0.0.2, which the server does not trust (as any client on
    the internet): whatever forwarding field it sends, the app sees its real address and
    its own Host, over plain HTTP. The recipe once cleared nothing but what it set, and a
    client's `Forwarded` (preferred to X-Forwarded-*), X-Forwarded-Port and -Prefix went
    through as nginx's word."""
    nginx = require("nginx", "nginx-light (or nginx)")
    unix_socket = str(tmp_path / "app.sock")
    with serving(environ_app, bind=f"unix:{unix_socket}"):
        conf = tmp_path / "nginx.conf"

        def command(ports: list[int]) -> list[str]:
            site = recipe("deployment.rst", "nginx")
            site = site.replace("listen 80;", f"listen 127.0.0.1:{ports[0]};")
            (tmp_path / "site.conf").write_text(site.replace("/run/myproject.sock", unix_socket))
            conf.write_text(RECIPE_CONF.format(tmp=tmp_path))
            return [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "nginx-error.log"),
                    "-c", str(conf), "-g", "daemon off;"]  # fmt: skip

        with running(command, 1, tmp_path / "nginx.out") as (port,):
            conn = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=TIMEOUT, source_address=("127.0.0.2", 0)
            )
            try:
                conn.request("GET", "/x", headers=FORGED)
                response = conn.getresponse()
                environ = json.loads(response.read())
            finally:
                conn.close()
            assert response.status == 200
            assert environ["REMOTE_ADDR"] == "127.0.0.2"
            assert environ["wsgi.url_scheme"] == "http"
            assert environ["HTTP_HOST"] == "good.example"
            assert environ["SERVER_NAME"] == "good.example"
            assert environ["SERVER_PORT"] == "80"
            assert environ["SCRIPT_NAME"] == ""
            # HTTP/1.0 without Host is valid (RFC 9112 section 3.2 asks it of 1.1 only);
            # nginx forwards it as HTTP/1.1, with the server_name as its Host.
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                raw.sendall(b"GET /old HTTP/1.0\r\n\r\n")
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), answer
            assert json.loads(body)["HTTP_HOST"] == "example.com"


def test_behind_haproxy_with_proxy_protocol_v2(tmp_path: Path, certs: Certs) -> None:
    haproxy = require("haproxy", "haproxy")
    tls_socket = str(tmp_path / "tls.sock")
    tls: dict[str, Any] = {"certfile": certs.cert, "keyfile": certs.key}
    with (
        serving(environ_app, proxy_protocol=True) as plain,
        serving(environ_app, bind=f"unix:{tls_socket}", proxy_protocol=True, **tls),
    ):
        conf = tmp_path / "haproxy.cfg"

        def command(ports: list[int]) -> list[str]:
            conf.write_text(
                HAPROXY_CONF.format(
                    plain_port=ports[0],
                    app_port=plain.port,
                    tls_port=ports[1],
                    tls_socket=tls_socket,
                )
            )
            return [haproxy, "-f", str(conf), "-db"]

        with running(command, 2, tmp_path / "haproxy.out") as (plain_port, tls_port):
            local_port, environ = raw_exchange(plain_port)
            # The app sees our socket, not HAProxy's connection to it.
            assert environ["REMOTE_ADDR"] == "127.0.0.1"
            assert environ["REMOTE_PORT"] == str(local_port)
            assert environ["wsgiserver.peer_addr"][1] != local_port
            # TLS passes through HAProxy (TCP mode); the PROXY header comes before it.
            local_port, environ = raw_exchange(tls_port, certs)
            assert environ["REMOTE_PORT"] == str(local_port)
            assert environ["wsgi.url_scheme"] == "https"
            assert environ["wsgiserver.peer_addr"] is None  # HAProxy reached us on a unix socket
