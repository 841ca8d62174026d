"""The nginx and HAProxy recipes in docs/deployment.rst are valid configurations, and the
Docker/Kubernetes recipe sizes its workers as the page says.

Each recipe is cut out of the document between `# recipe: NAME` and `# end recipe`, its
paths moved into a temporary directory, and checked by the real daemon (`nginx -t`,
`haproxy -c`). Their behaviour in front of wsgiserver is tested in tests/proxy. Every
`--option` that a user-facing document names must also be a real option of the server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.helpers import clean_environ
from tests.docs.recipes import DOCS, recipe

DOC = DOCS / "deployment.rst"


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
    site = recipe(DOC.name, "nginx").replace("listen 80;", "listen 127.0.0.1:8080;")
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
    config = recipe(DOC.name, "haproxy").replace("bind :80", "bind 127.0.0.1:8080")
    (tmp_path / "haproxy.cfg").write_text(config + "\n")
    result = subprocess.run(
        [binary("haproxy"), "-c", "-f", str(tmp_path / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Options of other programs that the documents mention.
PIP = {"--no-cache-dir", "--no-deps", "--no-index"}
PYTEST = {"--wsgi-app"}
CURL = {"--cacert", "--cert", "--key", "--http2-prior-knowledge"}
# "--no-" is the prefix of negated flags in prose; --seed-corpus belongs to the fuzz script.
NOT_OURS = {*PIP, *PYTEST, *CURL, "--no-", "--seed-corpus"}


@pytest.mark.parametrize(
    "path",
    # docs/performance.rst documents the benchmark's own command line, CONTRIBUTING.rst the
    # tools of development (pytest, ruff, nox, sphinx-build), not the server's.
    [
        *(DOCS.parent / name for name in ("README.rst", "CHANGES.rst", "SECURITY.rst")),
        *sorted(p for p in DOCS.glob("*.rst") if p.name != "performance.rst"),
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
    "path",
    [
        *(DOCS.parent / name for name in ("README.rst", "CHANGES.rst", "CONTRIBUTING.rst")),
        *sorted(DOCS.glob("*.rst")),
    ],
    ids=lambda p: p.name,
)
def test_documents_run_only_real_modules(path: Path) -> None:
    # `python -m wsgiserver.x` in a document must name a module that exists: modules moved
    # into their layer's subpackage, and a stale path fails only when a reader runs it.
    import importlib.util

    named = set(re.findall(r"python -m (wsgiserver[\w.]*)", path.read_text()))
    missing = sorted(name for name in named if importlib.util.find_spec(name) is None)
    assert not missing, f"{path.name} runs modules that do not exist: {missing}"


def test_the_kubernetes_recipe_sizes_the_workers_from_web_concurrency(tmp_path: Path) -> None:
    # The image's CMD gave --workers, which outranks WEB_CONCURRENCY: the pod's "4" did
    # nothing, against what the page says. Run the recipe's CMD with the image's ENV and
    # then with the pod's env on top, and see where the worker count comes from.
    dockerfile = recipe(DOC.name, "dockerfile")
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    argv = json.loads(cmd)
    assert argv[0] == "wsgiserver"
    image_env = dict(re.findall(r"^ENV (\w+)=(\S+)$", dockerfile, re.M))
    pod_env = dict(re.findall(r"\{name: (\w+), value: \"([^\"]*)\"\}", recipe(DOC.name, "pod")))
    assert pod_env == {"WEB_CONCURRENCY": "4"}

    def workers(env: dict[str, str]) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "wsgiserver", *argv[1:], "--print-config"],
            cwd=tmp_path,
            env=clean_environ(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        [line] = [line for line in result.stdout.splitlines() if line.startswith("workers =")]
        return " ".join(line.split())

    assert workers(image_env) == "workers = 2 # environment WEB_CONCURRENCY"
    assert workers({**image_env, **pod_env}) == "workers = 4 # environment WEB_CONCURRENCY"
    # The service links a Service named wsgiserver adds to the pod do not stop it.
    links = {"WSGISERVER_SERVICE_HOST": "10.0.0.11", "WSGISERVER_PORT": "tcp://10.0.0.11:80"}
    assert workers({**image_env, **pod_env, **links}).startswith("workers = 4 ")
