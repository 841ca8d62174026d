"""The in-process server: listeners, the poller, worker threads and graceful shutdown.

Owns: binding and accepting (`listeners`), the poller and parked connections with their
deadlines (`poller`, `parking`), the thread pool, what each connection is served with
(`connections`), the admin listener (`admin`), and the `Server` that ties them together
(`server`). Must not: fork or install signal handlers (the supervisor does), nor parse HTTP
(the protocol layer does).
"""

from wsgiserver.server.server import ProcessRole, Server, Timing, serve

__all__ = ["ProcessRole", "Server", "Timing", "serve"]
