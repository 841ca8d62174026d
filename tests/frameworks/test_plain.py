"""The plain sample apps: `sample_apps.plain:app` serves every one of them by path, and
`file_app` sends only files of its own directory (no path traversal)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sample_apps import plain
from tests.frameworks.transports import HTTP1, HTTP2, Client
from wsgiserver.apploader import load_app
from wsgiserver.testing import serving

SAMPLES = Path(plain.__file__).resolve().parent


@dataclass
class Served:
    url: str
    http: Client = HTTP1


@pytest.fixture(scope="module", params=["http/1.1", "h2c"])
def server(request: pytest.FixtureRequest) -> Iterator[Served]:
    """Over HTTP/1.1, and over HTTP/2 (h2c with prior knowledge)."""
    http2 = request.param == "h2c"
    # The name the docstring (and a newcomer) uses: module:app.
    with serving(load_app("sample_apps.plain:app"), http2=http2) as running:
        yield Served(running.url, HTTP2 if http2 else HTTP1)


def get(server: Served, target: str) -> requests.Response:
    return server.http.get(server.url + target, timeout=30)


def test_the_app_lists_and_serves_every_sample(server: Served) -> None:
    assert get(server, "/").text.split() == ["/echo", "/stream", "/upload", "/file"]
    assert json.loads(get(server, "/echo?x=1").text)["QUERY_STRING"] == "x=1"
    assert get(server, "/stream?n=2").text == "chunk 0\nchunk 1\n"
    body = b"some bytes" * 1000
    upload = server.http.post(server.url + "/upload", data=body, timeout=30)
    assert upload.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    chunked = server.http.post(server.url + "/upload", data=iter([body, body]), timeout=30)
    assert chunked.text == f"{2 * len(body)} {hashlib.sha256(body + body).hexdigest()}"
    missing = get(server, "/nope")
    assert missing.status_code == 404
    assert "/echo" in missing.text


def test_file_app_sends_a_file_of_its_directory(server: Served) -> None:
    response = get(server, "/file?path=hello.py")
    assert response.status_code == 200
    assert response.content == (SAMPLES / "hello.py").read_bytes()
    nested = get(server, "/file?path=pyramid_app/static/style.css")
    assert nested.content == (SAMPLES / "pyramid_app" / "static" / "style.css").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "../README.rst",
        "..%2FREADME.rst",
        "%2e%2e/%2e%2e/etc/passwd",
        "pyramid_app/../../pyproject.toml",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        ".",
        "pyramid_app",
        "no-such-file.txt",
    ],
)
def test_file_app_refuses_every_other_path(server: Served, path: str) -> None:
    response = get(server, f"/file?path={path}")
    assert response.status_code == 404
    assert response.text == "no such file here\n"


def test_file_app_without_a_path_is_a_bad_request(server: Served) -> None:
    assert get(server, "/file").status_code == 400


def test_file_app_refuses_a_symlink_that_leads_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, outside = tmp_path / "served", tmp_path / "secret.txt"
    inside.mkdir()
    outside.write_text("secret")
    (inside / "inside.txt").write_text("fine")
    (inside / "link.txt").symlink_to(outside)
    monkeypatch.setattr(plain, "FILES_DIR", inside)
    with serving(plain.file_app) as running:
        served = Served(running.url)
        assert get(served, "/?path=inside.txt").text == "fine"
        assert get(served, "/?path=link.txt").status_code == 404
        assert get(served, "/?path=../secret.txt").status_code == 404
