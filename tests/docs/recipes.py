"""Recipes cut out of the documents, so the tests run what the documents show.

A recipe is the text of a code block between a `# recipe: NAME` line and a `# end recipe`
line (both are comments in every language the documents use: shell, nginx, HAProxy).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def recipe(document: str, name: str) -> str:
    """The dedented recipe `name` of `docs/<document>`."""
    path = DOCS / document
    match = re.search(rf"# recipe: {name}\n(.*?)\n\s*# end recipe", path.read_text(), re.S)
    assert match is not None, f"recipe {name!r} not found in {path}"
    return textwrap.dedent(match.group(1))
