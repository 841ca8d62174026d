"""environ["wsgiserver.client_disconnected"]: a non-blocking "did the client go away?"."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.server.helpers import RawClient
from tests.tls.helpers import Certs, session_certs
from wsgiserver.testing import serving


class Probe:
    """An app that checks the client, lets the test act, then checks again."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.acted = threading.Event()
        self.done = threading.Event()
        self.before: bool | None = None
        self.after: bool | None = None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        disconnected = environ["wsgiserver.client_disconnected"]
        self.before = disconnected()
        self.entered.set()
        self.acted.wait(10)
        self.after = disconnected()
        self.done.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_true_after_the_client_closes() -> None:
    probe = Probe()
    with serving(probe) as srv:
        client = RawClient(srv.address)
        client.send(REQUEST)
        assert probe.entered.wait(10)
        client.close()  # on loopback the FIN is queued at the server once close() returns
        probe.acted.set()
        assert probe.done.wait(10)
        srv.wait_for_requests(1)
    assert probe.before is False
    assert probe.after is True


def test_true_after_a_reset() -> None:
    probe = Probe()
    with serving(probe) as srv:
        client = RawClient(srv.address)
        client.send(REQUEST)
        assert probe.entered.wait(10)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # linger 0: RST
        probe.acted.set()
        assert probe.done.wait(10)
        srv.wait_for_requests(1)
    assert probe.after is True


def test_false_while_a_pipelined_request_waits_in_the_socket() -> None:
    probe = Probe()
    with serving(probe) as srv, RawClient(srv.address) as client:
        client.send(REQUEST)
        assert probe.entered.wait(10)
        client.send(REQUEST)  # the next request: bytes to read, not a disconnect
        probe.acted.set()
        assert client.read_response().status == 200
        assert probe.done.is_set()
        assert probe.after is False
        probe.acted.set()
        assert client.read_response().status == 200


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return session_certs(tmp_path_factory)


def test_tls_true_after_the_client_closes(certs: Certs) -> None:
    # Through TLS the check polls for the peer's hang-up (it cannot peek at plaintext).
    probe = Probe()
    with serving(probe, certfile=certs.cert, keyfile=certs.key) as srv:
        raw = socket.create_connection(srv.address)  # type: ignore[arg-type]
        tls = certs.client_context().wrap_socket(raw, server_hostname="localhost")
        try:
            tls.sendall(REQUEST)
            assert probe.entered.wait(10)
            tls.close()
            probe.acted.set()
            assert probe.done.wait(10)
            srv.wait_for_requests(1)
        finally:
            tls.close()
    assert probe.after is True
