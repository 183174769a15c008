"""The invitation mail of a new staff account (`services.staff_invite` makes the account without a password).

The city's own password-reset mail, with the link on the city's primary host: the person sets a password there,
from one of the city's allowed networks. Used by `manage.py staff_invite` and the vendor console's city creation.
"""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from allauth.core import context
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django_tenants.utils import schema_context

from apps.security.models import User
from tenants.models import Municipality


def invitation_mail_send(*, city: Municipality, user: User) -> None:
    """Mail `user` (an account of `city`) the link to set a password. ValidationError when the city has no host or
    the mail cannot be prepared."""
    domain = city.domains.filter(is_primary=True).first() or city.domains.first()
    if domain is None:
        raise ValidationError(f"{city.slug} has no host")
    with schema_context(city.schema_name):
        request = RequestFactory().post(
            "/accounts/password/reset/", HTTP_HOST=domain.domain, secure=bool(settings.SESSION_COOKIE_SECURE)
        )
        request.tenant = city  # type: ignore[attr-defined]
        form = ResetPasswordForm(data={"email": user.email})
        with context.request_context(request):
            if not form.is_valid():
                raise ValidationError("the invitation mail could not be prepared: " + "; ".join(form.errors))
            form.save(request)
