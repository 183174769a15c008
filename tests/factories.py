"""factory-boy factories. Create tenant data inside `schema_context(city.schema_name)`."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import (
    CalendarDay,
    CounterGroup,
    Hold,
    Person,
    Purpose,
    ReminderSent,
    Reservation,
    Slot,
)
from apps.booking.models_content import Announcement, EmailText
from apps.issuance.models import Card, CardEvent, CounterCheck, ImportBatch, NoticePrint, ProxyReason
from apps.security.models import AllowedNetwork, Role, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
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
    return UserFactory.create(role=Role.STAFF, **kwargs)


def supervisor_user(**kwargs: object) -> User:
    return UserFactory.create(role=Role.SUPERVISOR, **kwargs)


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
    (apps.security.mfa_session), so for a user with an authenticator app or key the session gets the records a real
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


class CardFactory(factory.django.DjangoModelFactory[Card]):
    """A card of the city's list (create inside the city's schema). `state` defaults to notice mailed."""

    class Meta:
        model = Card

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


def make_card(**kwargs: Any) -> Card:
    """CardFactory.create(...), inside the city's schema."""
    return CardFactory.create(**kwargs)


# Booking. The template gives every city one counter group and its purposes ("application", "pickup"): the
# factories use those unless told otherwise, so what a test builds fits the city's rules. Call `.create(...)` for a
# typed result, inside the city's schema.


class CounterGroupFactory(factory.django.DjangoModelFactory[CounterGroup]):
    class Meta:
        model = CounterGroup

    name = factory.Sequence(lambda n: f"窓口{n}")
    seats = 2


def _the_counter_group() -> CounterGroup:
    """The city's counter group (each city starts with exactly one)."""
    return CounterGroup.objects.get()


class PurposeFactory(factory.django.DjangoModelFactory[Purpose]):
    """A purpose by code: the city's own when it has that code ("application", "pickup"), else a new one."""

    class Meta:
        model = Purpose
        django_get_or_create = ("code",)

    code = "application"
    name_ja = factory.LazyAttribute(lambda o: f"用件 {o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Purpose {o.code}")
    counter_group = factory.LazyFunction(_the_counter_group)


class SlotFactory(factory.django.DjangoModelFactory[Slot]):
    """A frame of a counter group: starts at `day` and `at` in Japan time (or at `start`) and lasts the group's
    frame length, as the slot rules make them. `day` defaults to a weekday a few days ahead (inside the window).
    A group has one frame per start time (slot_unique_start): asking again for the same start gives the frame that
    is there, as it is."""

    class Meta:
        model = Slot
        django_get_or_create = ("counter_group", "start")

    class Params:
        day = factory.LazyFunction(lambda: visit_day())
        at = time(10, 0)

    counter_group = factory.LazyFunction(_the_counter_group)
    start = factory.LazyAttribute(lambda o: datetime.combine(o.day, o.at, TOKYO))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=o.counter_group.frame_minutes))
    seats = 2


def visit_day(days_ahead: int = 4) -> date:
    """A weekday at least `days_ahead` days from now (outside the 24-hour closing time, inside the window)."""
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class HoldFactory(factory.django.DjangoModelFactory[Hold]):
    """Seats held on a slot for a while (the resident's first step); `seats` follows the purpose's seats per person."""

    class Meta:
        model = Hold

    token = factory.LazyFunction(uuid.uuid4)
    slot = factory.SubFactory(SlotFactory)
    purpose = factory.SubFactory(PurposeFactory)
    persons = 1
    seats = factory.LazyAttribute(lambda o: o.persons * o.purpose.seats_per_person)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


class ReservationFactory(factory.django.DjangoModelFactory[Reservation]):
    """A reservation row as it stands (status, channel), without going through the booking services: for reports
    and lists that read reservations. Tests of booking itself book through `hold_create` and `reservation_confirm`."""

    class Meta:
        model = Reservation

    code = factory.Sequence(lambda n: f"TF{n:06d}")
    slot = factory.SubFactory(SlotFactory)
    purpose = factory.SubFactory(PurposeFactory)
    seats = 1


class PersonFactory(factory.django.DjangoModelFactory[Person]):
    class Meta:
        model = Person

    reservation = factory.SubFactory(ReservationFactory)
    name = factory.Sequence(lambda n: f"上尾 花子{n}")
    birth_date = date(1985, 5, 5)


class CalendarDayFactory(factory.django.DjangoModelFactory[CalendarDay]):
    class Meta:
        model = CalendarDay

    date = factory.LazyFunction(lambda: visit_day())
    kind = "closed"


class ReminderSentFactory(factory.django.DjangoModelFactory[ReminderSent]):
    class Meta:
        model = ReminderSent

    reservation = factory.SubFactory(ReservationFactory)
    kind = "day_before"


class AnnouncementFactory(factory.django.DjangoModelFactory[Announcement]):
    """A city announcement, shown from an hour ago with no end unless told."""

    class Meta:
        model = Announcement

    title_ja = factory.Sequence(lambda n: f"お知らせ{n}")
    title_en = factory.LazyAttribute(lambda o: f"{o.title_ja} (en)")
    body_ja = factory.LazyAttribute(lambda o: f"<p>{o.title_ja}の本文</p>")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = None


class EmailTextFactory(factory.django.DjangoModelFactory[EmailText]):
    """A city's own text of a mail (kind and language), in place of the built-in one."""

    class Meta:
        model = EmailText

    kind = "booked"
    language = "ja"
    subject = "【上尾市】予約 {code}"
    body = "予約番号: {code}"


# Issuance: cards are made by CardFactory above.


class ImportBatchFactory(factory.django.DjangoModelFactory[ImportBatch]):
    class Meta:
        model = ImportBatch

    file_name = factory.Sequence(lambda n: f"cards-{n}.csv")
    sha256 = "0" * 64


class CardEventFactory(factory.django.DjangoModelFactory[CardEvent]):
    """A line of a card's history, now unless told."""

    class Meta:
        model = CardEvent

    card = factory.SubFactory(CardFactory)
    kind = "imported"
    at = factory.LazyFunction(lambda: _now())


class NoticePrintFactory(factory.django.DjangoModelFactory[NoticePrint]):
    """A printing of notices (`cards=[...]` adds the cards printed)."""

    class Meta:
        model = NoticePrint
        skip_postgeneration_save = True

    variant = "letter"
    card_count = 1

    @factory.post_generation
    def cards(self, create: bool, extracted: list[Any] | None, **kwargs: object) -> None:
        if create and extracted:
            self.cards.add(*extracted)


class CounterCheckFactory(factory.django.DjangoModelFactory[CounterCheck]):
    """An issue checklist of a card at the counter, issued on one A document unless told."""

    class Meta:
        model = CounterCheck

    card = factory.SubFactory(CardFactory)
    identity_kind = "one_a"
    outcome = "issued"
    by = factory.SubFactory(UserFactory)
    at = factory.LazyFunction(lambda: _now())


class ProxyReasonFactory(factory.django.DjangoModelFactory[ProxyReason]):
    class Meta:
        model = ProxyReason

    name_ja = factory.Sequence(lambda n: f"代理の理由{n}")
    name_en = factory.Sequence(lambda n: f"Proxy reason {n}")


# Security.


class AllowedNetworkFactory(factory.django.DjangoModelFactory[AllowedNetwork]):
    """An address range staff pages are open to."""

    class Meta:
        model = AllowedNetwork

    cidr = "198.51.100.0/24"
    label = "庁舎"
