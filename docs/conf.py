"""Sphinx configuration of the documentation site: `sphinx-build -W -b html docs OUTDIR`.

Owns: the site's metadata, theme and extensions. The API reference imports the package from
this checkout (not an installed copy), so it documents exactly the code next to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import wsgiserver  # noqa: E402  (after the path is set)

project = "wsgiserver"
author = "The wsgiserver authors"
project_copyright = "2026, The wsgiserver authors"
release = version = wsgiserver.__version__

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
# A `name` in single backquotes (common in the docstrings) is code.
default_role = "code"

autodoc_member_order = "bysource"
# `wsgiserver.contrib.django` imports Django, which the `docs` extra does not install (the
# site builds with only that extra, as CONTRIBUTING says): its reference is made the same way
# with or without Django.
autodoc_mock_imports = ["django"]
# The WSGI callable types by their names, not spelled out as nested Callables.
autodoc_type_aliases = {"WSGIApp": "WSGIApp", "StartResponse": "StartResponse"}

html_theme = "furo"
html_title = f"wsgiserver {release}"
