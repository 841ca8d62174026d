"""Configuration: every option, declared once, and every place it can come from.

Owns: the frozen `Config` dataclass and its validation (`options`), the conversion of option
text into values (`conversions`), the `--bind` address syntax (`bind`), the command-line
parser, config files and environment variables generated from the field metadata
(`arguments`, `sources`), the generated settings reference (`settings_doc`), and which
options only the command line applies (`scope`). Must not:
open sockets or import the app; lower layers receive plain arguments, never a `Config`.
"""

from wsgiserver.config.options import Config

__all__ = ["Config"]
