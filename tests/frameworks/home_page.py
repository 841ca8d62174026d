"""The sample apps' home pages as a visitor sees them: styled, and linking every feature.

`check_home_page` loads `/?browser-style` in headless Chromium (the script is
`browser_apps.STYLE_SCRIPT`), reads the report the page wrote into itself, and checks that

- the app's own stylesheet applied: Chromium's defaults differ from every value checked (a
  black h1, a transparent body, a block list, square corners), so a stylesheet that did not
  load, or whose rules do not match the page, fails;
- every stylesheet and resource comes from the app itself (no CDN, nothing external);
- the feature cards link to exactly the expected features: in-page links to ids that exist,
  and every other link answers with the expected status;
- where a card promises byte ranges, a `Range` request for that link gets a 206 and the
  right bytes.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from tests.frameworks.conftest import load_in_chromium

STYLED = {
    "h1_color": "rgb(12, 34, 56)",
    "body_background": "rgb(246, 248, 250)",
    "features_display": "grid",
    "card_radius": "8px",
}
REPORT = re.compile(r'<pre id="browser-report">(.*?)</pre>', re.S)


def home_page_report(url: str, profile: Path) -> dict[str, Any]:
    dom = load_in_chromium(url + "/?browser-style", profile)
    match = REPORT.search(dom)
    assert match is not None, dom[-3000:]
    report: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return report


def check_home_page(
    url: str,
    profile: Path,
    features: dict[str, int | None],
    ranged: tuple[str, bytes] | None = None,
) -> None:
    """`features`: each card's link as the page writes it, and the status it answers (None
    for a link to a section of the page itself). `ranged`: a link that serves byte ranges,
    and its whole content."""
    report = home_page_report(url, profile)
    assert {key: report[key] for key in STYLED} == STYLED
    origin = urlsplit(url)[:2]
    external = [
        r for r in [*report["stylesheets"], *report["resources"]] if r and urlsplit(r)[:2] != origin
    ]
    assert not external, f"resources from elsewhere: {external}"
    assert report["stylesheets"], "the page has no stylesheet"
    assert report["links"] == list(features)
    for link, status in features.items():
        if status is None:
            assert link.startswith("#")
            assert link[1:] in report["ids"], f"{link} points to no element"
            continue
        response = requests.get(urljoin(url + "/", link), timeout=30)
        assert response.status_code == status, f"{link}: {response.status_code}"
    if ranged is not None:
        link, content = ranged
        part = requests.get(urljoin(url + "/", link), headers={"Range": "bytes=0-9"}, timeout=30)
        assert (part.status_code, part.content) == (206, content[:10])
