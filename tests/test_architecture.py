"""The protocol layer stays pure: no I/O, threads, clocks or logging (ARCHITECTURE.md).

An AST walk over `wsgiserver/protocol/*.py` finds every `import x`, `from x import y` and
`__import__("x")` / `importlib.import_module("x")` call, and checks the top-level names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "wsgiserver" / "protocol"
FORBIDDEN = frozenset(
    (
        "socket",
        "selectors",
        "select",
        "threading",
        "time",
        "logging",
        "os",
        "ssl",
        "asyncio",
        "subprocess",
    )
)


def imported_modules(source: str, filename: str = "<string>") -> set[str]:
    """Top-level names of every module `source` imports (relative imports excluded)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else (func.attr if isinstance(func, ast.Attribute) else None)
            )
            first = node.args[0]
            if (
                name in ("__import__", "import_module")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.add(first.value.split(".")[0])
    return found


def forbidden_imports(source: str, filename: str = "<string>") -> set[str]:
    return imported_modules(source, filename) & FORBIDDEN


PROTOCOL_FILES = sorted(PROTOCOL_DIR.glob("*.py"))


def test_protocol_package_found() -> None:
    """The walk below must not pass vacuously."""
    names = {path.name for path in PROTOCOL_FILES}
    assert {"__init__.py", "connection.py", "head.py", "readers.py", "writers.py"} <= names


@pytest.mark.parametrize("path", PROTOCOL_FILES, ids=lambda path: path.name)
def test_protocol_module_is_pure(path: Path) -> None:
    """ARCHITECTURE.md, protocol layer: must not import socket, threading, time, logging, os."""
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import socket", {"socket"}, id="import"),
        pytest.param("import os.path as p", {"os"}, id="dotted-import"),
        pytest.param("from time import monotonic", {"time"}, id="from-import"),
        pytest.param("from logging.handlers import X", {"logging"}, id="from-dotted"),
        pytest.param("def f():\n    import threading\n", {"threading"}, id="nested"),
        pytest.param(
            "try:\n    import ssl\nexcept ImportError:\n    pass\n", {"ssl"}, id="guarded"
        ),
        pytest.param("x = __import__('select')", {"select"}, id="dunder-import"),
        pytest.param(
            "import importlib\nm = importlib.import_module('asyncio.events')",
            {"asyncio"},
            id="import-module",
        ),
        pytest.param("import re, subprocess", {"subprocess"}, id="several"),
        pytest.param("from . import socket", set(), id="relative-is-not-stdlib"),
        pytest.param("import re\nfrom dataclasses import dataclass", set(), id="clean"),
    ],
)
def test_walker_finds_forbidden_imports(source: str, expected: set[str]) -> None:
    """The checker can fail: it sees forbidden imports in synthetic sources."""
    assert forbidden_imports(source) == expected
