"""Small runner scripts for servers that have no command line of their own."""

from __future__ import annotations

import importlib
from wsgiref.types import WSGIApplication


def load_app(spec: str) -> WSGIApplication:
    """Import ``module:attribute`` and return the WSGI application."""
    module_name, _, attribute = spec.partition(":")
    app: WSGIApplication = getattr(importlib.import_module(module_name), attribute or "app")
    return app
