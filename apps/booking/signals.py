from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from django_tenants.signals import post_schema_sync

from apps.booking.calendar.services import appearance_ensure, defaults_ensure
from tenants.db import current_schema


@receiver(post_migrate, dispatch_uid="booking.defaults_after_migrate")
def defaults_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    """Cities that existed before booking get its defaults on the deploy that brings it (idempotent)."""
    if getattr(app_config, "label", None) != "booking" or current_schema() in (
        "public",
        settings.TENANT_BASE_SCHEMA,
    ):
        return
    appearance_ensure()
    defaults_ensure()


@receiver(post_schema_sync, dispatch_uid="booking.defaults_for_new_city")
def defaults_for_new_city(sender: Any, **kwargs: Any) -> None:
    appearance_ensure()
    defaults_ensure()


def _context_changed(sender: Any, **kwargs: Any) -> None:
    from apps.booking.resident.page_cache import resident_context_changed

    resident_context_changed()


# What residents' pages read from the cached resident context (page_cache): forget it when any of it changes.
for _model in ("BookingSettings", "SiteAppearance", "Purpose", "CounterGroup"):
    post_save.connect(
        _context_changed, sender=f"booking.{_model}", dispatch_uid=f"booking.context.save.{_model}"
    )
    post_delete.connect(
        _context_changed, sender=f"booking.{_model}", dispatch_uid=f"booking.context.delete.{_model}"
    )
