"""Each default is written once: the options that set a lower layer's value take their defaults
from that layer's dataclass, and the server layer passes every one of them down.

`min_body_rate` once drifted this way (0 in the transport's `Timeouts`, 500 in `Config`): these
tests fail if a default is written into `Config` again, or if the server stops passing an
option down.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from wsgiserver.config.options import Config
from wsgiserver.protocol import Limits
from wsgiserver.server.connections import Connections
from wsgiserver.transport.transport import ChunkedBodies, Timeouts

# Config option -> (the attribute of `Connections` holding what it builds, that one's field).
PASSED_DOWN = {
    "max_request_line": ("limits", "max_request_line"),
    "max_header_count": ("limits", "max_header_count"),
    "max_header_field": ("limits", "max_header_field"),
    "max_head_size": ("limits", "max_head_size"),
    "max_body_size": ("limits", "max_body_size"),
    "max_chunk_extension": ("limits", "max_chunk_extension"),
    "keepalive_timeout": ("timeouts", "keepalive"),
    "header_timeout": ("timeouts", "header"),
    "body_timeout": ("timeouts", "body"),
    "send_timeout": ("timeouts", "send"),
    "min_body_rate": ("timeouts", "min_body_rate"),
    "body_rate_grace": ("timeouts", "body_rate_grace"),
    "stream_chunked": ("chunked", "stream"),
    "spool_threshold": ("chunked", "spool_threshold"),
    "spool_dir": ("chunked", "spool_dir"),
}
# Fields that are not options: the transport's and the protocol's own choices.
NOT_OPTIONS = {("limits", "max_drain_size"), ("timeouts", "linger"), ("timeouts", "prebuffer")}
LOWER = {"limits": Limits, "timeouts": Timeouts, "chunked": ChunkedBodies}


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("204 No Content", [])
    return []


def test_config_defaults_are_what_the_server_passes_down() -> None:
    connections = Connections(app, Config())
    assert connections.limits == Limits()
    assert connections.timeouts == Timeouts()
    assert connections.chunked == ChunkedBodies()


def test_every_field_below_is_an_option_or_known_not_to_be() -> None:
    fields = {(name, f.name) for name, kind in LOWER.items() for f in dataclasses.fields(kind)}
    assert fields == set(PASSED_DOWN.values()) | NOT_OPTIONS


def _another(value: Any, tmp_path: Path) -> Any:
    if isinstance(value, bool):
        return not value
    if value is None:  # spool_dir
        return str(tmp_path)
    return value + 1


@pytest.mark.parametrize("name", PASSED_DOWN)
def test_each_option_reaches_the_layer_below(name: str, tmp_path: Path) -> None:
    value = _another(getattr(Config(), name), tmp_path)
    connections = Connections(app, Config(**{name: value}))
    holder, field = PASSED_DOWN[name]
    assert getattr(getattr(connections, holder), field) == value
