"""The framework tests' HTTP client, over HTTP/1.1 or HTTP/2, with the requests API.

The end-to-end checks are written once, against requests. `Client(http2=False)` is requests
itself (`get`, `post`, ..., `Session`); `Client(http2=True)` is the same API whose sessions
send through `H2Adapter`: httpx with HTTP/2 only (h2c with prior knowledge for http:// URLs,
RFC 9113 section 3.3; the servers trust 127.0.0.1 for h2c by default). Redirects, cookies
and sessions stay requests' own, so a check behaves the same over both protocols; what
differs by protocol (Transfer-Encoding exists only on HTTP/1.1) is asked of `http_version`.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx
import requests
import requests.adapters
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

# Connection-specific fields (RFC 9113 section 8.2.2) that requests adds for HTTP/1.1.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
BLOCK = 1 << 16


class _Raw:
    """The `response.raw` requests reads an httpx response through (urllib3's role)."""

    def __init__(self, response: httpx.Response, adapter: H2Adapter) -> None:
        self._response = response
        self._adapter = adapter
        self._chunks = response.iter_bytes()
        self.version = 20
        self.status = response.status_code
        self.reason = response.reason_phrase
        # requests reads Set-Cookie through `_original_response.msg` (http.cookiejar's API).
        message = http.client.HTTPMessage()
        for name, value in response.headers.multi_items():
            message[name] = value
        self._original_response = self
        self.msg = message
        self._closed = False

    def stream(self, amt: int | None = None, decode_content: bool = True) -> Iterator[bytes]:
        """The body as the frames bring it (decoded, as urllib3 gives it to requests)."""
        yield from self._chunks
        self.close()

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        return b"".join(self._chunks)

    def release_conn(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()
            self._adapter.response_closed()


def _body(body: Any) -> bytes | Iterable[bytes] | None:
    """A prepared request's body as httpx takes it: bytes, or an iterator of blocks (a
    generator for requests' chunked uploads, or a file-like object read block by block)."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        return iter(lambda: body.read(BLOCK), b"")
    return (block.encode() if isinstance(block, str) else block for block in body)


class H2Adapter(requests.adapters.BaseAdapter):
    """Sends requests' prepared requests over one HTTP/2 connection (httpx), and builds
    requests' responses from the replies, the way HTTPAdapter does from urllib3's."""

    def __init__(self) -> None:
        super().__init__()
        self._client = httpx.Client(http1=False, http2=True, timeout=120)
        self._open = 0  # streamed responses not closed yet
        self._closing = False

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        headers = [
            (k, v if isinstance(v, str) else v.decode("latin-1"))
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP
        ]
        outgoing = self._client.build_request(
            str(request.method), str(request.url), headers=headers, content=_body(request.body)
        )
        reply = self._client.send(outgoing, stream=True)
        assert reply.http_version == "HTTP/2", reply.http_version
        self._open += 1
        raw = _Raw(reply, self)
        response = requests.Response()
        response.status_code = reply.status_code
        response.headers = CaseInsensitiveDict(_joined(reply.headers))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = reply.reason_phrase
        response.url = str(request.url)
        response.request = request
        extract_cookies_to_jar(response.cookies, request, raw)
        return response  # the session reads the body now unless stream=True

    def response_closed(self) -> None:
        self._open -= 1
        if self._closing and not self._open:
            self._client.close()

    def close(self) -> None:
        """requests' top-level functions close their session before a streamed body is read:
        the connection closes once the last open response is closed."""
        self._closing = True
        if not self._open:
            self._client.close()


def _joined(headers: httpx.Headers) -> Mapping[str, str]:
    """Repeated fields joined with ", ", as urllib3 presents them to requests."""
    joined: dict[str, str] = {}
    for name, value in headers.multi_items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


class Client:
    """requests' API (`get`, `post`, `put`, `delete`, `head`, `Session`) over HTTP/1.1, or
    over HTTP/2 with `http2=True`; every call outside a session uses a new connection."""

    def __init__(self, *, http2: bool = False) -> None:
        self.http2 = http2

    def Session(self) -> requests.Session:  # noqa: N802 - the requests name, on purpose
        session = requests.Session()
        if self.http2:
            session.mount("http://", H2Adapter())
        return session

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        with self.Session() as session:
            return session.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)


HTTP1 = Client()
HTTP2 = Client(http2=True)


def http_version(response: requests.Response) -> int:
    """11 or 20: the protocol the response came over (urllib3's and our raw's `version`)."""
    return int(response.raw.version)


def assert_streamed(response: requests.Response) -> None:
    """A response sent as the app produced it, without a length: chunked on HTTP/1.1, DATA
    frames up to END_STREAM on HTTP/2 (where Transfer-Encoding does not exist)."""
    assert "Content-Length" not in response.headers
    expected = "chunked" if http_version(response) == 11 else None
    assert response.headers.get("Transfer-Encoding") == expected
