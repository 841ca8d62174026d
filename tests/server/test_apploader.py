"""`load_app`: module:attribute specs, dotted attributes, factories, one-line errors; and
`load_paste`: the app of a PasteDeploy ini."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgiserver.apploader import load_app, load_paste
from wsgiserver.errors import AppLoadError

_names = itertools.count()


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """load_app changes sys.path and sys.modules; undo both after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def module(tmp_path: Path, source: str) -> str:
    """Write a uniquely named module into tmp_path; return its name."""
    name = f"loader_mod_{next(_names)}"
    (tmp_path / f"{name}.py").write_text(source)
    return name


APP_SOURCE = """
def app(environ, start_response):
    start_response("200 OK", [])
    return [b"ok"]

class Holder:
    class Inner:
        wsgi = staticmethod(app)

holder = Holder()

def create():
    return app

def create_bad():
    return 42

def create_raises():
    raise ValueError("cannot\\nbuild")

not_callable = {"a": 1}
"""


def load_error(spec: str, tmp_path: Path, **kwargs: bool) -> str:
    with pytest.raises(AppLoadError) as info:
        load_app(spec, app_dir=str(tmp_path), **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_module_attribute(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    app = load_app(f"{name}:app", app_dir=str(tmp_path))
    assert app is sys.modules[name].app
    assert str(tmp_path) in sys.path


def test_surrounding_whitespace_is_ignored(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    assert load_app(f"  {name}:app\n", app_dir=str(tmp_path)) is sys.modules[name].app


def test_dotted_attribute(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    app = load_app(f"{name}:Holder.Inner.wsgi", app_dir=str(tmp_path))
    assert app is sys.modules[name].app
    assert load_app(f"{name}:holder.Inner.wsgi", app_dir=str(tmp_path)) is app


def test_dotted_module_in_a_package(tmp_path: Path) -> None:
    package = tmp_path / "loaderpkg" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "loaderpkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "wsgi.py").write_text(APP_SOURCE)
    app = load_app("loaderpkg.sub.wsgi:app", app_dir=str(tmp_path))
    assert app.__module__ == "loaderpkg.sub.wsgi"


def test_factory_call_syntax_and_flag(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    first = load_app(f"{name}:create()", app_dir=str(tmp_path))
    app = sys.modules[name].app
    assert first is app
    assert load_app(f"{name}:create", factory=True, app_dir=str(tmp_path)) is app
    # "()" and --factory together still call it once (the app is not called as a factory).
    assert load_app(f"{name}:create()", factory=True, app_dir=str(tmp_path)) is app


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "not an application path"),
        ("justamodule", "not an application path"),
        (":app", "not an application path"),
        ("mod:", "not an application path"),
        ("mod:app()x", "not an application path"),
        ("mod:app(1)", "not an application path"),
        ("1mod:app", "not an application path"),
        ("mod:app:other", "not an application path"),
        ("mod-name:app", "not an application path"),
    ],
)
def test_bad_spec_syntax(spec: str, fragment: str, tmp_path: Path) -> None:
    message = load_error(spec, tmp_path)
    assert fragment in message
    assert repr(spec) in message


def test_missing_module(tmp_path: Path) -> None:
    message = load_error("surely_not_a_module_xyz:app", tmp_path)
    assert message.startswith("no module named 'surely_not_a_module_xyz'")


def test_missing_submodule_of_existing_package(tmp_path: Path) -> None:
    (tmp_path / "loaderpkg2").mkdir()
    (tmp_path / "loaderpkg2" / "__init__.py").write_text("")
    message = load_error("loaderpkg2.nothere:app", tmp_path)
    assert message.startswith("no module named 'loaderpkg2.nothere'")


def test_missing_dependency_is_not_reported_as_missing_app_module(tmp_path: Path) -> None:
    name = module(tmp_path, "import surely_missing_dependency_xyz\n")
    message = load_error(f"{name}:app", tmp_path)
    assert message.startswith(f"importing {name!r} failed: ModuleNotFoundError")
    assert "surely_missing_dependency_xyz" in message


def test_error_while_importing_names_file_and_line(tmp_path: Path) -> None:
    name = module(tmp_path, "x = 1\n\nraise KeyError('multi\\nline')\n")
    message = load_error(f"{name}:app", tmp_path)
    assert message.startswith(f"importing {name!r} failed: KeyError")
    assert f"{name}.py, line 3" in message


# -- the location of a failure: the deepest line of the user's code --------------------------


def location(message: str) -> str:
    """The `(FILE, line N)` that ends a message, or "" when it has none."""
    match = re.search(r" \(([^()]*), line (\d+)\)$", message)
    return f"{Path(match.group(1)).name}:{match.group(2)}" if match else ""


def test_a_missing_environment_variable_points_at_the_app_not_at_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOADER_TEST_SECRET", raising=False)
    name = module(tmp_path, "import os\n\nSECRET = os.environ['LOADER_TEST_SECRET']\n")
    message = load_error(f"{name}:app", tmp_path)
    assert message.startswith(f"importing {name!r} failed: KeyError: 'LOADER_TEST_SECRET'")
    assert location(message) == f"{name}.py:3"  # before: <frozen os>, line 679


def test_a_json_error_points_at_the_app_not_into_the_json_module(tmp_path: Path) -> None:
    name = module(tmp_path, "import json\nx = 1\nCONFIG = json.loads('{bad')\n")
    message = load_error(f"{name}:app", tmp_path)
    assert "JSONDecodeError" in message
    assert location(message) == f"{name}.py:3"  # before: json/decoder.py


def test_a_dependency_missing_from_a_nested_import_has_its_location(tmp_path: Path) -> None:
    helper = module(tmp_path, "x = 1\nimport surely_missing_dependency_xyz\n")
    name = module(tmp_path, f"import {helper}\n")
    message = load_error(f"{name}:app", tmp_path)
    assert message.startswith(f"importing {name!r} failed: ModuleNotFoundError")
    assert location(message) == f"{helper}.py:2"  # before: no location at all


def test_a_failure_inside_an_installed_package_points_at_the_user_line_calling_it(
    tmp_path: Path,
) -> None:
    installed = tmp_path / "lib" / "site-packages"
    installed.mkdir(parents=True)
    (installed / "loader_thirdparty.py").write_text("def setup():\n    raise ValueError('no')\n")
    sys.path.insert(0, str(installed))
    name = module(tmp_path, "import loader_thirdparty\n\n\nloader_thirdparty.setup()\n")
    assert location(load_error(f"{name}:app", tmp_path)) == f"{name}.py:4"


def test_an_app_installed_in_site_packages_is_still_the_users_code(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages"
    (installed / "loader_installed_app").mkdir(parents=True)
    (installed / "loader_installed_app" / "__init__.py").write_text("")
    (installed / "loader_installed_app" / "wsgi.py").write_text("x = 1\nraise OSError('db')\n")
    message = load_error("loader_installed_app.wsgi:app", installed)
    assert location(message) == "wsgi.py:2"


def test_a_failure_with_no_user_frame_has_no_location(tmp_path: Path) -> None:
    # The app module is the standard library's: no frame is the user's.
    message = load_error("json.decoder:nope", tmp_path)
    assert location(message) == ""
    name = module(tmp_path, "import os\n")
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:os.environ.__getitem__()", app_dir=str(tmp_path))
    assert location(str(info.value)) == ""  # raised by the library, called by wsgiserver


def test_a_failing_factory_names_the_line_that_failed(tmp_path: Path) -> None:
    name = module(tmp_path, "import os\ndef create():\n    return os.environ['NOT_SET_XYZ_1']\n")
    message = load_error(f"{name}:create()", tmp_path)
    assert message.startswith(f"the factory {name}:create() failed: KeyError: 'NOT_SET_XYZ_1'")
    assert location(message) == f"{name}.py:3"


def test_the_original_exception_is_kept_with_its_traceback(tmp_path: Path) -> None:
    name = module(tmp_path, "import json\njson.loads('[')\n")
    with pytest.raises(AppLoadError) as info:
        load_app(f"{name}:app", app_dir=str(tmp_path))
    cause = info.value.__cause__
    assert isinstance(cause, json.JSONDecodeError)
    files = [frame.filename for frame in traceback.extract_tb(cause.__traceback__)]
    assert files[-1].endswith(os.path.join("json", "decoder.py"))
    assert str(tmp_path / f"{name}.py") in files


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("import sys; sys.exit('no DATABASE_URL')", "SystemExit: no DATABASE_URL"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ],
)
def test_exiting_while_importing_is_a_load_error(
    statement: str, expected: str, tmp_path: Path
) -> None:
    name = module(tmp_path, f"x = 1\n{statement}\n")
    message = load_error(f"{name}:app", tmp_path)
    assert message.startswith(f"importing {name!r} failed: {expected}")
    assert f"{name}.py, line 2" in message


def test_factory_calling_sys_exit_is_a_load_error(tmp_path: Path) -> None:
    name = module(tmp_path, "import sys\ndef create():\n    sys.exit(4)\n")
    assert "failed: SystemExit: 4" in load_error(f"{name}:create()", tmp_path)


def test_syntax_error_in_app_module(tmp_path: Path) -> None:
    name = module(tmp_path, "def broken(:\n    pass\n")
    message = load_error(f"{name}:app", tmp_path)
    assert "SyntaxError" in message
    assert f"{name}.py, line 1" in message


def test_missing_attribute(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    assert load_error(f"{name}:nope", tmp_path) == f"module {name!r} has no attribute 'nope'"
    assert "Holder.Nope" in load_error(f"{name}:Holder.Nope", tmp_path)


def test_not_callable(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    message = load_error(f"{name}:not_callable", tmp_path)
    assert message == f"{name}:not_callable is not a WSGI callable (its type is dict)"


def test_factory_returning_non_callable(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    message = load_error(f"{name}:create_bad()", tmp_path)
    assert message.endswith("is not a WSGI callable (its type is int)")


def test_factory_raising(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    message = load_error(f"{name}:create_raises()", tmp_path)
    assert message.startswith(
        f"the factory {name}:create_raises() failed: ValueError: cannot build"
    )
    assert location(message) == f"{name}.py:19"
    message = load_error(f"{name}:create_raises", tmp_path, factory=True)
    assert "ValueError: cannot build" in message


def test_factory_flag_on_an_app_that_needs_arguments(tmp_path: Path) -> None:
    name = module(tmp_path, APP_SOURCE)
    message = load_error(f"{name}:app", tmp_path, factory=True)
    assert "TypeError" in message


# -- the [app:main] of a PasteDeploy ini (--paste) ---------------------------------------------

PASTE_FACTORIES = """
from {name} import app

def make(global_conf, **local_conf):
    return app

def make_raising(global_conf, **local_conf):
    raise ValueError("cannot\\nbuild")

def make_bad(global_conf, **local_conf):
    return 42
"""


def paste_ini(tmp_path: Path, factory: str) -> str:
    name = module(tmp_path, APP_SOURCE)
    factories = module(tmp_path, PASTE_FACTORIES.format(name=name))
    sys.path.insert(0, str(tmp_path))  # PasteDeploy's call: imports from sys.path
    ini = tmp_path / "app.ini"
    ini.write_text(f"[app:main]\nuse = call:{factories}:{factory}\n")
    return str(ini)


def paste_error(path: str) -> str:
    with pytest.raises(AppLoadError) as info:
        load_paste(path)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_paste_app_is_loaded(tmp_path: Path) -> None:
    path = paste_ini(tmp_path, "make")
    app = load_paste(path)
    assert callable(app)
    assert app.__name__ == "app"


def test_paste_app_failures_are_one_line(tmp_path: Path) -> None:
    path = paste_ini(tmp_path, "make_bad")
    expected = f"--paste {path}: [app:main] is not a WSGI callable (its type is int)"
    assert paste_error(path) == expected


def test_a_failing_paste_factory_names_the_line_that_failed(tmp_path: Path) -> None:
    path = paste_ini(tmp_path, "make_raising")
    message = paste_error(path)
    assert message.startswith(
        f"--paste {path}: loading [app:main] failed: ValueError: cannot build"
    )
    # The factory's own line, not PasteDeploy's (installed) code that called it.
    assert location(message).endswith(".py:8")


def test_paste_ini_that_does_not_exist(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.ini")
    assert paste_error(path) == f"--paste: no such file {path!r}"


# -- egg:strict-wsgiserver#call: PasteDeploy's call: with a directory to import from ----------

CALL_FACTORY = """
def make(global_conf, **settings):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    app.settings = settings
    app.here = global_conf["here"]
    return app

def make_failing(global_conf, **settings):
    raise LookupError(settings["missing"])
"""


def call_ini(tmp_path: Path, body: str) -> tuple[Path, str]:
    """An ini in tmp_path/conf using the factory module written into tmp_path/code (which is
    not on sys.path); returns the code directory and the ini's path."""
    code, conf = tmp_path / "code", tmp_path / "conf"
    code.mkdir()
    conf.mkdir()
    name = module(code, CALL_FACTORY)
    ini = conf / "app.ini"
    ini.write_text("[app:main]\nuse = egg:strict-wsgiserver#call\n" + body.format(name=name))
    return code, str(ini)


@pytest.mark.parametrize("app_dir", ["../code", "%(here)s/../code"], ids=["relative", "here"])
def test_the_call_factory_imports_from_a_directory_relative_to_the_ini(
    tmp_path: Path, app_dir: str
) -> None:
    code, ini = call_ini(tmp_path, f"factory = {{name}}:make\napp_dir = {app_dir}\ngreeting = hi\n")
    assert str(code) not in sys.path
    app: Any = load_paste(ini)
    assert app.settings == {"greeting": "hi"}  # the section's other settings, as call: does
    assert app.here == str(tmp_path / "conf")
    assert str(code) in sys.path


def test_the_call_factory_without_app_dir_imports_from_the_ini_directory(tmp_path: Path) -> None:
    (tmp_path / "paste_here_mod.py").write_text(CALL_FACTORY)
    ini = tmp_path / "app.ini"
    ini.write_text("[app:main]\nuse = egg:strict-wsgiserver#call\nfactory = paste_here_mod:make\n")
    app: Any = load_paste(str(ini))
    assert app.settings == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("app_dir = ../code\n", "needs factory = module:callable"),
        ("factory = {name}:make()\napp_dir = ../code\n", "needs factory = module:callable"),
        ("factory = {name}:nope\napp_dir = ../code\n", "has no attribute 'nope'"),
        ("factory = {name}:make\n", "no module named"),  # the ini's directory has no such module
    ],
    ids=["no-factory", "called", "no-attribute", "wrong-directory"],
)
def test_call_factory_errors_are_one_line(tmp_path: Path, body: str, fragment: str) -> None:
    _, ini = call_ini(tmp_path, body)
    message = paste_error(ini)
    assert message.startswith(f"--paste {ini}: loading [app:main] failed: ")
    assert "AppLoadError" not in message
    assert fragment in message


def test_a_failing_call_factory_names_its_line(tmp_path: Path) -> None:
    _, ini = call_ini(tmp_path, "factory = {name}:make_failing\napp_dir = ../code\n")
    message = paste_error(ini)
    assert "the factory" in message
    assert "KeyError: 'missing'" in message
    assert location(message).endswith(".py:12")
