"""Periodic housekeeping that must run in every city's schema, not only in public."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from tenants.db import use_public_schema
from tenants.fanout import for_each_city


@shared_task
def clear_expired_sessions() -> int:
    """Delete the expired sessions of the schema this task was sent from."""
    deleted, _by_model = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task
def clear_expired_sessions_everywhere() -> int:
    """Beat entry point (public): one task per city, plus the vendor's own sessions."""
    clear_expired_sessions.delay()
    sent = for_each_city(clear_expired_sessions)
    use_public_schema()
    return sent


@shared_task
def prune_counters() -> int:
    """Delete the security counters whose window ended, in the schema this task was sent from."""
    from apps.security.counters import counters_prune

    return counters_prune()


@shared_task
def prune_counters_everywhere() -> int:
    """Beat entry point (public): the public schema's counters (attack signs), then one task per city."""
    use_public_schema()
    prune_counters()
    sent = for_each_city(prune_counters)
    use_public_schema()
    return sent


@shared_task
def audit_verify_daily() -> list[str]:
    """Check every audit chain and its recorded head; a broken one is mailed to the vendor and reported to Sentry.

    Verifying keyed rows needs settings.AUDIT_KEY, so this runs where the application's secrets are (a worker).
    """
    import sentry_sdk
    from django.conf import settings
    from django.core.mail import send_mail

    from apps.security.audit_chain import VERIFY_REASONS, audit_verify
    from apps.security.db_roles import security_schemas

    use_public_schema()
    broken = [result for result in map(audit_verify, security_schemas()) if not result.ok]
    lines = [f"{r.schema}: sequence {r.broken_at} ({r.reason})" for r in broken]
    if broken:
        # Each line with its explanation: "truncated" and "head forged" mean the newest events were removed.
        details = [f"{line}: {VERIFY_REASONS[r.reason]}" for line, r in zip(lines, broken, strict=True)]
        body = "監査ログの改ざんまたは欠落を検出しました / Audit chain broken:\n" + "\n".join(details)
        sentry_sdk.capture_message("audit chain broken: " + "; ".join(lines), level="error")
        if settings.VENDOR_ALERT_EMAILS:
            send_mail(
                "[Madoguchi] 監査ログの検証に失敗 / audit chain broken",
                body,
                None,
                settings.VENDOR_ALERT_EMAILS,
            )
    return lines
