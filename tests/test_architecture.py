"""The layers hold: the protocol layer stays pure, and every layer imports only downward.

1. The protocol layer has no I/O, threads, clocks or logging: an AST walk over
   `wsgiserver/protocol/*.py` finds every `import x`, `from x import y` and
   `__import__("x")` / `importlib.import_module("x")` call, and checks the top-level names.
2. A module of a layer imports only its own layer, the layers below it and the foundation
   modules (errors, types, version, apploader), which import only each other; imports
   inside functions count (a later dependency is a dependency). See docs/design.rst.
3. The import graph of the package has no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


# -- layering ------------------------------------------------------------------------


PACKAGE = Path(__file__).resolve().parent.parent / "wsgiserver"

FOUNDATION = ("errors", "types", "version", "apploader")
# Lowest first. The top (the package's __init__/__main__, testing, the pytest plugin and
# contrib) may import anything.
LAYERS = (
    "protocol",
    "http2",
    "observability",
    "gateway",
    "transport",
    "config",
    "server",
    "supervisor",
    "cli",
)
TOP = ("__init__", "__main__", "testing", "pytest_plugin", "contrib")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def rank(module: str) -> int:
    """0 for the foundation, 1.. for the layers in order, above them all for the top."""
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    if first in FOUNDATION:
        return 0
    if first in LAYERS:
        return 1 + LAYERS.index(first)
    if first in TOP:
        return 1 + len(LAYERS)
    raise AssertionError(f"{module} belongs to no layer: add it to FOUNDATION, LAYERS or TOP")


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def resolve(name: str) -> str | None:
    """The wsgiserver module `name` refers to (a package means its __init__), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(source: str, module: str) -> Iterator[tuple[str, int]]:
    """(imported wsgiserver module, line) for every import in `source`, at any depth."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "wsgiserver":
                    found = resolve(alias.name)
                    if found is not None:
                        yield found, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "wsgiserver":
                continue
            for alias in node.names:
                # `from wsgiserver.gateway import response` names a submodule.
                named = f"{base}.{alias.name}"
                found = named if named in MODULES else resolve(base)
                if found is not None:
                    yield found, node.lineno


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges[module] = {
            target
            for target, _ in imports_of(path.read_text(encoding="utf-8"), module)
            if target != module
        }
    return edges


def test_every_module_has_a_layer() -> None:
    assert {layer(m) for m in MODULES} <= {*FOUNDATION, *LAYERS, *TOP}
    assert {"protocol", "gateway", "transport", "server", "supervisor"} <= {
        layer(m) for m in MODULES
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_only(module: str) -> None:
    mine = rank(module)
    wrong = []
    for target, line in imports_of(MODULES[module].read_text(encoding="utf-8"), module):
        theirs = rank(target)
        below = theirs < mine or (theirs == mine and layer(target) == layer(module))
        if mine == 0:
            below = theirs == 0  # the foundation imports only itself
        if not below and mine != rank("wsgiserver"):
            wrong.append(f"line {line}: {target}")
    assert wrong == [], f"{module} imports upward: {wrong}"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `edges` as a path [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found is not None:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found is not None:
                return found
    return None


def test_no_import_cycle() -> None:
    # The package's own __init__ re-exports the public API: every `wsgiserver.x` import runs
    # it, but that is Python's package initialisation, not a dependency of x on the API.
    edges = {m: {t for t in targets if t != "wsgiserver"} for m, targets in graph().items()}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


# -- the checker itself can fail --------------------------------------------------------


def test_imports_inside_functions_are_seen() -> None:
    source = "def f():\n    from wsgiserver.cli.main import main\n"
    assert ("wsgiserver.cli.main", 2) in set(imports_of(source, "wsgiserver.server.server"))


def test_a_submodule_named_in_from_import_is_resolved() -> None:
    source = "from wsgiserver.gateway import response\nfrom wsgiserver.server import Server\n"
    found = {target for target, _ in imports_of(source, "wsgiserver.transport.transport")}
    assert found == {"wsgiserver.gateway.response", "wsgiserver.server"}


def test_relative_imports_are_resolved() -> None:
    source = "from . import poller\nfrom ..gateway import body\n"
    found = {target for target, _ in imports_of(source, "wsgiserver.server.server")}
    assert found == {"wsgiserver.server.poller", "wsgiserver.gateway.body"}


def test_cycles_are_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None
