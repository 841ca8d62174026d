"""The forwarded logic, table-driven: trust, Forwarded vs X-Forwarded-*, spoofing, IPv6."""

from __future__ import annotations

from typing import Any

import pytest

from wsgiserver.config.options import Config
from wsgiserver.errors import ConfigError
from wsgiserver.gateway.forwarded import ProxyTrust, parse_allow_ips, parse_forwarded, parse_node

PEER = ("127.0.0.1", 50000)
OUTSIDER = ("203.0.113.50", 40000)


def environ_from(headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REMOTE_ADDR": "peer",
        "REMOTE_PORT": "50000",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SCRIPT_NAME": "",
        "HTTP_HOST": "internal:8000",
        "wsgi.url_scheme": "http",
    }
    environ.update(headers)
    return environ


CASES: list[tuple[str, str, tuple[str, int] | None, dict[str, str], dict[str, Any]]] = [
    # (id, allow, peer, headers, expected environ subset)
    ("no-headers", "127.0.0.1", PEER, {}, {"REMOTE_ADDR": "peer", "HTTP_HOST": "internal:8000"}),
    (
        "xff-simple",
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7"},
        {"REMOTE_ADDR": "198.51.100.7", "REMOTE_PORT": None},
    ),
    (
        "xff-untrusted-peer-ignored",
        "127.0.0.1",
        OUTSIDER,
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_FORWARDED_PROTO": "https"},
        {"REMOTE_ADDR": "peer", "wsgi.url_scheme": "http", "HTTP_X_FORWARDED_FOR": "198.51.100.7"},
    ),
    (
        "xff-spoof-by-prepending",  # the client sent "1.2.3.4"; our proxy appended the client
        "127.0.0.1,10.0.0.0/8",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7, 10.1.2.3"},
        {"REMOTE_ADDR": "198.51.100.7"},
    ),
    (
        "xff-all-trusted-takes-leftmost",
        "127.0.0.1,10.0.0.0/8",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "10.9.9.9, 10.1.2.3"},
        {"REMOTE_ADDR": "10.9.9.9"},
    ),
    (
        "xff-garbage-keeps-peer",
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "<script>"},
        {"REMOTE_ADDR": "peer", "REMOTE_PORT": "50000"},
    ),
    (
        "xff-ipv6-and-port",
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "[2001:db8::1]:4711"},
        {"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "4711"},
    ),
    (
        "xff-bare-ipv6",
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_FOR": "2001:db8::2"},
        {"REMOTE_ADDR": "2001:db8::2"},
    ),
    (
        "x-proto-host-port-prefix",
        "127.0.0.1",
        PEER,
        {
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "example.com",
            "HTTP_X_FORWARDED_PORT": "8443",
            "HTTP_X_FORWARDED_PREFIX": "/app/",
        },
        {
            "wsgi.url_scheme": "https",
            "HTTP_HOST": "example.com",
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "8443",
            "SCRIPT_NAME": "/app",
        },
    ),
    (
        "x-proto-default-port",
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "example.com"},
        {"SERVER_PORT": "443", "SERVER_NAME": "example.com"},
    ),
    (
        "x-last-value-wins",  # a client-sent value first, our proxy's last
        "127.0.0.1",
        PEER,
        {"HTTP_X_FORWARDED_PROTO": "http, https", "HTTP_X_FORWARDED_HOST": "evil, good.test"},
        {"wsgi.url_scheme": "https", "HTTP_HOST": "good.test"},
    ),
    (
        "x-invalid-values-ignored",
        "127.0.0.1",
        PEER,
        {
            "HTTP_X_FORWARDED_PROTO": "gopher",
            "HTTP_X_FORWARDED_HOST": "bad host/x",
            "HTTP_X_FORWARDED_PREFIX": "no-slash",
        },
        {"wsgi.url_scheme": "http", "HTTP_HOST": "internal:8000", "SCRIPT_NAME": ""},
    ),
    (
        "forwarded-basic",
        "127.0.0.1",
        PEER,
        {"HTTP_FORWARDED": "for=192.0.2.60;proto=https;host=example.org;by=203.0.113.43"},
        {
            "REMOTE_ADDR": "192.0.2.60",
            "wsgi.url_scheme": "https",
            "HTTP_HOST": "example.org",
            "SERVER_PORT": "443",
        },
    ),
    (
        "forwarded-quoted-ipv6",
        "127.0.0.1",
        PEER,
        {"HTTP_FORWARDED": 'For="[2001:db8:cafe::17]:4711"'},
        {"REMOTE_ADDR": "2001:db8:cafe::17", "REMOTE_PORT": "4711"},
    ),
    (
        "forwarded-obfuscated",
        "127.0.0.1",
        PEER,
        {"HTTP_FORWARDED": "for=_hidden, for=_SEVKISEK"},
        {"REMOTE_ADDR": "_SEVKISEK", "REMOTE_PORT": None},
    ),
    (
        "forwarded-chain-skips-trusted",
        "127.0.0.1,10.0.0.0/8",
        PEER,
        {
            "HTTP_FORWARDED": "for=1.2.3.4;proto=http, for=198.51.100.1;proto=https;host=a.test,"
            ' for="10.0.0.2:99";proto=http;host=internal'
        },
        {"REMOTE_ADDR": "198.51.100.1", "wsgi.url_scheme": "https", "HTTP_HOST": "a.test"},
    ),
    (
        "forwarded-wins-over-x",
        "127.0.0.1",
        PEER,
        {"HTTP_FORWARDED": "for=192.0.2.1", "HTTP_X_FORWARDED_FOR": "192.0.2.99"},
        {"REMOTE_ADDR": "192.0.2.1"},
    ),
    (
        "forwarded-malformed-ignored",
        "127.0.0.1",
        PEER,
        {"HTTP_FORWARDED": "for=192.0.2.1;for=192.0.2.2", "HTTP_X_FORWARDED_FOR": "192.0.2.9"},
        {"REMOTE_ADDR": "peer"},
    ),
    (
        "unix-peer-is-trusted",
        "127.0.0.1",
        None,
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7"},
        {"REMOTE_ADDR": "198.51.100.7"},
    ),
    (
        "star-trusts-all",
        "*",
        OUTSIDER,
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7"},
        {"REMOTE_ADDR": "198.51.100.7"},
    ),
    (
        "ipv4-mapped-peer",
        "127.0.0.1",
        ("::ffff:127.0.0.1", 1),
        {"HTTP_X_FORWARDED_FOR": "198.51.100.8"},
        {"REMOTE_ADDR": "198.51.100.8"},
    ),
    (
        "ipv6-network",
        "2001:db8::/32",
        ("2001:db8::5", 1),
        {"HTTP_X_FORWARDED_FOR": "198.51.100.9"},
        {"REMOTE_ADDR": "198.51.100.9"},
    ),
]


@pytest.mark.parametrize(
    ("allow", "peer", "headers", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_apply(
    allow: str,
    peer: tuple[str, int] | None,
    headers: dict[str, str],
    expected: dict[str, Any],
) -> None:
    environ = environ_from(headers)
    ProxyTrust(allow).apply(environ, peer)
    for key, value in expected.items():
        assert environ.get(key) == value, key


def test_strip_removes_untrusted_forwarding_fields_only() -> None:
    headers = {"HTTP_FORWARDED": "for=1.2.3.4", "HTTP_X_FORWARDED_HOST": "evil", "HTTP_A": "b"}
    environ = environ_from(headers)
    ProxyTrust("127.0.0.1", strip=True).apply(environ, OUTSIDER)
    assert "HTTP_FORWARDED" not in environ
    assert "HTTP_X_FORWARDED_HOST" not in environ
    assert environ["HTTP_A"] == "b"
    trusted = environ_from(headers)
    ProxyTrust("127.0.0.1", strip=True).apply(trusted, PEER)
    assert trusted["REMOTE_ADDR"] == "1.2.3.4"


def test_parse_forwarded() -> None:
    assert parse_forwarded('for="_gazonk"') == [{"for": "_gazonk"}]
    assert parse_forwarded("for=192.0.2.43, for=198.51.100.17;by=203.0.113.60") == [
        {"for": "192.0.2.43"},
        {"for": "198.51.100.17", "by": "203.0.113.60"},
    ]
    assert parse_forwarded('for="a,b;c"') == [{"for": "a,b;c"}]
    assert parse_forwarded("for") == []
    assert parse_forwarded('for="unterminated') == []


@pytest.mark.parametrize(
    ("text", "obfuscated", "expected"),
    [
        ("192.0.2.1", False, ("192.0.2.1", None)),
        ("192.0.2.1:80", False, ("192.0.2.1", "80")),
        ("192.0.2.1:99999", False, None),
        ("[::1]", False, ("::1", None)),
        ("[::1]x", False, None),
        ("[1.2.3.4]:5", False, None),
        ("unknown", False, None),
        ("unknown", True, ("unknown", None)),
        ("_x:_y", True, ("_x", "_y")),
        ("example.com", True, None),
        ("", True, None),
    ],
)
def test_parse_node(text: str, obfuscated: bool, expected: tuple[str, str | None] | None) -> None:
    assert parse_node(text, obfuscated=obfuscated) == expected


def test_allow_ips_parsing_and_config_validation() -> None:
    assert parse_allow_ips("*") == (True, ())
    trust_all, networks = parse_allow_ips(" 10.0.0.0/8 , ::1 ")
    assert not trust_all
    assert [str(n) for n in networks] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        Config(forwarded_allow_ips="10.0.0.0/8,nonsense")
    assert ProxyTrust("127.0.0.1").trusts("127.0.0.1")
    assert not ProxyTrust("127.0.0.1").trusts("not an ip")
