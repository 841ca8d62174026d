"""`python -m tests.frameworks.validated_cli [wsgiserver options] APP`.

Runs the wsgiserver CLI with the loaded app wrapped in `wsgiref.validate.validator`, and with
warnings turned into errors, so a validator complaint becomes a 500 the tests see.
"""

from __future__ import annotations

import warnings
from typing import Any, cast
from wsgiref.validate import validator

from wsgiserver.apploader import load_app
from wsgiserver.cli import serving
from wsgiserver.cli.main import main as cli_main
from wsgiserver.types import WSGIApp


def main() -> int:
    warnings.simplefilter("error", category=Warning)

    def load_validated(*args: Any, **kwargs: Any) -> WSGIApp:
        return cast(WSGIApp, validator(cast(Any, load_app(*args, **kwargs))))

    # Setting a name the serving path does not use would silently serve the bare app.
    if getattr(serving, "load_app", None) is not load_app:
        raise RuntimeError("wsgiserver.cli.serving no longer loads APP with load_app")
    setattr(serving, "load_app", load_validated)  # noqa: B010 - patching on purpose
    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
