"""The nginx and HAProxy recipes in docs/deployment.rst are valid configurations.

Each recipe is cut out of the document between `# recipe: NAME` and `# end recipe`, its
paths moved into a temporary directory, and checked by the real daemon (`nginx -t`,
`haproxy -c`). Their behaviour in front of wsgiserver is tested in tests/proxy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.rst"


def recipe(name: str) -> str:
    text = DOC.read_text()
    match = re.search(rf"# recipe: {name}\n(.*?)\n\s*# end recipe", text, re.S)
    assert match is not None, f"recipe {name!r} not found in {DOC}"
    return textwrap.dedent(match.group(1))


def binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.path.exists(p)),
        None,
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def test_nginx_recipe_is_valid(tmp_path: Path) -> None:
    site = recipe("nginx").replace("listen 80;", "listen 127.0.0.1:8080;")
    site = site.replace("/run/myproject.sock", str(tmp_path / "myproject.sock"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [binary("nginx"), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_haproxy_recipe_is_valid(tmp_path: Path) -> None:
    config = recipe("haproxy").replace("bind :80", "bind 127.0.0.1:8080")
    (tmp_path / "haproxy.cfg").write_text(config + "\n")
    result = subprocess.run(
        [binary("haproxy"), "-c", "-f", str(tmp_path / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Options of other programs that the documents mention (pip, pytest, the fuzz script).
NOT_OURS = {"--no-cache-dir", "--wsgi-app", "--no-", "--seed-corpus"}


@pytest.mark.parametrize(
    "path",
    # docs/performance.rst documents the benchmark's own command line, not the server's.
    [
        DOC.parents[1] / "README.rst",
        *sorted(p for p in DOC.parent.glob("*.rst") if p.name != "performance.rst"),
    ],
    ids=lambda p: p.name,
)
def test_documents_name_only_real_options(path: Path) -> None:
    # Every --option a document shows must exist, so the docs cannot drift from the CLI.
    from wsgiserver.config.arguments import build_parser

    known = {opt for action in build_parser()._actions for opt in action.option_strings}
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", path.read_text())) - NOT_OURS
    assert used <= known, f"unknown options in {path.name}: {sorted(used - known)}"


@pytest.mark.parametrize(
    "path", [*sorted(DOC.parent.glob("*.rst")), DOC.parents[1] / "README.rst"], ids=lambda p: p.name
)
def test_document_is_valid_restructuredtext(path: Path) -> None:
    from docutils.core import publish_doctree

    # halt_level 2: any warning (broken markup, unknown code language) fails the test.
    publish_doctree(path.read_text(), settings_overrides={"halt_level": 2, "report_level": 2})
