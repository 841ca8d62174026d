"""Observability: what is recorded and exported about requests and processes.

Owns: access records and their formats (`accesslog`), the metrics counters shared across
workers (`metrics`), the instrumentation hooks (`hooks`), logging set-up (`logconfig`) and
how often a lasting condition is warned about (`throttle`).
Must not: decide anything about a request; the layers that serve requests call into it.
"""

from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.observability.hooks import Hooks

__all__ = ["Hooks", "RequestRecord"]
