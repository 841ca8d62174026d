"""The Flask sample app, end to end over real sockets: CLI subprocess and in-process serving,
plain and under `wsgiref.validate.validator`."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest
import requests

from sample_apps.flask_app import REPORT, create_app
from tests.frameworks.conftest import BrowserProtocol, load_in_chromium
from tests.frameworks.helpers import (
    CHUNKED_SIZES,
    MultipartUpload,
    chunked_sizes_for,
    curl,
    post_upload,
    wsgiserver_cli,
)
from tests.frameworks.home_page import check_home_page
from tests.frameworks.transports import HTTP1, HTTP2, Client, assert_streamed
from wsgiserver.gateway import response as response_module
from wsgiserver.testing import serving

APP = "sample_apps.flask_app:app"


@dataclass
class Target:
    mode: str
    url: str
    gate: threading.Event | None = None
    http: Client = HTTP1


@pytest.fixture(scope="module", params=["cli", "inprocess", "inprocess-validated", "h2-validated"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The app through the CLI, in process, in process under the validator, and in process
    under the validator over HTTP/2 (h2c with prior knowledge)."""
    mode = str(request.param)
    if mode == "cli":
        with wsgiserver_cli(APP) as server:
            yield Target(mode, server.url)
        return
    gate = threading.Event()
    app: Any = create_app(stream_gate=gate)
    if mode.endswith("-validated"):
        app = validator(app)
    http2 = mode.startswith("h2")
    with serving(app, threads=4, http2=http2) as running:
        yield Target(mode, running.url, gate, HTTP2 if http2 else HTTP1)


def test_form_post_redirects_to_the_page(target: Target) -> None:
    with target.http.Session() as client:
        page = client.get(target.url + "/", timeout=30)
        assert page.status_code == 200
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<form id="post" method="post" action="/messages">' in page.text
        posted = client.post(
            target.url + "/messages", data={"message": "hi <there>"}, allow_redirects=False
        )
        assert posted.status_code == 303
        assert posted.headers["Location"] == "/"
        again = client.get(target.url + posted.headers["Location"], timeout=30)
        assert '<li class="message">hi &lt;there&gt;</li>' in again.text
        empty = client.post(target.url + "/messages", data={"message": " "}, timeout=30)
        assert empty.status_code == 400


def test_json_api_create_read_update_delete(target: Target) -> None:
    base = target.url + "/api/items"
    created = target.http.post(base, json={"name": "widget", "qty": 2}, timeout=30)
    assert created.status_code == 201
    item = created.json()
    assert item["name"] == "widget"
    assert created.headers["Location"] == f"/api/items/{item['id']}"
    assert target.http.get(target.url + created.headers["Location"], timeout=30).json() == item
    updated = target.http.put(f"{base}/{item['id']}", json={"qty": 5}, timeout=30)
    assert updated.json() == {**item, "qty": 5}
    assert item["id"] in [i["id"] for i in target.http.get(base, timeout=30).json()]
    deleted = target.http.delete(f"{base}/{item['id']}", timeout=30)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert target.http.get(f"{base}/{item['id']}", timeout=30).status_code == 404
    bad = target.http.post(base, data="not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400


def test_multipart_upload_hash_matches(target: Target) -> None:
    # 50 MB once (through the CLI); a smaller body in the other modes.
    size = 50 * 1024 * 1024 if target.mode == "cli" else 3 * 1024 * 1024 + 17
    body = MultipartUpload(size, fields={"note": "big one"})
    response = post_upload(target.url + "/upload", body, http=target.http)
    assert response.status_code == 200, response.text[:500]
    assert response.json() == {
        "filename": "big.bin",
        "size": size,
        "sha256": body.sha256,
        "note": "big one",
    }


@pytest.mark.parametrize("size", CHUNKED_SIZES)
def test_chunked_multipart_upload_hash_matches(target: Target, size: int) -> None:
    chunked_sizes_for(target.mode, size)
    body = MultipartUpload(size, fields={"note": "chunked"})
    response = post_upload(target.url + "/upload", body, chunked=True, http=target.http)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["sha256"] == body.sha256
    assert response.json()["size"] == size


def test_upload_with_curl(target: Target, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4099
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    done = subprocess.run(
        [
            curl(),
            "--http2-prior-knowledge" if target.http.http2 else "--http1.1",
            "-sS",
            "-F",
            f"file=@{path}",
            "-F",
            "note=curl",
            target.url + "/upload",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "filename": "payload.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "curl",
    }


def test_streamed_response_arrives_incrementally(target: Target) -> None:
    if target.gate is not None:
        target.gate.clear()
    with target.http.get(target.url + "/stream?n=4", stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert_streamed(response)
        chunks = response.iter_content(chunk_size=None)
        first = next(chunks)
        # In-process, the generator is now blocked on the gate: this chunk crossed the
        # network before the response was complete.
        assert first == b"chunk 0 of 4 for /stream\n"
        if target.gate is not None:
            target.gate.set()
        rest = b"".join(chunks)
    assert rest == b"chunk 1 of 4\nchunk 2 of 4\nchunk 3 of 4\n"


def test_send_file_goes_through_the_servers_file_wrapper(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent_with_sendfile: list[bool] = []
    original = response_module.Response._send_file

    def spy(self: Any, wrapper: Any) -> bool:
        result: bool = original(self, wrapper)
        sent_with_sendfile.append(result)
        return result

    monkeypatch.setattr(response_module.Response, "_send_file", spy)
    before = target.http.get(target.url + "/_debug/file-wrapper", timeout=30).json()["wrapped"]
    response = target.http.get(target.url + "/download", timeout=30)
    assert response.status_code == 200
    assert response.content == REPORT.read_bytes()
    assert response.headers["Content-Length"] == str(REPORT.stat().st_size)
    after = target.http.get(target.url + "/_debug/file-wrapper", timeout=30).json()["wrapped"]
    # The app handed back the very wsgi.file_wrapper object the server offered...
    assert after[len(before) :] == ["wsgiserver.gateway.body.FileWrapper"]
    if target.mode == "inprocess":
        # ...and the server sent it with sendfile(). Under the validator the iterable is the
        # validator's wrapper, so the server iterates it instead (still the same bytes).
        assert sent_with_sendfile == [True]


def test_conditional_get_and_head(target: Target) -> None:
    first = target.http.get(target.url + "/download", timeout=30)
    etag = first.headers["ETag"]
    not_modified = target.http.get(
        target.url + "/download", headers={"If-None-Match": etag}, timeout=30
    )
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    since = target.http.get(
        target.url + "/download",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
        timeout=30,
    )
    assert since.status_code == 304
    with target.http.Session() as client:
        head = client.head(target.url + "/download", timeout=30)
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(REPORT.stat().st_size)
        assert head.content == b""
        # The connection is still in step: no body bytes were left behind by HEAD.
        assert client.get(target.url + "/api/items", timeout=30).status_code == 200


def test_cookies_and_signed_session(target: Target) -> None:
    with target.http.Session() as client:
        shown = client.get(target.url + "/cookie/set?value=ginger", timeout=30)
        assert shown.json() == {"flavour": "ginger"}
        assert [r.status_code for r in shown.history] == [302]
        counts = [client.get(target.url + "/session/visit").json()["visits"] for _ in range(3)]
        assert counts == [1, 2, 3]
        assert "session" in client.cookies
    forged = target.http.get(
        target.url + "/session/visit", cookies={"session": "eyJ2aXNpdHMiOjk5fQ.bad.sig"}
    )
    assert forged.json() == {"visits": 1}


def test_custom_error_handlers(target: Target) -> None:
    teapot = target.http.get(target.url + "/teapot", timeout=30)
    assert teapot.status_code == 418
    assert '<p id="message">short and stout</p>' in teapot.text
    missing = target.http.get(target.url + "/no/such/page", timeout=30)
    assert missing.status_code == 404
    assert '<p id="message">Nothing here</p>' in missing.text


def test_static_css(target: Target) -> None:
    css = target.http.get(target.url + "/static/style.css", timeout=30)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "rgb(12, 34, 56)" in css.text


def check_mounted(url: str) -> None:
    links = requests.get(url + "/prefix/links", timeout=30).json()
    assert links == {
        "index": "/prefix/",
        "item": "/prefix/api/items/7",
        "css": "/prefix/static/style.css",
        "external": url + "/prefix/",
        "script_name": "/prefix",
    }
    posted = requests.post(url + "/prefix/messages", data={"message": "m"}, allow_redirects=False)
    assert posted.headers["Location"] == "/prefix/"
    page = requests.get(url + "/prefix/", timeout=30).text
    assert 'href="/prefix/static/style.css"' in page
    assert requests.get(url + "/prefix/static/style.css", timeout=30).status_code == 200


def test_root_path_cli() -> None:
    with wsgiserver_cli("--root-path", "/prefix", APP) as server:
        check_mounted(server.url)


def test_root_path_in_process() -> None:
    with serving(validator(create_app()), root_path="/prefix") as running:
        check_mounted(running.url)


@pytest.mark.browser
def test_page_css_and_form_in_chromium(tmp_path: Path, browser_protocol: BrowserProtocol) -> None:
    """Over HTTP/1.1, and over HTTP/2 with TLS: the access log says which one carried the
    page's requests (the app itself is unchanged)."""
    via = browser_protocol
    app = "tests.frameworks.browser_apps:flask"
    with wsgiserver_cli("--access-log", "-", *via.options, app) as server:
        dom = load_in_chromium(server.url + "/?browser-check", tmp_path / "profile", *via.chromium)
        log = server.access_log()
        stored = requests.get(server.url + "/", timeout=30, verify=via.verify).text
    # The script read the colour from our CSS and posted it; the redirect showed the list.
    assert '<li class="message">css-color:rgb(12, 34, 56)</li>' in dom
    assert '<li class="message">css-color:rgb(12, 34, 56)</li>' in stored
    protocol = re.escape(via.logged)
    assert re.search(rf'"GET /static/style\.css {protocol}" 200 ', log), log
    assert re.search(rf'"POST /messages {protocol}" 303 ', log), log


FEATURES: dict[str, int | None] = {
    "#guestbook": None,
    "/api/items": 200,
    "#upload": None,
    "/stream?n=5": 200,
    "/download": 200,
    "/cookie/set?value=ginger": 200,
    "/session/visit": 200,
    "/teapot": 418,
    "/links": 200,
}


@pytest.mark.browser
def test_home_page_is_styled_and_links_every_feature(tmp_path: Path) -> None:
    # The download card promises byte ranges.
    ranged = ("/download", REPORT.read_bytes())
    with wsgiserver_cli("tests.frameworks.browser_apps:flask") as server:
        check_home_page(server.url, tmp_path / "profile", FEATURES, ranged)
