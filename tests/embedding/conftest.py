"""The embedding tests drive the pytest plugin through `pytester`, as users see it.

`pytest_plugins = ["pytester"]` is only allowed in a top-level conftest, and this one is not
when the whole suite runs, so the plugin is registered here instead.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
