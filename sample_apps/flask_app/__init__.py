"""A small but realistic Flask app: `python -m wsgiserver sample_apps.flask_app:app`.

It exercises what real Flask apps lean on: templates and a form with redirect-after-post, a
JSON API, multipart uploads (`request.files`), a streamed response, `send_file` (which goes
through `wsgi.file_wrapper`), cookies and the signed session, a custom error handler,
`url_for` under a mount prefix (`SCRIPT_NAME`) and a static CSS file.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
    url_for,
)

HERE = Path(__file__).resolve().parent
REPORT = HERE / "files" / "report.txt"
MAX_UPLOAD = 50 * 1024 * 1024 + 64 * 1024  # 50 MB of file plus the multipart framing

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class TeapotError(Exception):
    """Raised by /teapot; the custom error handler turns it into a 418 page."""


class FileWrapperSpy:
    """Middleware that counts responses whose body is the server's `wsgi.file_wrapper` object.

    `send_file` should hand the server the very object it offered in the environ, so the server
    can use sendfile(); /_debug/file-wrapper reports what this spy saw.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.wrapped: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None and type(result) is wrapper:
            with self.lock:
                self.wrapped.append(f"{type(result).__module__}.{type(result).__qualname__}")
        return result


def create_app(stream_gate: threading.Event | None = None) -> Flask:
    """Build the app. `stream_gate`, when given, holds /stream after its first chunk."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="sample-app-secret-not-for-production",
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    lock = threading.Lock()
    messages: list[str] = []
    items: dict[int, dict[str, Any]] = {}
    next_id = [1]

    @app.get("/")
    def index() -> str:
        with lock:
            shown = list(messages)
        return render_template("index.html", messages=shown)

    @app.post("/messages")
    def post_message() -> Response:
        text = request.form.get("message", "").strip()
        if not text:
            abort(400, "message is required")
        with lock:
            messages.append(text)
        return make_response(redirect(url_for("index"), code=303))

    @app.get("/api/items")
    def list_items() -> Response:
        with lock:
            return jsonify(sorted(items.values(), key=lambda item: int(item["id"])))

    @app.post("/api/items")
    def create_item() -> tuple[Response, int, dict[str, str]]:
        data = request.get_json(force=False, silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            abort(400, "a JSON object with a name is required")
        with lock:
            item = {"id": next_id[0], "name": data["name"], "qty": int(data.get("qty", 0))}
            items[next_id[0]] = item
            next_id[0] += 1
        location = url_for("get_item", item_id=item["id"])
        return jsonify(item), 201, {"Location": location}

    @app.get("/api/items/<int:item_id>")
    def get_item(item_id: int) -> Response:
        with lock:
            item = items.get(item_id)
        if item is None:
            abort(404)
        return jsonify(item)

    @app.put("/api/items/<int:item_id>")
    def update_item(item_id: int) -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, "a JSON object is required")
        with lock:
            if item_id not in items:
                abort(404)
            item = items[item_id]
            item.update({k: v for k, v in data.items() if k in ("name", "qty")})
            return jsonify(item)

    @app.delete("/api/items/<int:item_id>")
    def delete_item(item_id: int) -> Response:
        with lock:
            if items.pop(item_id, None) is None:
                abort(404)
        # Flask gives every response a Content-Type, even a 204; wsgiref.validate rejects a
        # Content-Type on 204/304 (PEP 3333 leaves it to the app), so drop it here.
        response = Response(status=204)
        del response.headers["Content-Type"]
        return response

    @app.post("/upload")
    def upload() -> Response:
        upload = request.files.get("file")
        if upload is None:
            abort(400, "a file field named 'file' is required")
        digest = hashlib.sha256()
        size = 0
        while block := upload.stream.read(1 << 20):
            digest.update(block)
            size += len(block)
        return jsonify(
            filename=upload.filename,
            size=size,
            sha256=digest.hexdigest(),
            note=request.form.get("note", ""),
        )

    @app.get("/stream")
    def stream() -> Response:
        count = request.args.get("n", 5, type=int)

        def generate() -> Iterator[str]:
            # stream_with_context keeps `request` usable inside the generator.
            yield f"chunk 0 of {count} for {request.path}\n"
            if stream_gate is not None:
                stream_gate.wait(30)
            for number in range(1, count):
                yield f"chunk {number} of {count}\n"

        return Response(stream_with_context(generate()), mimetype="text/plain")

    @app.get("/download")
    def download() -> Response:
        return send_file(REPORT, mimetype="text/plain", as_attachment=False, conditional=True)

    @app.get("/_debug/file-wrapper")
    def file_wrapper_seen() -> Response:
        with spy.lock:
            return jsonify(wrapped=list(spy.wrapped))

    @app.get("/cookie/set")
    def set_cookie() -> Response:
        response = make_response(redirect(url_for("show_cookie"), code=302))
        response.set_cookie("flavour", request.args.get("value", "oatmeal"), httponly=True)
        return response

    @app.get("/cookie")
    def show_cookie() -> Response:
        return jsonify(flavour=request.cookies.get("flavour"))

    @app.get("/session/visit")
    def visit() -> Response:
        session["visits"] = int(session.get("visits", 0)) + 1
        return jsonify(visits=session["visits"])

    @app.get("/teapot")
    def teapot() -> str:
        raise TeapotError("short and stout")

    @app.errorhandler(TeapotError)
    def handle_teapot(error: TeapotError) -> tuple[str, int]:
        return render_template("error.html", code=418, message=str(error)), 418

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[str, int]:
        return render_template("error.html", code=404, message="Nothing here"), 404

    @app.get("/links")
    def links() -> Response:
        return jsonify(
            index=url_for("index"),
            item=url_for("get_item", item_id=7),
            css=url_for("static", filename="style.css"),
            external=url_for("index", _external=True),
            script_name=request.script_root,
        )

    spy = FileWrapperSpy(app.wsgi_app)
    app.wsgi_app = spy  # type: ignore[method-assign]
    return app


app = create_app()
