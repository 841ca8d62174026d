"""PasteDeploy's server runner: `[server:main] use = egg:strict-wsgiserver` in an ini file.

Owns: `serve_paste`, the `paste.server_runner` entry point that `pserve development.ini` and
`paste.deploy.loadserver` call with the app and the `[server:main]` options; it serves through
the command line's own path (`cli.serving`). Must not: read the ini's options
(`config.paste_ini`), load its app (`apploader.load_paste`) or hold server logic.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from wsgiserver.cli.serving import fail, serve
from wsgiserver.config.options import Config
from wsgiserver.config.paste_ini import options_from_ini
from wsgiserver.errors import EXIT_CONFIG, ConfigError
from wsgiserver.types import WSGIApp


def serve_paste(app: WSGIApp, global_conf: Mapping[str, Any], **local_conf: Any) -> int:
    """The `paste.server_runner` entry point: serve `app` with the `[server:main]` options.

    Used by `pserve development.ini` and `paste.deploy.loadserver`. Serves as the command
    line does (systemd sockets, the supervisor for `workers` > 1, signals) until SIGINT or
    SIGTERM, then returns 0. A startup failure is one line on stderr and `SystemExit` with the
    command line's exit status (pserve itself reports that and exits 0).
    """
    try:
        config = Config.from_options(options_from_ini(local_conf))
        if config.reload:
            # Workers would get the app pserve already imported, never a changed one.
            raise ConfigError("reload: pserve loads the app itself; use pserve --reload")
    except ConfigError as exc:
        raise SystemExit(fail(exc, EXIT_CONFIG)) from None
    ours = logging.getLogger("wsgiserver")
    configured = bool(ours.handlers) or ours.level != logging.NOTSET  # by the ini's logging
    status = serve(config, app, set_up_logging=not configured)
    if status:
        raise SystemExit(status)
    return 0
