from __future__ import annotations

from apps.booking.models import SiteAppearance


def appearance_get() -> SiteAppearance:
    """The city's appearance; an unsaved default when a city has none yet (never fails a page)."""
    return SiteAppearance.objects.filter(pk=1).first() or SiteAppearance(pk=1)
