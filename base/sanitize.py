"""Rich text that cities and the vendor publish (announcements), cleaned with nh3 before it is stored or shown.

nh3 wraps ammonia, a maintained HTML sanitiser that parses like a browser (html5ever), so the allow-list below is
what survives, whatever the markup tricks. The list is what an announcement needs and nothing that can run or
restyle the page: no script, style, img, iframe, form, class, style or on* attributes.
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3"})
ALLOWED_URL_SCHEMES = ("http:", "https:", "mailto:")
LINK_REL = "noopener noreferrer"


def _href_filter(tag: str, attribute: str, value: str) -> str | None:
    # Only absolute http(s) and mailto links: nh3's scheme list lets relative URLs through, and a relative or
    # scheme-relative ("//host") link in an announcement would point wherever the page happens to be served.
    if tag == "a" and attribute == "href":
        href = value.strip()
        return href if href.lower().startswith(ALLOWED_URL_SCHEMES) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}},
    attribute_filter=_href_filter,
    url_schemes={scheme.rstrip(":") for scheme in ALLOWED_URL_SCHEMES},
    link_rel=LINK_REL,
    strip_comments=True,
)


def sanitize_rich_text(html: str) -> str:
    """The safe subset of `html`: allowed tags keep their text, everything else is dropped (script with its text)."""
    return _CLEANER.clean(html)
