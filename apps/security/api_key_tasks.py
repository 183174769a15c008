"""The mail before an API key expires (issue 13): once per key and expiry date, to the city's supervisors.

Beat runs `security.api_keys_expiry_warn_everywhere` in public; it sends `security.api_keys_expiry_warn` once per
active city (tenants.fanout), which looks at that city's keys: not revoked, not yet expired, expiring within
`expiry_warn_days()` (settings.API_KEY_EXPIRY_WARN_DAYS, 14 by default) and not yet warned. Each key is claimed
first by setting `expiry_warned_at` with a conditional update (two workers never both mail it), then mailed; a
send that fails clears the claim again, so the next run tries once more. Rotating a key with a new expiry clears
`expiry_warned_at` (api_key_rotate): the new date gets its own mail.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from apps.security.api_keys import expiry_warn_days
from apps.security.models import ApiKey, ApiScope, Role, User
from tenants.db import current_schema
from tenants.fanout import for_each_city
from tenants.models import Municipality
from tenants.selectors import domain_list, municipality_list

logger = logging.getLogger(__name__)

MAIL_LANGUAGE = "ja"  # supervisors' mail, as the staff pages: Japanese


def supervisor_addresses() -> list[str]:
    """The mail addresses of the city's active supervisors (the schema in use)."""
    users = User.objects.filter(is_active=True, groups__name=Role.SUPERVISOR.value).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def keys_to_warn(*, now: datetime) -> list[ApiKey]:
    """Live keys of the city expiring within the warning period and not warned for this expiry yet."""
    return list(
        ApiKey.objects.filter(
            revoked_at__isnull=True,
            expiry_warned_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=expiry_warn_days()),
        ).order_by("expires_at", "pk")
    )


def _city() -> Municipality | None:
    return municipality_list().filter(schema_name=current_schema()).first()


def _keys_page_url(city: Municipality | None) -> str:
    domain = domain_list(municipality=city).first() if city is not None else None
    host = domain.domain if domain is not None else "localhost"
    scheme = "http" if host == "localhost" or host.endswith(".localhost") else "https"
    return f"{scheme}://{host}{reverse('security:api_keys')}"


def _days_left(key: ApiKey, now: datetime) -> int:
    """Calendar days (Japan time) from today to the expiry date: "あと3日" means on the third day from today."""
    if key.expires_at is None:
        return 0
    return max(0, (timezone.localtime(key.expires_at).date() - timezone.localtime(now).date()).days)


def compose_expiry_warning(key: ApiKey, *, to: list[str], now: datetime) -> EmailMessage:
    city = _city()
    labels = dict(ApiScope.choices)
    with translation.override(MAIL_LANGUAGE):
        context = {
            "key": key,
            "city_name": city.display_name(MAIL_LANGUAGE) if city is not None else "",
            "scopes": [f"{labels.get(scope, scope)}（{scope}）" for scope in key.scopes],
            "days_left": _days_left(key, now),
            "url": _keys_page_url(city),
        }
        subject = render_to_string("security/email/api_key_expiry_subject.txt", context).strip()
        body = render_to_string("security/email/api_key_expiry.txt", context)
    return EmailMessage(subject=" ".join(subject.split()), body=body, to=to)


def expiry_warnings_send(*, now: datetime) -> int:
    """Mail the supervisors about each key expiring soon, once per key and expiry; returns how many mails left."""
    keys = keys_to_warn(now=now)
    if not keys:
        return 0
    to = supervisor_addresses()
    if not to:
        logger.warning("API keys expire soon but the city has no supervisor with a mail address: %s", keys)
        return 0
    sent = 0
    for key in keys:
        claimed = ApiKey.objects.filter(
            pk=key.pk, expiry_warned_at__isnull=True, revoked_at__isnull=True, expires_at=key.expires_at
        ).update(expiry_warned_at=now)
        if not claimed:  # another worker took it, or the key changed meanwhile
            continue
        try:
            compose_expiry_warning(key, to=to, now=now).send()
        except Exception:
            ApiKey.objects.filter(pk=key.pk, expiry_warned_at=now).update(expiry_warned_at=None)
            logger.exception("the mail before the expiry of API key %s could not be sent", key.prefix)
            continue
        sent += 1
    return sent


@shared_task(name="security.api_keys_expiry_warn")
def api_keys_expiry_warn() -> int:
    """One city's keys (the schema the task was sent from)."""
    return expiry_warnings_send(now=timezone.now())


@shared_task(name="security.api_keys_expiry_warn_everywhere")
def api_keys_expiry_warn_everywhere() -> int:
    """Beat entry point (public): one task per active city."""
    return for_each_city(api_keys_expiry_warn)
