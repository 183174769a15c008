from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_tenants.signals import post_schema_sync

from apps.booking.services import appearance_ensure, defaults_ensure


@receiver(post_schema_sync, dispatch_uid="booking.defaults_for_new_city")
def defaults_for_new_city(sender: Any, **kwargs: Any) -> None:
    appearance_ensure()
    defaults_ensure()
