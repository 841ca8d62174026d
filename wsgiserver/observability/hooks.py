"""Server hooks for instrumentation: request start/end, worker start/exit.

Owns: the `Hooks` bundle, loading one from `--hooks module:object`, and calling hooks so that
an exception in a hook is logged (`wsgiserver.error`) and never breaks a request or a worker.
Must not: touch sockets. See docs/observability.rst for the OpenTelemetry and StatsD examples.

- `on_request_start(environ)`: in the worker thread, just before the app is called (the
  environ is complete: `wsgiserver.request_id` is set). A hook may store its own state in the
  environ under its own key.
- `on_request_end(environ, record)`: once the response is sent (or failed), with the
  `RequestRecord` (status, body_bytes, request_bytes, duration_us, queue_us, request_id...).
  Not called for requests the server rejected before the app ran (400, 408, 431...).
- `on_worker_start(server)` / `on_worker_exit(server)`: when a `Server` starts serving and when
  it has stopped; with `--workers N` in every worker process, else in the one process. Not
  called when a process is killed or stopped fast (SIGINT/SIGQUIT to a worker).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsgiserver.errors import AppLoadError, ConfigError

if TYPE_CHECKING:
    from wsgiserver.observability.accesslog import RequestRecord

log = logging.getLogger("wsgiserver.error")

HOOK_NAMES = ("on_request_start", "on_request_end", "on_worker_start", "on_worker_exit")
_SPEC = re.compile(r"([A-Za-z_][\w.]*)(?::([A-Za-z_][\w.]*))?")


@dataclass(frozen=True, slots=True)
class Hooks:
    """Optional callables; `Server(app, hooks=Hooks(on_request_end=...))`."""

    on_request_start: Callable[[dict[str, Any]], object] | None = None
    on_request_end: Callable[[dict[str, Any], RequestRecord], object] | None = None
    on_worker_start: Callable[[Any], object] | None = None
    on_worker_exit: Callable[[Any], object] | None = None

    @classmethod
    def from_object(cls, obj: object) -> Hooks:
        """Take the hook attributes an object (a module, a class instance...) has."""
        if isinstance(obj, Hooks):
            return obj
        found: dict[str, Any] = {}
        for name in HOOK_NAMES:
            value = getattr(obj, name, None)
            if value is None:
                continue
            if not callable(value):
                kind = type(value).__name__
                raise ConfigError(f"hooks: {name} is not callable (its type is {kind})")
            found[name] = value
        if not found:
            raise ConfigError(
                f"hooks: {type(obj).__name__} object has none of {', '.join(HOOK_NAMES)}"
            )
        return cls(**found)

    # -- safe calls -----------------------------------------------------------------------

    def request_start(self, environ: dict[str, Any]) -> None:
        hook = self.on_request_start
        if hook is not None:
            try:
                hook(environ)
            except Exception:
                _failed("on_request_start", environ.get("wsgiserver.request_id"))

    def request_end(self, record: RequestRecord) -> None:
        hook = self.on_request_end
        # No environ: the server refused the request before any app ran (docs/observability:
        # the hook is not called then; the access log still gets the record).
        if hook is not None and record.environ is not None:
            try:
                hook(record.environ, record)
            except Exception:
                _failed("on_request_end", record.request_id)

    def worker_start(self, server: object) -> None:
        if self.on_worker_start is not None:
            try:
                self.on_worker_start(server)
            except Exception:
                _failed("on_worker_start", None)

    def worker_exit(self, server: object) -> None:
        if self.on_worker_exit is not None:
            try:
                self.on_worker_exit(server)
            except Exception:
                _failed("on_worker_exit", None)


def _failed(name: str, request_id: object) -> None:
    if request_id:
        log.exception("[%s] the %s hook failed", request_id, name, extra={"request_id": request_id})
    else:
        log.exception("the %s hook failed", name)


def load_hooks(spec: str, *, app_dir: str | None = None) -> Hooks:
    """`--hooks module:object` (or just `module`) -> Hooks; every failure is a one-line
    ConfigError.

    `app_dir` is put on sys.path first (as for the app), so hooks can live next to it.
    """
    from wsgiserver.apploader import import_object

    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise ConfigError(f"hooks: {spec!r} is not module:object, e.g. myproject.hooks:hooks")
    module_name, attribute = match.groups()
    try:
        target = import_object(module_name, attribute or "", app_dir=app_dir)
    except AppLoadError as exc:
        # --hooks is an option: a module that is missing or fails to import is a bad
        # configuration (exit status 2), whatever the app's own loading would make of it.
        raise ConfigError(f"hooks: {exc}") from exc.__cause__
    return Hooks.from_object(target)
