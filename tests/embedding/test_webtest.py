"""`wsgiserver.contrib.webtest.StopableWSGIServer`, the drop-in for WebTest's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.embedding.apps import hello
from wsgiserver.contrib.webtest import StopableWSGIServer


@pytest.fixture
def server() -> Iterator[StopableWSGIServer]:
    started = StopableWSGIServer.create(hello, threads=2, expose_tracebacks=True)
    yield started
    started.shutdown()


def test_application_url_with_requests(server: StopableWSGIServer) -> None:
    assert server.wait()
    assert server.application_url == f"http://127.0.0.1:{server.port}/"
    assert requests.get(server.application_url + "x", timeout=10).text == "hello |/x"
    ping = requests.get(server.application_url + "__application__", timeout=10)
    assert ping.text == "server started"


def test_webtest_testapp_drives_the_url(server: StopableWSGIServer) -> None:
    webtest = pytest.importorskip("webtest")
    pytest.importorskip("wsgiproxy", reason="TestApp(url) needs WSGIProxy2")
    app = webtest.TestApp(server.application_url)
    response = app.get("/over/http")
    assert response.status_int == 200
    assert response.text == "hello |/over/http"
    assert [r.target for r in server.running.wait_for_requests(1)] == ["/over/http"]


def test_file_path(server: StopableWSGIServer, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b'<a href="http://localhost/x">x</a>')
    response = requests.get(
        server.application_url + "__file__", params={"__file__": str(page)}, timeout=10
    )
    assert response.text == f'<a href="http://127.0.0.1:{server.port}/x">x</a>'
    missing = requests.get(
        server.application_url + "__file__", params={"__file__": str(tmp_path / "no")}, timeout=10
    )
    assert missing.status_code == 404


def test_shutdown() -> None:
    server = StopableWSGIServer.create(hello)
    assert server.shutdown() is True
    assert not server.wait()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.application_url, timeout=10)
