from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django_tenants.signals import post_schema_sync

from apps.security.services import roles_ensure


@receiver(post_schema_sync, dispatch_uid="security.roles_for_new_city")
def roles_for_new_city(sender: Any, **kwargs: Any) -> None:
    roles_ensure()
