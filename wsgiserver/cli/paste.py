"""PasteDeploy's server runner: `[server:main] use = egg:wsgiserver` in an ini file.

Owns: `serve_paste`, the `paste.server_runner` entry point that `pserve development.ini` and
`paste.deploy.loadserver` call with the app and the `[server:main]` options. Must not: read
the ini's options (`config.paste_ini`), load its app (`apploader.load_paste`) or hold server
logic.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from wsgiserver.config.options import Config
from wsgiserver.config.paste_ini import options_from_ini
from wsgiserver.types import WSGIApp


def serve_paste(app: WSGIApp, global_conf: Mapping[str, Any], **local_conf: Any) -> int:
    """The `paste.server_runner` entry point: serve `app` with the `[server:main]` options.

    Used by `pserve development.ini` and `paste.deploy.loadserver`. Serves until SIGINT or
    SIGTERM (when run from the main thread), then stops gracefully.
    """
    from wsgiserver.cli.main import run, setup_logging
    from wsgiserver.server.server import Server

    config = Config.from_options(options_from_ini(local_conf))
    ours = logging.getLogger("wsgiserver")
    if not ours.handlers and ours.level == logging.NOTSET:
        setup_logging(config)  # the ini did not configure our logger: log like the CLI
    return run(Server(app, config))
