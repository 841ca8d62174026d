"""Listening sockets: creating them from parsed bind addresses, and accepting.

Owns: socket options for listeners (SO_REUSEPORT, unix socket mode and owner), adopting an
inherited socket, and reporting a failed bind as one clear `BindError`. The bind syntax itself
is `wsgiserver.config.bind`. Must not: poll or serve connections.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import sys
from typing import Any

from wsgiserver.config.bind import BindAddress

DEFAULT_BACKLOG = 2048


def create_listener(
    address: BindAddress,
    backlog: int = DEFAULT_BACKLOG,
    *,
    reuse_port: bool = False,
    unix_mode: str | None = None,
    unix_owner: str | None = None,
) -> socket.socket:
    """Bind and listen; raise BindError with a one-line reason on failure.

    `fd://N` adopts an inherited, already bound socket. A unix socket gets its mode (octal
    text) and owner (`user[:group]`) after bind and before listen, so no client can connect
    while it still has the umask's permissions.
    """
    from wsgiserver.errors import BindError

    try:
        if address.fd is not None:
            sock = _inherited_listener(address.fd)
        elif address.path is not None:
            sock = _unix_listener(address.path)
            try:
                _set_unix_permissions(address.path, unix_mode, unix_owner)
            except BaseException:
                sock.close()
                with contextlib.suppress(OSError):
                    os.unlink(address.path)
                raise
        else:
            sock = _tcp_listener(address.host, address.port, reuse_port)
        sock.listen(backlog)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use"
        raise BindError(f"cannot listen on {address}: {reason}") from None
    sock.setblocking(False)
    return sock


def _inherited_listener(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise OSError(errno.ENOTSOCK, "not a stream socket")
    return sock


def _set_unix_permissions(path: str, mode: str | None, owner: str | None) -> None:
    if mode is not None:
        os.chmod(path, int(mode, 8))
    if owner is not None:
        uid, gid = _resolve_owner(owner)
        os.chown(path, uid, gid)


def _resolve_owner(owner: str) -> tuple[int, int]:
    """`user[:group]` (names or numeric ids) -> (uid, gid); -1 leaves the group unchanged."""
    import grp
    import pwd

    user, _, group = owner.partition(":")
    try:
        uid = int(user) if user.isdigit() else pwd.getpwnam(user).pw_uid
    except KeyError:
        raise OSError(errno.EINVAL, f"unknown user {user!r}") from None
    try:
        gid = -1 if not group else int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise OSError(errno.EINVAL, f"unknown group {group!r}") from None
    return uid, gid


def _tcp_listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"unknown host {host!r}") from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if sys.platform != "win32":
            # Restarting must not wait for TIME_WAIT connections of the previous process.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise OSError(errno.ENOPROTOOPT, "SO_REUSEPORT is not available here")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _unix_listener(path: str) -> socket.socket:
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a dead server; refuse if a server still answers on it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, "a file that is not a socket exists at this path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    else:
        raise OSError(errno.EADDRINUSE, "address already in use")
    finally:
        probe.close()


def listener_address(sock: socket.socket) -> BindAddress:
    """The address a listener is actually bound to (the real port when 0 was asked)."""
    name = sock.getsockname()
    if sock.family == getattr(socket, "AF_UNIX", None):
        return BindAddress(path=name if isinstance(name, str) else name.decode())
    return BindAddress(host=name[0], port=name[1])


def accept(listener: socket.socket, family: int) -> tuple[socket.socket, Any]:
    """`listener.accept()` for a listener of address `family` (a plain int), without its
    cost: the standard method converts the listener's family and type to enums for every
    connection, a measurable share of a `Connection: close` request. Raises what
    `accept()` raises."""
    fd, peer = listener._accept()  # type: ignore[attr-defined]  # the C half of accept()
    try:
        return socket.socket(family, socket.SOCK_STREAM, 0, fd), peer
    except BaseException:
        os.close(fd)
        raise
