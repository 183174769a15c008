from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django_tenants.signals import post_schema_sync

from apps.issuance.cards.services import defaults_ensure
from tenants.db import current_schema


@receiver(post_migrate, dispatch_uid="issuance.defaults_after_migrate")
def defaults_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    """Cities that existed before issuance get its defaults on the deploy that brings it (idempotent)."""
    if getattr(app_config, "label", None) != "issuance" or current_schema() in (
        "public",
        settings.TENANT_BASE_SCHEMA,
    ):
        return
    from django.db import connection

    from apps.issuance.models import IssuanceSettings

    # Migrating backwards (e.g. `migrate booking <older>`, which unapplies issuance with it) leaves no table here.
    if IssuanceSettings._meta.db_table not in connection.introspection.table_names():
        return
    defaults_ensure()


@receiver(post_schema_sync, dispatch_uid="issuance.defaults_for_new_city")
def defaults_for_new_city(sender: Any, **kwargs: Any) -> None:
    defaults_ensure()
