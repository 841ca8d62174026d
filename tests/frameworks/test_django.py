"""The Django sample project end to end. Django runs only in subprocesses (its settings are
process-global and other test modules use Django too): the CLI, and the CLI with the app
wrapped in `wsgiref.validate.validator`. The SQLite DB lives in a temporary directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.frameworks.conftest import BrowserProtocol, load_in_chromium, run_python
from tests.frameworks.helpers import (
    REPO,
    UPLOAD_CASES,
    MultipartUpload,
    ServerProcess,
    csrf_token,
    post_upload,
    upload_case,
    validated_cli,
    wsgiserver_cli,
)
from tests.frameworks.home_page import check_home_page
from tests.frameworks.transports import HTTP1, HTTP2, Client, assert_streamed

APP = "sample_apps.django_project.wsgi:application"
SETTINGS = "sample_apps.django_project.settings"
CSS = REPO / "sample_apps/django_project/notes/static/notes/style.css"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def django_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("django") / "db.sqlite3"
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "WSGISERVER_SAMPLE_DB": str(db)}
    run_python("-m", "django", "migrate", "--noinput", env=env)
    run_python(
        "-m",
        "django",
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    return env


@dataclass
class Target:
    mode: str
    url: str
    server: ServerProcess
    http: Client


@pytest.fixture(scope="module", params=["cli", "cli-validated", "cli-validated-h2"])
def target(request: pytest.FixtureRequest, django_env: dict[str, str]) -> Iterator[Target]:
    """The CLI, the CLI with the app under the validator, and that over HTTP/2 (`--http2`,
    h2c with prior knowledge)."""
    mode = str(request.param)
    start = wsgiserver_cli if mode == "cli" else validated_cli
    http2 = mode.endswith("-h2")
    with start(*(["--http2"] if http2 else []), APP, env=django_env) as server:
        yield Target(mode, server.url, server, HTTP2 if http2 else HTTP1)


def add_note(client: requests.Session, url: str, title: str) -> None:
    page = client.get(url + "/", timeout=30)
    posted = client.post(
        url + "/",
        data={"csrfmiddlewaretoken": csrf_token(page.text), "title": title, "body": "b"},
        allow_redirects=False,
        timeout=30,
    )
    assert posted.status_code == 302, posted.text[:2000]
    assert posted.headers["Location"] == "/"


def test_form_with_csrf(target: Target) -> None:
    with target.http.Session() as client:
        add_note(client, target.url, "first note")
        page = client.get(target.url + "/", timeout=30).text
        assert '<li class="note">first note</li>' in page
    forged = target.http.post(target.url + "/", data={"title": "x"}, timeout=30)
    assert forged.status_code == 403


def test_admin_login_list_and_edit(target: Target) -> None:
    with target.http.Session() as client:
        add_note(client, target.url, f"admin me {target.mode}")
        login = client.get(target.url + "/admin/login/?next=/admin/", timeout=30)
        assert login.status_code == 200
        done = client.post(
            target.url + "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": csrf_token(login.text),
                "username": "admin",
                "password": PASSWORD,
                "next": "/admin/",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert done.status_code == 302, done.text[:2000]
        assert done.headers["Location"] == "/admin/"
        assert "sessionid" in client.cookies
        listing = client.get(target.url + "/admin/notes/note/", timeout=30)
        assert listing.status_code == 200
        match = re.search(
            r'href="/admin/notes/note/(\d+)/change/[^"]*">admin me ' + target.mode, listing.text
        )
        assert match is not None, listing.text[:3000]
        change_url = f"{target.url}/admin/notes/note/{match.group(1)}/change/"
        form = client.get(change_url, timeout=30)
        saved = client.post(
            change_url,
            data={
                "csrfmiddlewaretoken": csrf_token(form.text),
                "title": f"edited {target.mode}",
                "body": "changed",
                "_save": "Save",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert saved.status_code == 302, saved.text[:2000]
        assert saved.headers["Location"] == "/admin/notes/note/"
    titles = [
        n["title"] for n in target.http.get(target.url + "/api/notes/", timeout=30).json()["notes"]
    ]
    assert f"edited {target.mode}" in titles


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_multipart_upload_hash_matches(target: Target, case: int | str) -> None:
    """With a Content-Length, and chunked: Django reads exactly CONTENT_LENGTH bytes, so a
    chunked upload reaches it whole only because the server receives it first and gives it a
    length."""
    size, chunked = upload_case(target.mode, case, 3 * 1024 * 1024 + 1)
    with target.http.Session() as client:
        token = csrf_token(client.get(target.url + "/upload/", timeout=30).text)
        body = MultipartUpload(size, fields={"csrfmiddlewaretoken": token})
        response = post_upload(target.url + "/upload/", body, chunked=chunked, session=client)
    assert response.status_code == 200, response.text[:2000]
    assert response.json() == {"filename": "big.bin", "size": size, "sha256": body.sha256}


def test_streaming_http_response(target: Target) -> None:
    with target.http.get(target.url + "/stream/?n=3", stream=True, timeout=30) as response:
        assert_streamed(response)
        chunks = response.iter_content(chunk_size=None)
        assert next(chunks) == b"chunk 0 of 3\n"
        assert b"".join(chunks) == b"chunk 1 of 3\nchunk 2 of 3\n"


def test_file_response_and_head(target: Target) -> None:
    response = target.http.get(target.url + "/download/", timeout=30)
    assert response.content == CSS.read_bytes()
    assert response.headers["Content-Length"] == str(CSS.stat().st_size)
    with target.http.Session() as client:
        head = client.head(target.url + "/download/", timeout=30)
        assert head.status_code == 200
        assert head.content == b""
        assert client.get(target.url + "/api/notes/", timeout=30).status_code == 200


def test_conditional_get(target: Target) -> None:
    first = target.http.get(target.url + "/api/notes/", timeout=30)
    etag = first.headers["ETag"]
    again = target.http.get(target.url + "/api/notes/", headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304
    assert again.content == b""
    css = target.http.get(target.url + "/static/notes/style.css", timeout=30)
    assert css.status_code == 200
    assert "rgb(12, 34, 56)" in css.text
    since = css.headers["Last-Modified"]
    cached = target.http.get(
        target.url + "/static/notes/style.css", headers={"If-Modified-Since": since}, timeout=30
    )
    assert cached.status_code == 304


def test_root_path(django_env: dict[str, str]) -> None:
    with wsgiserver_cli("--root-path", "/prefix", APP, env=django_env) as server:
        links = requests.get(server.url + "/prefix/links/", timeout=30).json()
        assert links == {
            "index": "/prefix/",
            "admin": "/prefix/admin/",
            "css": "/prefix/static/notes/style.css",
            "absolute": server.url + "/prefix/api/notes/",
            "script_name": "/prefix",
        }
        page = requests.get(server.url + "/prefix/", timeout=30).text
        assert 'href="/prefix/static/notes/style.css"' in page
        assert 'action="/prefix/"' in page
        # Not asserted: StaticFilesHandler strips STATIC_URL from request.path (which includes
        # SCRIPT_NAME), so it cannot serve under a prefix; see docs/frameworks.rst.
        # The redirect's connection would stay open idle (requests keeps it with the
        # response), and a graceful stop waits for idle connections: close it now.
        login = requests.get(
            server.url + "/prefix/admin/",
            allow_redirects=False,
            headers={"Connection": "close"},
            timeout=30,
        )
        assert login.headers["Location"] == "/prefix/admin/login/?next=/prefix/admin/"


@pytest.mark.browser
def test_page_css_and_form_in_chromium(
    tmp_path: Path, django_env: dict[str, str], browser_protocol: BrowserProtocol
) -> None:
    """Over HTTP/1.1, and over HTTP/2 with TLS (the access log says which)."""
    via = browser_protocol
    app = "tests.frameworks.browser_apps:django"
    with wsgiserver_cli("--access-log", "-", *via.options, app, env=django_env) as server:
        dom = load_in_chromium(server.url + "/?browser-check", tmp_path / "profile", *via.chromium)
        log = server.access_log()
        notes = requests.get(server.url + "/api/notes/", timeout=30, verify=via.verify)
    # The POST carried the CSRF cookie and token as a browser sends them.
    assert '<li class="note">css-color:rgb(12, 34, 56)</li>' in dom
    assert "css-color:rgb(12, 34, 56)" in [n["title"] for n in notes.json()["notes"]]
    assert f'"GET /static/notes/style.css {via.logged}" 200 ' in log, log
    assert f'"POST / {via.logged}" 302 ' in log, log


FEATURES: dict[str, int | None] = {
    "#notes-form": None,
    "/api/notes/": 200,
    "/upload/": 200,
    "/stream/?n=5": 200,
    "/download/": 200,
    "/admin/": 200,  # after the redirect to the login page
    "/links/": 200,
}


@pytest.mark.browser
def test_home_page_is_styled_and_links_every_feature(
    tmp_path: Path, django_env: dict[str, str]
) -> None:
    with wsgiserver_cli("tests.frameworks.browser_apps:django", env=django_env) as server:
        check_home_page(server.url, tmp_path / "profile", FEATURES)
        upload_page = requests.get(server.url + "/upload/", timeout=30).text
    # The upload page the card opens is styled by the same stylesheet.
    assert 'href="/static/notes/style.css"' in upload_page
