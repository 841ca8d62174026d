"""The Django sample project end to end. Django runs only in subprocesses (its settings are
process-global and other test modules use Django too): the CLI, and the CLI with the app
wrapped in `wsgiref.validate.validator`. The SQLite DB lives in a temporary directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.frameworks.conftest import run_python
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


@pytest.fixture(scope="module", params=["cli", "cli-validated"])
def target(request: pytest.FixtureRequest, django_env: dict[str, str]) -> Iterator[Target]:
    start = wsgiserver_cli if request.param == "cli" else validated_cli
    with start(APP, env=django_env) as server:
        yield Target(str(request.param), server.url, server)


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
    with requests.Session() as client:
        add_note(client, target.url, "first note")
        page = client.get(target.url + "/", timeout=30).text
        assert '<li class="note">first note</li>' in page
    forged = requests.post(target.url + "/", data={"title": "x"}, timeout=30)
    assert forged.status_code == 403


def test_admin_login_list_and_edit(target: Target) -> None:
    with requests.Session() as client:
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
        n["title"] for n in requests.get(target.url + "/api/notes/", timeout=30).json()["notes"]
    ]
    assert f"edited {target.mode}" in titles


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_multipart_upload_hash_matches(target: Target, case: int | str) -> None:
    """With a Content-Length, and chunked: Django reads exactly CONTENT_LENGTH bytes, so a
    chunked upload reaches it whole only because the server receives it first and gives it a
    length."""
    size, chunked = upload_case(target.mode, case, 3 * 1024 * 1024 + 1)
    with requests.Session() as client:
        token = csrf_token(client.get(target.url + "/upload/", timeout=30).text)
        body = MultipartUpload(size, fields={"csrfmiddlewaretoken": token})
        response = post_upload(target.url + "/upload/", body, chunked=chunked, session=client)
    assert response.status_code == 200, response.text[:2000]
    assert response.json() == {"filename": "big.bin", "size": size, "sha256": body.sha256}
