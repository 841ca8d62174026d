"""Helpers for the TLS and proxy tests.

Certificates are generated at test time by the `openssl` commands of the "certificates" recipe
in docs/tls_and_proxies.rst (a private CA, a server certificate for localhost/127.0.0.1, a
client certificate), plus an encrypted copy of the server key. Clients verify them strictly
(`VERIFY_X509_STRICT`, the default of Python 3.13's contexts) on every Python version, so a
certificate a strict verifier would refuse fails the tests everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.docs.recipes import recipe

StartResponse = Callable[..., Callable[[bytes], None]]
KEY_PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Certs:
    ca: str
    cert: str
    key: str
    encrypted_key: str
    client_cert: str
    client_key: str

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca)
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        context.set_alpn_protocols(["http/1.1"])
        if with_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def session_certs(factory: pytest.TempPathFactory) -> Certs:
    """The certificates, or a skip when openssl is missing (a failure when CI is set)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("the openssl command is needed for the TLS tests (CI is set)")
        pytest.skip("the openssl command is not installed")
    return make_certs(factory.mktemp("certs"))


def make_certs(directory: Path) -> Certs:
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recipe("tls_and_proxies.rst", "certificates")],
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=60,
    )
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", f"pass:{KEY_PASSWORD}",
             "-out", "server-encrypted.key", cwd=directory)  # fmt: skip
    return Certs(
        ca=str(directory / "ca.pem"),
        cert=str(directory / "server.pem"),
        key=str(directory / "server.key"),
        encrypted_key=str(directory / "server-encrypted.key"),
        client_cert=str(directory / "client.pem"),
        client_key=str(directory / "client.key"),
    )


TLS_KEYS = (
    "wsgi.url_scheme",
    "HTTPS",
    "SSL_PROTOCOL",
    "SSL_CLIENT_CERT",
    "SSL_CLIENT_S_DN",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
    "PATH_INFO",
    "wsgiserver.peer_addr",
    "wsgiserver.peer_cert",
)


def environ_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answers with the TLS/proxy-related environ keys as JSON (and the body's length)."""
    shown: dict[str, Any] = {key: environ.get(key) for key in TLS_KEYS}
    shown["body_length"] = len(environ["wsgi.input"].read())
    body = json.dumps(shown, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
