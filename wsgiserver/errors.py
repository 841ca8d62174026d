"""The one error hierarchy of wsgiserver.

Owns: every exception the server raises on purpose, the HTTP status each one means, and the
exit status of a process that cannot start serving. Must not: format responses or log.
Exactly one place (the transport) turns an `HTTPError` into an error response; exceptions
only carry what it needs (status, reason, a short message).
"""

from __future__ import annotations

from typing import ClassVar

# Exit statuses of a process that stops before serving (README, "Errors at startup").
EXIT_CONFIG = 2  # a bad option or file, an address that cannot be bound (argparse's usage status)
EXIT_APP = 3  # the application cannot be loaded


class WSGIServerError(Exception):
    """Base class of every exception wsgiserver raises deliberately."""


class ConfigError(WSGIServerError):
    """An option has a bad value. The message names the option and, when known, its source.

    `options` are the names of the options the check involved (the option at fault, or the
    ones that conflict): the command line names where exactly those came from.
    """

    def __init__(self, message: str, *, options: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.options = options


class BindError(WSGIServerError):
    """A listening address cannot be bound (in use, not permitted, unknown host), or the
    server cannot start listening on it (no file descriptor left for its poller)."""


class AppLoadError(WSGIServerError):
    """The WSGI application named on the command line cannot be imported or built."""


class NotAWSGIApp(AppLoadError, TypeError):
    """What was given as the WSGI application is not callable.

    An `AppLoadError` for the command line (exit status 3) and a `TypeError` for the
    Python API (`Server(42)`), raised before anything is bound.
    """


class NoThreadError(WSGIServerError, OSError):
    """The system refused to start even one worker thread (a memory or process limit):
    the server cannot serve. An `OSError` too, like the refusals it reports."""


class ConnectionLost(WSGIServerError):
    """The peer went away or the socket failed; nothing more can be sent or received."""


class HTTPError(WSGIServerError):
    """An error that answers the client with `status` and closes the connection."""

    status: ClassVar[int] = 500
    reason: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.reason)
        self.detail = detail or self.reason

    @property
    def client_detail(self) -> str:
        """What the error response's body says: the detail, unless it may not be shown."""
        return self.detail


class ProtocolError(HTTPError):
    """The client sent something RFC 9110/9112 does not allow (or we chose not to accept)."""

    status = 400
    reason = "Bad Request"


class BadRequest(ProtocolError):
    """Malformed syntax or ambiguous framing (RFC 9112 section 2.2, 6.3)."""


class ClientRequestTimeout(ProtocolError):
    """The request head or body did not arrive in time (RFC 9110 section 15.5.9).

    Not to be confused with `RequestTimeout`, the exception raised in a stuck app thread.
    """

    status = 408
    reason = "Request Timeout"


class ContentTooLarge(ProtocolError):
    """The request body is larger than the configured limit (RFC 9110 section 15.5.14)."""

    status = 413
    reason = "Content Too Large"


class URITooLong(ProtocolError):
    """The request line is longer than the configured limit (RFC 9110 section 15.5.15)."""

    status = 414
    reason = "URI Too Long"


class ExpectationFailed(ProtocolError):
    """An `Expect` value other than `100-continue` (RFC 9110 section 10.1.1)."""

    status = 417
    reason = "Expectation Failed"


class HeaderFieldsTooLarge(ProtocolError):
    """Too many header fields, one too long, or the whole head too big (RFC 6585 section 5)."""

    status = 431
    reason = "Request Header Fields Too Large"


class UnsupportedTransferCoding(ProtocolError):
    """A transfer coding we do not implement (RFC 9112 section 6.1: SHOULD answer 501)."""

    status = 501
    reason = "Not Implemented"


class NotSupported(ProtocolError):
    """A request this server does not implement (RFC 9110 section 15.6.2), such as CONNECT
    over HTTP/2 (RFC 9113 section 8.5: a tunnel, which WSGI has no place for)."""

    status = 501
    reason = "Not Implemented"


class HTTPVersionNotSupported(ProtocolError):
    """A major protocol version other than 1 (RFC 9110 section 15.6.6)."""

    status = 505
    reason = "HTTP Version Not Supported"


class ServiceUnavailable(HTTPError):
    """The server is overloaded or shutting down (RFC 9110 section 15.6.4)."""

    status = 503
    reason = "Service Unavailable"


class GatewayTimeout(HTTPError):
    """The application did not answer within --request-timeout (RFC 9110 section 15.6.5)."""

    status = 504
    reason = "Gateway Timeout"


class ApplicationError(HTTPError):
    """The WSGI application broke PEP 3333 (bad status, headers, types or call order)."""

    status = 500
    reason = "Internal Server Error"

    @property
    def client_detail(self) -> str:
        # The detail quotes the app's own values (a header value may be a secret read with
        # its trailing newline): it goes to the error log, with the request id, not to the
        # client.
        return "the application failed; the server's error log says why"


class ResponseFramingError(WSGIServerError):
    """The application's body did not match the Content-Length it declared.

    Raised after the head is on the wire, so it cannot become an error response: the
    connection is closed instead (RFC 9112 section 6.3: the client sees an incomplete message).
    """


class RequestTimeout(BaseException):
    """Raised asynchronously in the app's thread when its request passed --request-timeout.

    The client has already been answered 504 (or its connection aborted). It derives from
    `BaseException`, like `KeyboardInterrupt`, so `except Exception` in the app does not
    swallow it; an app may catch it to clean up, and should then re-raise it.
    """
