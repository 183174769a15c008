"""Supervisor writes on what a city publishes: announcements and email texts. Each is audited in its transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.booking.calendar.services import config_delete
from apps.booking.models_content import Announcement, EmailText
from apps.booking.reservations.mail_texts import placeholder_errors
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audited import config_picture
from apps.security.roles import CONFIGURE_BOOKING, ensure_permission

ANNOUNCEMENT_FIELDS = ["title_ja", "title_en", "body_ja", "body_en", "starts_at", "ends_at"]
EMAIL_TEXT_FIELDS = ["subject", "body"]


def announcement_save(*, announcement_id: int | None, values: dict[str, Any], actor: Actor) -> Announcement:
    """Create or change an announcement; the body is sanitised by the model on save (the audit shows the result)."""
    ensure_permission(actor, CONFIGURE_BOOKING)
    with transaction.atomic():
        if announcement_id is None:
            announcement, before = Announcement(), None
        else:
            announcement = Announcement.objects.select_for_update().get(pk=announcement_id)
            before = config_picture(announcement, ANNOUNCEMENT_FIELDS)
        for name in ANNOUNCEMENT_FIELDS:
            setattr(announcement, name, values[name])
        announcement.full_clean()
        announcement.save()
        audit_record(
            action="booking.announcement_created" if before is None else "booking.announcement_updated",
            actor=actor,
            target=f"Announcement:{announcement.pk}",
            summary=announcement.title_ja,
            before=before,
            after=config_picture(announcement, ANNOUNCEMENT_FIELDS),
        )
    return announcement


def announcement_delete(*, announcement_id: int, actor: Actor) -> None:
    config_delete(
        model=Announcement,
        pk=announcement_id,
        fields=ANNOUNCEMENT_FIELDS,
        action="booking.announcement_deleted",
        actor=actor,
        summary=lambda announcement: str(announcement.title_ja),
    )


def email_text_save(*, kind: str, language: str, subject: str, body: str, actor: Actor) -> EmailText:
    """Set the city's text for one kind and language (replacing the built-in one). Placeholders are checked."""
    ensure_permission(actor, CONFIGURE_BOOKING)
    errors = placeholder_errors(subject) + placeholder_errors(body)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = EmailText.objects.select_for_update().filter(kind=kind, language=language).first()
        before = config_picture(current, EMAIL_TEXT_FIELDS) if current else None
        text = current or EmailText(kind=kind, language=language)
        text.subject, text.body = subject, body
        text.full_clean()
        text.save()
        audit_record(
            action="booking.email_text_saved",
            actor=actor,
            target=f"EmailText:{kind}/{language}",
            before=before,
            after=config_picture(text, EMAIL_TEXT_FIELDS),
        )
    return text


def email_text_reset(*, kind: str, language: str, actor: Actor) -> bool:
    """Go back to the built-in text; False when the city had none of its own."""
    ensure_permission(actor, CONFIGURE_BOOKING)
    with transaction.atomic():
        current = EmailText.objects.select_for_update().filter(kind=kind, language=language).first()
        if current is None:
            return False
        before = config_picture(current, EMAIL_TEXT_FIELDS)
        current.delete()
        audit_record(
            action="booking.email_text_reset",
            actor=actor,
            target=f"EmailText:{kind}/{language}",
            before=before,
        )
    return True
