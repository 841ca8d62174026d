"""Owns the Flask app of the ``flask`` scenario: one templated page at ``/``.

Flask is imported through importlib so the harness type-checks without it.
"""

from __future__ import annotations

import importlib

from bench.frameworks import TEMPLATE, TEMPLATES, context

flask = importlib.import_module("flask")


def page() -> str:
    """Render the shared template."""
    html: str = flask.render_template(TEMPLATE, **context())
    return html


app = flask.Flask(__name__, template_folder=str(TEMPLATES))
app.add_url_rule("/", "page", page)
