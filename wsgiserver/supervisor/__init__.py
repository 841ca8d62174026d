"""The pre-forking supervisor (POSIX): worker processes, signals, reloads and worker health.

Owns: forking workers that each run a `Server` on inherited sockets (`supervisor`, `worker`),
their messages to the supervisor, file watching for `--reload` (`reloader`), systemd socket
activation and notification (`systemd`), and the pid file (`pidfile`). Must not: speak HTTP.
"""
