"""TLS with the standard library `ssl` module: the server context and the per-connection environ.

Owns: building the one `ssl.SSLContext` a server uses (certificates loaded once, at startup,
with a one-line `ConfigError` naming the file on failure), client-certificate verification
(mTLS), the minimum protocol version, ALPN, and the TLS variables a connection adds to every
environ. Must not: touch connected sockets (the transport does the non-blocking handshake).
"""

from __future__ import annotations

import ssl
from typing import Any

from wsgiserver.errors import ConfigError

VERIFY_MODES = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(
    certfile: str,
    keyfile: str | None = None,
    password: str | None = None,
    *,
    ca_certs: str | None = None,
    verify_client: str = "none",
    min_version: str = "1.2",
    http2: bool = False,
) -> ssl.SSLContext:
    """A server-side context; raises ConfigError (one line, naming the file) on failure.

    ALPN offers "http/1.1", and first "h2" with `http2` (RFC 9113 section 3.2; HTTP/2 over
    TLS also needs TLS 1.2 or later, which is our minimum, section 9.2).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[min_version]
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    key = keyfile or certfile

    def no_password() -> str:
        # Without this OpenSSL would prompt on the terminal for an encrypted key.
        raise ConfigError(f"keyfile: {key} is encrypted; give keyfile_password")

    try:
        context.load_cert_chain(
            certfile, keyfile, password if password is not None else no_password
        )
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or str(exc)
            if password is not None and _is_encrypted(key):
                raise ConfigError(f"keyfile_password: wrong password for {key}") from None
            raise ConfigError(
                f"certfile/keyfile: cannot load {certfile}"
                + (f" with key {keyfile}" if keyfile else "")
                + f": {reason}"
            ) from None
        raise ConfigError(
            f"certfile/keyfile: cannot read {exc.filename or certfile}: {exc.strerror or exc}"
        ) from None
    if ca_certs is not None:
        try:
            context.load_verify_locations(cafile=ca_certs)
        except OSError as exc:
            why = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
            raise ConfigError(f"ca_certs: cannot load {ca_certs}: {why or exc}") from None
    context.verify_mode = VERIFY_MODES[verify_client]
    return context


def _is_encrypted(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return b"ENCRYPTED" in file.read(8192)
    except OSError:
        return False


def connection_environ(sock: ssl.SSLSocket) -> dict[str, Any]:
    """What a TLS connection adds to each environ (computed once, after the handshake).

    `HTTPS` ("on"), `SSL_PROTOCOL`, `SSL_CIPHER`; with a verified client certificate also
    `SSL_CLIENT_CERT` (PEM), `SSL_CLIENT_S_DN` (RFC 4514-like string, most specific last as
    in the certificate) and `wsgiserver.peer_cert` (the `ssl.SSLSocket.getpeercert()` dict).
    """
    environ: dict[str, Any] = {"HTTPS": "on"}
    version = sock.version()
    if version is not None:
        environ["SSL_PROTOCOL"] = version
    cipher = sock.cipher()
    if cipher is not None:
        environ["SSL_CIPHER"] = cipher[0]
    der = sock.getpeercert(binary_form=True)
    if der:
        environ["SSL_CLIENT_CERT"] = ssl.DER_cert_to_PEM_cert(der)
        peer = sock.getpeercert()
        if peer:
            environ["wsgiserver.peer_cert"] = peer
            subject: Any = peer.get("subject", ())
            environ["SSL_CLIENT_S_DN"] = ",".join(
                f"{_SHORT_NAMES.get(pair[0], pair[0])}={pair[1]}"
                for rdn in subject
                for pair in rdn
                if len(pair) == 2
            )
    return environ
