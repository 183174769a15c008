from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.http import HttpRequest
from django_tenants.signals import post_schema_sync

from apps.security.middleware import session_started
from apps.security.services import policy_ensure, roles_ensure
from tenants.db import current_schema


@receiver(post_schema_sync, dispatch_uid="security.defaults_for_new_city")
def defaults_for_new_city(sender: Any, **kwargs: Any) -> None:
    roles_ensure()
    policy_ensure()


@receiver(user_logged_in, dispatch_uid="security.session_started")
def _session_started(
    sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any
) -> None:
    if request is not None and hasattr(request, "session"):
        session_started(request, user)


@receiver(post_migrate, dispatch_uid="security.defaults_after_migrate")
def defaults_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    """A deploy that adds a role or a permission gives it to every existing city (idempotent).

    The template stays empty (it is cloned) and the vendor's public schema has no city roles.
    """
    if getattr(app_config, "label", None) != "security":
        return
    if current_schema() in ("public", settings.TENANT_BASE_SCHEMA):
        return
    # Other apps' permissions (booking's, issuance's) are created by their own post_migrate, which may come after
    # this one: make them now, so the roles get every permission they name.
    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0)
    roles_ensure()
    policy_ensure()
