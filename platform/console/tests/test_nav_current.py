"""The console's menu says which section is shown: aria-current="page" on that entry only, on its sub-pages too."""

from __future__ import annotations

import re

from console.access import VendorRole
from console.tests.vendor import vendor_client


def _current(html: str) -> list[str]:
    nav = html[html.index('class="console-nav"') : html.index("</nav>", html.index('class="console-nav"'))]
    return re.findall(r'aria-current="page">([^<]+)</a>', nav)


def test_the_current_section_is_marked_and_only_it(db: None) -> None:
    operator = vendor_client(VendorRole.OPERATOR)
    assert _current(operator.get("/console/").content.decode()) == ["ホーム"]
    assert _current(operator.get("/console/cities/").content.decode()) == ["自治体"]
    assert _current(operator.get("/console/maintenance/new/").content.decode()) == ["メンテナンス"]
    assert _current(operator.get("/console/support/").content.decode()) == ["サポートアクセス"]
