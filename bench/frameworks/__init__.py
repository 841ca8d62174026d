"""Tiny framework apps for the ``flask``, ``django`` and ``django-db`` scenarios.

Both render the same template (``templates/page.html``, valid Jinja and
Django syntax) with the same context, so the difference from ``hello`` is
the framework's share of the time.
"""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "page.html"
TITLE = "wsgiserver benchmark"
ITEMS = [f"item {number}" for number in range(20)]


def context() -> dict[str, object]:
    """The template context both frameworks render."""
    return {"title": TITLE, "items": ITEMS}
