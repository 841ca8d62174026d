"""The WSGI types every layer shares (PEP 3333), so none imports the gateway for a type.

Owns: type aliases only. Must not: import anything from wsgiserver.

`wsgiref.types` has precise protocols, but its `StartResponse` returns a write() typed
`Callable[[bytes], object]`; apps annotated with the common `Callable[..., ...]` spelling would
not check against it, so these aliases stay deliberately loose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
