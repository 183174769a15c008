from __future__ import annotations

from django.db import connection

from apps.booking.models import SiteAppearance


def appearance_get() -> SiteAppearance:
    """The city's appearance; an unsaved default when a city has none yet (never fails a page)."""
    return SiteAppearance.objects.filter(pk=1).first() or SiteAppearance(pk=1)


# The city as texts sent without a request name it (mails, notice letters): its own address, phone and name.
def city_base_url() -> str:
    """The city's own address for links in mails sent without a request (its primary domain)."""
    tenant = getattr(connection, "tenant", None)
    primary = getattr(tenant, "get_primary_domain", None)  # schema_context() sets a FakeTenant without it
    domain = primary() if callable(primary) else None
    host = domain.domain if domain is not None else "localhost"
    scheme = "http" if host == "localhost" or host.endswith(".localhost") else "https"
    return f"{scheme}://{host}"


def city_phone() -> str:
    tenant = getattr(connection, "tenant", None)
    return appearance_get().phone or str(getattr(tenant, "contact_phone", "") or "")


def city_name(language: str) -> str:
    tenant = getattr(connection, "tenant", None)
    display_name = getattr(tenant, "display_name", None)
    return str(display_name(language)) if callable(display_name) else ""
