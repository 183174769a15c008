"""What booking's staff pages share: a refusal shown on its form, and the safe way back after a POST."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from apps.booking.errors import BookingError


def form_errors(form: Any, exc: ValidationError | BookingError) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))


def next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# Configuration (supervisors)
