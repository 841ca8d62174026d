"""Listening sockets: creating them from parsed bind addresses, and accepting.

Owns: socket options for listeners (SO_REUSEPORT, unix socket mode and owner, the stop gate
below), adopting an inherited socket, and reporting a failed bind as one clear `BindError`.
The bind syntax itself is `wsgiserver.config.bind`. Must not: poll or serve connections.

The stop gate. Closing a listening TCP socket resets every connection still queued in it, and
a connection can be queued at any moment until the close: "accept until the queue is empty,
then close" always leaves a window in which a client completes its handshake, sends its
request and is reset. `gate()` closes that window on Linux: a classic BPF socket filter that
drops incoming SYN segments, so the kernel stops completing new handshakes (the client
retransmits its SYN and is refused once the socket is closed) while the connections already
queued, and handshakes already under way, stay acceptable. The filter belongs to the socket,
so every process sharing it (the supervisor's workers) sees it: `is_gated()`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
import sys
from typing import Any

from wsgiserver.config.bind import BindAddress
from wsgiserver.config.conversions import is_whole_number


def create_listener(
    address: BindAddress,
    backlog: int,
    *,
    reuse_port: bool = False,
    unix_mode: str | None = None,
    unix_owner: str | None = None,
) -> socket.socket:
    """Bind and listen with `backlog` (`Config.backlog`, the one default); raise BindError
    with a one-line reason on failure.

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
        uid, gid = resolve_owner(owner)
        os.chown(path, uid, gid)


def resolve_owner(owner: str) -> tuple[int, int]:
    """`user[:group]` (names or numeric ids) -> (uid, gid); -1 leaves the group unchanged.
    OSError for a name this machine does not know. Ids are ASCII digits only
    (`is_whole_number`): `int()` took a full-width zero for root."""
    import grp
    import pwd

    user, _, group = owner.partition(":")
    try:
        uid = int(user) if is_whole_number(user) else pwd.getpwnam(user).pw_uid
    except KeyError:
        raise OSError(errno.EINVAL, f"unknown user {user!r}") from None
    try:
        if not group:
            gid = -1
        else:
            gid = int(group) if is_whole_number(group) else grp.getgrnam(group).gr_gid
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


# SO_ATTACH_FILTER (getsockopt: SO_GET_FILTER) in Linux's asm-generic/socket.h; the socket
# module does not name it.
_SO_ATTACH_FILTER = 26
# A classic BPF program run on each segment reaching the listener, with the TCP header at
# offset 0: load the flags byte (offset 13), keep SYN and ACK, and drop the segment (return
# 0) when only SYN is set; keep every other segment whole. ACKs completing a handshake that
# began before the gate pass, so those connections are queued and served, not reset.
_SYN_DROP = (
    (0x30, 0, 0, 13),  # BPF_LD | BPF_B | BPF_ABS: A = tcp[13]
    (0x54, 0, 0, 0x12),  # BPF_ALU | BPF_AND | BPF_K: A &= SYN | ACK
    (0x15, 0, 1, 0x02),  # BPF_JMP | BPF_JEQ | BPF_K: if A == SYN: next, else skip one
    (0x06, 0, 0, 0),  # BPF_RET | BPF_K: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # BPF_RET | BPF_K: keep the whole segment
)


def gate(sock: socket.socket) -> bool:
    """Stop `sock` (a listening TCP socket) from completing new handshakes; False if this
    platform cannot (the caller then simply closes it: the old, racy way).

    Queued connections stay acceptable. Irreversible short of closing the socket: only for
    a socket this process bound and is about to close for good (never one inherited from
    systemd or fd://, which outlives us and would refuse the next server's clients).
    """
    if not sys.platform.startswith("linux") or sock.family not in (
        socket.AF_INET,
        socket.AF_INET6,
    ):
        return False
    try:
        import ctypes  # a pointer to the program is what the kernel takes
    except ImportError:  # a Python built without ctypes
        return False
    code = b"".join(struct.pack("@HBBI", *op) for op in _SYN_DROP)
    program = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(_SYN_DROP), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def queue_is_ours(sock: socket.socket) -> bool:
    """Closing `sock` while stopping, must this process first answer what is queued in it?

    Yes when no other process will: the server as a whole is stopping (the socket is gated,
    or its unix socket file was removed), or this platform cannot gate (so it cannot tell).
    No when the socket lives on elsewhere: a worker retiring in a reload (the other workers
    accept from the same queue), or a socket systemd passed (it keeps the queue for the next
    server).
    """
    if sock.family == getattr(socket, "AF_UNIX", None):
        path = sock.getsockname()
        return not isinstance(path, str) or not path or not os.path.exists(path)
    return is_gated(sock) or not sys.platform.startswith("linux")


def is_gated(sock: socket.socket) -> bool:
    """True if a socket filter is attached to `sock` (by `gate()`, here or in a parent)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # SO_GET_FILTER answers with the program, its length counted in instructions.
        return bool(sock.getsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, 512))
    except OSError:
        return False
