"""What booking's staff pages share: a configuration form page, a refusal shown on its form, and the safe way back
after a POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from apps.booking.errors import BookingError
from apps.security.actors import Actor
from apps.security.request_actor import request_actor

T = TypeVar("T")


def form_errors(form: Any, exc: ValidationError | BookingError) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))


def form_page(
    request: HttpRequest,
    form: Any,
    save: Callable[[Actor], T],
    *,
    saved: str,
    then: Callable[[T], HttpResponse] | str,
    template: str,
    context: dict[str, Any],
    refusals: tuple[type[Exception], ...] = (ValidationError,),
) -> HttpResponse:
    """A configuration form: on a valid POST, `save` as the signed-in staff member, say `saved` and answer
    `then(result)` (or redirect to the URL name `then`); a refusal (`refusals`) is shown on the form. A POST that is not saved answers 400."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save(request_actor(request))
        except refusals as exc:
            form_errors(form, exc)  # type: ignore[arg-type]
        else:
            messages.success(request, saved)
            return redirect(then) if isinstance(then, str) else then(result)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, **context}, status=status)


def next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# Configuration (supervisors)
