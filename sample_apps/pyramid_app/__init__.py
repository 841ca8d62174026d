"""A small Pyramid app: routes, a JSON renderer, a form POST, an upload, a stream, a FileResponse.

Run it with `python -m wsgiserver sample_apps.pyramid_app:app`, with
`pserve sample_apps/pyramid_app/development.ini` or with
`python -m wsgiserver --paste sample_apps/pyramid_app/development.ini`.
"""

from __future__ import annotations

import hashlib
import html
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import FileResponse, Response

HERE = Path(__file__).resolve().parent
# The page is a stdlib string.Template, so the app needs no template engine.
HOME = Template((HERE / "templates" / "home.html").read_text(encoding="utf-8"))
NOTES_LOCK = threading.Lock()
NOTES: list[str] = []


def home(request: Request) -> Response:
    with NOTES_LOCK:
        notes = list(NOTES)
    # Every URL comes from a route or the static view, so the page works under --root-path.
    page = HOME.substitute(
        css=request.static_url("sample_apps.pyramid_app:static/style.css"),
        notes="".join(f'<li class="note">{html.escape(n)}</li>' for n in notes),
        add_note=request.route_path("notes"),
        api_notes=request.route_path("api_notes"),
        api_hello=request.route_path("hello", name="you"),
        upload=request.route_path("upload"),
        stream=request.route_path("stream", _query={"n": "5"}),
        download=request.route_path("download"),
    )
    return Response(page, content_type="text/html", charset="utf-8")


def add_note(request: Request) -> Response:
    note = str(request.POST.get("note", "")).strip()
    if not note:
        raise HTTPBadRequest("note is required")
    with NOTES_LOCK:
        NOTES.append(note)
    raise HTTPSeeOther(location=request.route_url("home"))


def api_notes(request: Request) -> dict[str, Any]:
    with NOTES_LOCK:
        return {"notes": list(NOTES), "home": request.route_path("home")}


def api_hello(request: Request) -> dict[str, Any]:
    return {"hello": request.matchdict["name"], "url": request.route_url("hello", name="x")}


def upload(request: Request) -> dict[str, Any]:
    field = request.POST.get("file")
    if field is None or not hasattr(field, "file"):
        raise HTTPBadRequest("a file field named 'file' is required")
    request.add_finished_callback(_close_spooled_body)
    digest = hashlib.sha256()
    size = 0
    # cgi.FieldStorage spools big uploads to a temporary file that nobody closes: close it.
    with field.file:
        while block := field.file.read(1 << 20):
            digest.update(block)
            size += len(block)
    return {"filename": field.filename, "size": size, "sha256": digest.hexdigest()}


def _close_spooled_body(request: Request) -> None:
    # WebOb copies a large request body to a temporary file to make it seekable and leaves it
    # open until garbage collection; close it when the request is done.
    body = request.environ.get("wsgi.input")
    if isinstance(body, io.BufferedRandom):
        body.close()


def stream(request: Request) -> Response:
    # No Content-Length: the server sends the generator's chunks as they come (chunked).
    wanted = str(request.params.get("n", "5"))
    count = min(int(wanted), 1000) if wanted.isascii() and wanted.isdigit() else 5

    def generate() -> Iterator[bytes]:
        for number in range(count):
            yield f"chunk {number} of {count}\n".encode()

    return Response(app_iter=generate(), content_type="text/plain", charset="utf-8")


def download(request: Request) -> Response:
    # FileResponse hands the open file to the server's wsgi.file_wrapper and sets ETag and
    # Last-Modified; conditional_response makes If-None-Match / If-Modified-Since give 304.
    response = FileResponse(
        str(HERE / "static" / "style.css"), request=request, content_type="text/css"
    )
    stat = (HERE / "static" / "style.css").stat()
    response.etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    response.conditional_response = True
    return response


def not_found(request: Request) -> Response:
    response = Response(f"no page at {request.path}\n", content_type="text/plain")
    response.status_int = 404
    return response


def make_app(global_config: dict[str, Any] | None = None, **settings: Any) -> Any:
    """The PasteDeploy app factory (`factory = sample_apps.pyramid_app:make_app` in the
    `[app:main]` of development.ini)."""
    with Configurator(settings=settings) as config:
        config.add_route("home", "/")
        config.add_route("notes", "/notes", request_method="POST")
        config.add_route("api_notes", "/api/notes")
        config.add_route("hello", "/api/hello/{name}")
        config.add_route("upload", "/upload", request_method="POST")
        config.add_route("stream", "/stream")
        config.add_route("download", "/download")
        config.add_view(home, route_name="home")
        config.add_view(add_note, route_name="notes")
        config.add_view(api_notes, route_name="api_notes", renderer="json")
        config.add_view(api_hello, route_name="hello", renderer="json")
        config.add_view(upload, route_name="upload", renderer="json")
        config.add_view(stream, route_name="stream")
        config.add_view(download, route_name="download")
        config.add_notfound_view(not_found)
        config.add_static_view("static", "sample_apps.pyramid_app:static/", cache_max_age=60)
        return config.make_wsgi_app()


app = make_app()
