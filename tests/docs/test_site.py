"""The documentation builds: the Sphinx site under docs/, and the top-level .rst files.

The site is built with warnings as errors (`-W --keep-going`), so a broken cross-reference, a
page left out of every toctree or an API name that no longer imports fails the suite. The
top-level files (README, CHANGES, SECURITY, CONTRIBUTING) are rendered by GitHub and the
package index without Sphinx, so they are checked as plain reStructuredText.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import untraced_env
from tests.docs.recipes import DOCS

ROOT = DOCS.parent
TOP_LEVEL = ("README.rst", "CHANGES.rst", "SECURITY.rst", "CONTRIBUTING.rst")
# What the API reference must document, by the public import path users write.
API_NAMES = (
    "wsgiserver.serve",
    "wsgiserver.Server",
    "wsgiserver.Server.shutdown",
    "wsgiserver.testing.serving",
    "wsgiserver.testing.RunningServer",
    "wsgiserver.contrib.django.LiveServerTestCase",
    "wsgiserver.contrib.webtest.StopableWSGIServer",
    "wsgiserver.observability.Hooks",
    "wsgiserver.errors.ConfigError",
    "wsgiserver.errors.BindError",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    argv = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(
        [*argv, "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        env=untraced_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "html"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_page_is_built_and_reachable_from_the_index(site: Path) -> None:
    index = (site / "index.html").read_text()
    for page in sorted(DOCS.glob("*.rst")):
        assert (site / f"{page.stem}.html").is_file(), page.name
        if page.stem != "index":
            assert f'href="{page.stem}.html"' in index, f"{page.name} is not in the index"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_api_reference_documents_the_public_names(site: Path) -> None:
    api = (site / "api.html").read_text()
    missing = [name for name in API_NAMES if f'id="{name}"' not in api]
    assert not missing, f"not in the API reference: {missing}"


def test_pages_link_to_each_other_with_cross_references() -> None:
    # ``docs/deployment.rst`` is text on the site; :doc:`deployment` is a link that the build
    # checks. (The top-level files use relative links, which work on GitHub.)
    for page in sorted(DOCS.glob("*.rst")):
        literal = re.findall(r"``docs/[\w-]+\.rst``", page.read_text())
        assert not literal, f"{page.name}: use :doc: instead of {literal}"


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_document_is_valid_restructuredtext(name: str) -> None:
    from docutils.core import publish_doctree

    # halt_level 2: any warning (broken markup, unknown code language, a Sphinx-only role)
    # fails the test.
    text = (ROOT / name).read_text()
    publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_links_to_files_point_at_files(name: str) -> None:
    # `text <docs/page.rst>`_ must name a file of the repository, so the link works on GitHub.
    targets = re.findall(r"<([\w./-]+\.rst)>`_", (ROOT / name).read_text())
    broken = [t for t in targets if not (ROOT / t).is_file()]
    assert not broken, f"{name} links to missing files: {broken}"
