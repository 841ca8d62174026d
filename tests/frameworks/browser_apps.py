"""The sample apps wrapped for the headless Chromium tests.

`inject_check` adds a script to `/?browser-check` pages: once the page (and its CSS) loaded,
it writes the computed colour of the `<h1>` into the page's form and submits it, so the
server stores what the browser saw. The redirect after the POST lands on `/` without the
query, which is not injected again. To `/?browser-style` pages it adds a script that writes
a JSON report into the page (`<pre id="browser-report">`, see tests/frameworks/home_page.py):
computed styles, the feature links, the stylesheets and the element ids. Serve with
`python -m wsgiserver tests.frameworks.browser_apps:flask` (or `:pyramid`, `:django`).
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

STYLE_SCRIPT = b"""<script>
window.addEventListener("load", () => {
  const style = (selector, property) => {
    const element = document.querySelector(selector);
    return element && getComputedStyle(element).getPropertyValue(property);
  };
  const report = {
    h1_color: style("h1", "color"),
    body_background: style("body", "background-color"),
    features_display: style(".features", "display"),
    card_radius: style(".features a", "border-radius"),
    links: Array.from(document.querySelectorAll(".features a"), (a) => a.getAttribute("href")),
    stylesheets: Array.from(document.styleSheets, (sheet) => sheet.href),
    resources: Array.from(document.querySelectorAll("[src], link[href]"),
                          (e) => e.src || e.href),
    ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id),
  };
  const out = document.createElement("pre");
  out.id = "browser-report";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script></body>"""

SCRIPTS = {"browser-check": SCRIPT, "browser-style": STYLE_SCRIPT}


def inject_check(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        script = SCRIPTS.get(environ.get("QUERY_STRING", ""))
        if script is None:
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
        body = body.replace(b"</body>", script, 1)
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
