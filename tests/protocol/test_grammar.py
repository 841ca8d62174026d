"""The one definition of an RFC 9110 token, for text from apps and options too."""

from __future__ import annotations

import pytest

from wsgiserver.protocol.grammar import is_token


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Request-ID", True),
        ("x_request_id", True),
        ("!#$%&'*+-.^_`|~09azAZ", True),
        ("", False),
        ("X Request", False),
        ("X:Y", False),
        ("Ä", False),  # latin-1, but not a tchar
        ("\u0130", False),  # lower() of this is two characters: no Unicode rules apply
        ("X\n", False),
        ("\u0661\u0660", False),  # Arabic-Indic digits are not DIGIT
    ],
)
def test_is_token(text: str, expected: bool) -> None:
    assert is_token(text) is expected
