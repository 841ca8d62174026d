"""HTTP/2 (RFC 9113) for the server role, sans-IO, over the `h2` library: an optional extra.

Owns: the HTTP/2 limits and their defaults (`limits`), turning a stream's header block into
a validated `protocol.Request` and a response into a header block (`messages`), and one
connection's protocol state with this server's policies: the streams it accepts or refuses,
flow-control bookkeeping, and the floods and resets that end a connection (`connection`).
Must not: touch sockets, threads, clocks (the caller passes `now`) or logging; and neither
this package nor `limits` and `messages` import `h2`: only `connection` does, and the
transport imports it only once HTTP/2 is configured, so the default install runs on the
standard library alone (the `http2` extra brings `h2`).
"""

from __future__ import annotations

from wsgiserver.errors import ConfigError

# What the messages tell to run: the extra's one requirement, which pip finds on the package
# index wherever this server was installed from (a checkout, a wheel); the extra by the
# distribution's name would need the distribution on the index too.
INSTALL = "pip install 'h2>=4.1,<5'"
MINIMUM_H2 = (4, 1)  # the `h2` API this package is written against (RFC 9113 validation)


def require() -> None:
    """Raise a one-line `ConfigError` naming the extra unless a usable `h2` is installed."""
    try:
        import h2
    except ImportError:
        raise ConfigError(f"http2: the h2 library is not installed: {INSTALL}") from None
    version = tuple(int(part) for part in h2.__version__.split(".")[:2] if part.isdigit())
    if version < MINIMUM_H2:
        raise ConfigError(
            f"http2: h2 {h2.__version__} is too old (need {MINIMUM_H2[0]}.{MINIMUM_H2[1]} "
            f"or later): {INSTALL}"
        )
    # `connection` replaces these h2 methods (its docstring says why): in an h2 without one
    # of them the replacement would silently never run.
    from h2.connection import H2Connection
    from h2.frame_buffer import FrameBuffer
    from h2.stream import H2Stream

    replaced: tuple[tuple[object, str], ...] = (
        (H2Connection, "_begin_new_stream"),
        (H2Connection, "_receive_goaway_frame"),
        (H2Stream, "_initialize_content_length"),
        (FrameBuffer(server=True), "_data"),
        (FrameBuffer(server=True), "_headers_buffer"),
    )
    missing = [
        f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"
        for owner, name in replaced
        if not hasattr(owner, name)
    ]
    if missing:
        raise ConfigError(
            f"http2: h2 {h2.__version__} lacks {', '.join(missing)}, which this server "
            f"adapts: {INSTALL}"
        )
