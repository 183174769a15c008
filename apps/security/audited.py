"""Audited writes of configuration rows, shared by every app's settings pages (booking's counters and purposes,
issuance's documents and reasons, ...): lock, validate, save, and record before/after in one transaction."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.roles import ensure_permission

M = TypeVar("M", bound=models.Model)


def config_picture(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """A JSON-friendly picture of `fields` for the audit log's before/after (foreign keys as their ids)."""
    result: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        result[name] = value.pk if isinstance(value, models.Model) else value
    return result


def audited_save(
    *,
    instance: M,
    fields: list[str],
    values: dict[str, Any],
    action: str,
    permission: str,
    actor: Actor,
) -> M:
    """Apply the `values` given (a subset of `fields` is fine) to `instance` (new, or locked again here), validate
    (ValidationError), save, and audit the picture of `fields` before and after. Needs `permission`."""
    ensure_permission(actor, permission)
    with transaction.atomic():
        creating = instance.pk is None
        if not creating:
            instance = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
        before = None if creating else config_picture(instance, fields)
        for name in fields:
            if name in values:
                setattr(instance, name, values[name])
        instance.full_clean()
        instance.save()
        audit_record(
            action=action,
            actor=actor,
            target=f"{type(instance).__name__}:{instance.pk}",
            summary=str(instance),
            before=before,
            after=config_picture(instance, fields),
        )
    return instance
