"""The support session's banner and read-only flag on a city's pages (registered in settings' TEMPLATES).

`SupportSessionMiddleware` keeps the grant it checked on the request; a page rendered for that request gets
`support_grant` (the banner in base.html: until when, and what the grant opens) and `read_only` (the staff
templates leave out the controls a support session could only send to be refused). Other requests get neither.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.support.middleware import SUPPORT_GRANT_ATTR


def support_session(request: HttpRequest) -> dict[str, Any]:
    grant = getattr(request, SUPPORT_GRANT_ATTR, None)
    if grant is None:
        return {}
    return {"support_grant": grant, "read_only": True}
