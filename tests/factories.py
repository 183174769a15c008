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


def role_client(city: Any, role: Role, username: str = "") -> Any:
    """A test client on `city`'s host, signed in (with TOTP set up) as a new member of `role`."""
    from django.test import Client
    from django_tenants.utils import schema_context

    with schema_context(city.schema_name):
        user = UserFactory(username=username or f"{city.slug}-{role.value}", role=role)
        with_totp(user)
    client = Client(HTTP_HOST=f"{city.slug}.localhost")
    login_as(client, user, city.schema_name)
    return client


def login_as(client: Any, user: User, schema: str) -> Any:
    """force_login inside the user's own schema (login() saves last_login there), as a login through the pages.

    A session counts as having passed the second factor only from allauth's authentication records in it
    (apps.security.mfa), so for a user with an authenticator app or key the session gets the records a real
    login leaves: the password, then the second factor. Pages that need the second factor entered again (recovery
    codes, adding or removing one) still ask for it.
    """
    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator
    from django.test import RequestFactory
    from django_tenants.utils import schema_context

    with schema_context(schema):
        client.force_login(user)
        authenticator = Authenticator.objects.filter(
            user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).first()
        if authenticator is not None:
            request = RequestFactory().get("/accounts/2fa/authenticate/")
            request.session = session = client.session
            request.user = user
            record_authentication(request, user, "password", username=user.get_username())
            record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
            session.save()
    return client


class CardFactory(factory.django.DjangoModelFactory):
    """A card of the city's list (create inside the city's schema). `state` defaults to notice mailed."""

    class Meta:
        model = "issuance.Card"

    notice_number = factory.Sequence(lambda n: f"A{n // 1000000 % 10}B-{n % 1000000:06d}")
    name = factory.Sequence(lambda n: f"上尾 太郎{n}")
    kana = factory.Sequence(lambda n: f"アゲオ タロウ{n}")
    kana_key = factory.LazyAttribute(lambda o: _kana_key(o.kana))
    birth_date = factory.Faker("date_of_birth", minimum_age=1, maximum_age=90)
    postal_code = "362-8501"
    address = "埼玉県上尾市本町三丁目1番1号"
    delivery_batch = "2026-11-01"
    delivery_date = factory.LazyFunction(lambda: _today())
    state = "notice_mailed"
    state_changed_at = factory.LazyFunction(lambda: _now())


def _kana_key(text: str) -> str:
    from base.japanese import kana_key

    return kana_key(text)


def _today() -> Any:
    from django.utils import timezone

    return timezone.localdate()


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def make_card(**kwargs: Any) -> Any:
    """CardFactory(...) typed as a Card for mypy (use inside the city's schema)."""
    from apps.issuance.models import Card

    card: Card = CardFactory(**kwargs)  # type: ignore[assignment]
    return card
