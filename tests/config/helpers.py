"""Shared helpers of the configuration tests."""

from __future__ import annotations

import os


def clean_environ(**extra: str) -> dict[str, str]:
    """The test process's environment without WSGISERVER_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSGISERVER_")}
    env.update(extra)
    return env
