"""The sample apps wrapped for the headless Chromium tests.

`inject_check` adds a script to `/?browser-check` pages: once the page (and its CSS) loaded,
it writes the computed colour of the `<h1>` into the page's form and submits it, so the
server stores what the browser saw. The redirect after the POST lands on `/` without the
query, which is not injected again. Serve with `python -m wsgiserver
tests.frameworks.browser_apps:flask` (or `:pyramid`, `:django`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from wsgiserver.types import WSGIApp

SCRIPT = b"""<script>
window.addEventListener("load", () => {
  const form = document.getElementById("post");
  const input = form.querySelector("input:not([type=hidden])");
  input.value = "css-color:" + getComputedStyle(document.querySelector("h1")).color;
  form.submit();
});
</script></body>"""


def inject_check(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("QUERY_STRING") != "browser-check":
            return app(environ, start_response)
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return lambda data: None  # the sample apps never call write()

        result = app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        body = body.replace(b"</body>", SCRIPT, 1)
        status, headers = captured
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "etag")]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def _flask() -> WSGIApp:
    from sample_apps.flask_app import app

    return inject_check(app)


def _pyramid() -> WSGIApp:
    from sample_apps.pyramid_app import app

    return inject_check(app)


def _django() -> WSGIApp:
    from sample_apps.django_project.wsgi import application

    return inject_check(application)


def __getattr__(name: str) -> WSGIApp:
    factories = {"flask": _flask, "pyramid": _pyramid, "django": _django}
    if name in factories:
        return factories[name]()
    raise AttributeError(name)
