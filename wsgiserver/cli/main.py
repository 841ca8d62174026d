"""The command line: `python -m wsgiserver [options] APP` (and the `wsgiserver` script).

Owns: parsing the arguments, merging every option source into one `Config` (reporting each bad
key or value on its own line), `--print-config`, and handing the result to the serving path
(`cli.serving`) that `--paste` and `pserve` share. Must not: hold server logic, the argument
parser (`config.arguments`) or logging set-up (`observability.logconfig`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from wsgiserver.cli.serving import fail, serve
from wsgiserver.config.arguments import CONFIG_ARGUMENTS, build_parser
from wsgiserver.config.sources import ConfigSourceError, load_config, render_config
from wsgiserver.errors import EXIT_APP, EXIT_CONFIG, AppLoadError, ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    config_file, print_config, check = (args.pop(name) for name in CONFIG_ARGUMENTS)
    try:  # the one place options from every source are merged
        loaded = load_config(args, config_file=config_file)
    except ConfigSourceError as exc:
        for error in exc.errors:
            fail(ConfigError(error), EXIT_CONFIG)
        return EXIT_CONFIG
    except AppLoadError as exc:  # a --paste ini that cannot be read at all
        return fail(exc, EXIT_APP)
    if print_config:
        sys.stdout.write(render_config(loaded))
        if not check:
            return 0
        sys.stdout.flush()  # before the check's own lines, on the same terminal
    return serve(loaded.config, check=check)
