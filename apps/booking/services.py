from __future__ import annotations

from apps.booking.models import SiteAppearance


def appearance_ensure() -> SiteAppearance:
    """The city's default appearance row, created once. Idempotent."""
    appearance, _created = SiteAppearance.objects.get_or_create(pk=1)
    return appearance


def appearance_update(*, primary_color: str, phone: str) -> SiteAppearance:
    appearance = appearance_ensure()
    appearance.primary_color = primary_color
    appearance.phone = phone
    appearance.full_clean()
    appearance.save()
    return appearance
