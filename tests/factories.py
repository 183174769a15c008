"""factory-boy factories. Create tenant data inside `schema_context(city.schema_name)`."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group

from apps.security.models import Role, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.jp")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: Role | None, **kwargs: object) -> None:
        if create and extracted is not None:
            self.groups.add(Group.objects.get(name=extracted.value))


def staff_user(**kwargs: object) -> User:
    return UserFactory(role=Role.STAFF, **kwargs)  # type: ignore[return-value]


def supervisor_user(**kwargs: object) -> User:
    return UserFactory(role=Role.SUPERVISOR, **kwargs)  # type: ignore[return-value]


def with_totp(user: User) -> str:
    """Give `user` an authenticator app (TOTP); returns the secret, for `totp_code`."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]  # the current period, whatever the tolerance
    return format_hotp_value(hotp_value(secret, counter))


def login_as(client: Any, user: User, schema: str) -> Any:
    """force_login inside the user's own schema (login() saves last_login there)."""
    from django_tenants.utils import schema_context

    with schema_context(schema):
        client.force_login(user)
    return client
