"""Sentry, initialised only when SENTRY_DSN is set, and scrubbed of residents' personal data."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from madoguchi.config import SentryConfig

# Field names that carry a resident's (or staff member's) personal data anywhere in an event.
PERSONAL_KEYS = re.compile(
    r"name|kana|birth|dob|address|addr|postal|zip|phone|tel|mail|contact|notice|password|passwd|secret|token"
    r"|session|csrf|cookie|authorization|otp|code",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"\b0\d{1,4}-?\d{1,4}-?\d{3,4}\b")
_DATE = re.compile(r"\b(19|20)\d{2}[-/年.]\d{1,2}[-/月.]\d{1,2}日?")


def _scrub_text(text: str) -> str:
    from madoguchi.logs import mask_for_log  # a 個人番号 in a URL or a message, plain or percent-encoded

    text = mask_for_log(text)
    for pattern in (_EMAIL, _PHONE, _DATE):
        text = pattern.sub(REDACTED, text)
    return text


def scrub(value: Any, key: str = "") -> Any:
    """Replace personal values by key name and by shape (emails, phone numbers, dates) at any depth."""
    if key and PERSONAL_KEYS.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        # A request body or query string may hold a whole booking form: never send them.
        for part in ("data", "query_string", "cookies"):
            if part in request:
                request[part] = REDACTED
    event.pop("user", None)
    for part in ("request", "extra", "contexts", "breadcrumbs", "exception", "logentry", "message", "tags"):
        if part in event:
            event[part] = scrub(event[part])
    return event


def init_sentry(cfg: SentryConfig) -> bool:
    if not cfg.dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=cfg.dsn,
        environment=cfg.environment,
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=cfg.traces_sample_rate,
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True
