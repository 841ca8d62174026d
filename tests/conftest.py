"""Suite-wide hooks: coverage's bar applies to whole runs; thread interrupts skip its tracer;
the processes the tests start keep their bytecode.

`python -m pytest` measures coverage (addopts) and fails under the bar in pyproject.toml; a run
of part of the suite (paths, -k or -m given) still reports coverage but has no bar to meet.

`--request-timeout` raises `RequestTimeout` in a running thread with
`PyThreadState_SetAsyncExc`, which lands at any bytecode boundary. Under coverage on Python
3.11 (the C tracer) that can be inside coverage's own Python code while it holds its data
lock, and the test process deadlocks (coveragepy issue 1626 and its kin). So a test marked
`interrupts_threads` runs, when coverage is measuring this process, in a child pytest without
the coverage plugin; its outcome is this test's. Without coverage it runs here, as usual.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 120.0  # seconds; the child has the same per-test timeout as this run
IN_CHILD = "WSGISERVER_TEST_IN_CHILD"  # set in the child, which must not recurse

# The suite starts some 450 Python processes (servers, CLI runs). Where the environment sets
# PYTHONDONTWRITEBYTECODE (container images often do), each of them compiled every module of
# the package from source again: the first child now writes the bytecode, the rest read it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def untraced_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child that coverage must not follow: the build tools
    and Sphinx (tracing them only costs time), and the children of `interrupts_threads`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(extra)
    return env


def pytest_configure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.getplugin("_cov")
    subset = (
        config.args_source is not pytest.Config.ArgsSource.TESTPATHS
        or bool(config.option.keyword)
        or bool(config.option.markexpr)
    )
    if plugin is not None and subset:
        plugin.options.cov_fail_under = None  # a part of the suite covers a part of the code


def _measuring(config: pytest.Config) -> bool:
    plugin = config.pluginmanager.getplugin("_cov")
    return plugin is not None and getattr(plugin, "cov_controller", None) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.get_closest_marker("interrupts_threads") is None:
        return None
    if os.environ.get(IN_CHILD) or not _measuring(pyfuncitem.config):
        return None
    command = [
        sys.executable,
        "-m",
        "pytest",
        pyfuncitem.nodeid,
        "-q",
        "--no-cov",
        "-n0",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        # Without COVERAGE_PROCESS_CONFIG, coverage's subprocess patch leaves the child alone.
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
            IN_CHILD: "1",
        },
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"failed in a child pytest without coverage:\n{done.stdout}{done.stderr}")
    return True
