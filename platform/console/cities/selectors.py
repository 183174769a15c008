"""Reads for the console's city pages: the paginated list (public schema only), counts by status, one city's usage
(queries in that city's schema, on its own page only) and its settings overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from console.access import VendorRole, ensure_vendor_role
from tenants.models import Domain, Municipality
from tenants.selectors import municipality_list

PER_PAGE = 50


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def status_counts(actor: Actor) -> list[StatusCount]:
    """How many cities are in each status (one query)."""
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    counts = dict(
        municipality_list().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return [StatusCount(s.value, str(s.label), counts.get(s.value, 0)) for s in Municipality.Status]


def suspended_cities(actor: Actor, limit: int = 20) -> list[Municipality]:
    """Cities not serving residents (suspended or offboarding), the first `limit`."""
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    return list(municipality_list().exclude(status=Municipality.Status.ACTIVE).order_by("lg_code")[:limit])


def city_page(actor: Actor, *, status: str = "", query: str = "", page: str | int | None = 1) -> Page:
    """One page of cities (PER_PAGE), filtered by status and by a text in the identifier, code or names.

    Public-schema columns only, whatever the number of cities: the usage counts are on each city's page."""
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    cities: QuerySet[Municipality] = municipality_list().order_by("lg_code")
    if status in Municipality.Status.values:
        cities = cities.filter(status=status)
    if query:
        cities = cities.filter(
            Q(slug__icontains=query)
            | Q(lg_code__startswith=query)
            | Q(name_ja__icontains=query)
            | Q(name_en__icontains=query)
            | Q(prefecture__icontains=query)
        )
    return Paginator(cities, PER_PAGE).get_page(page)


def city_get(actor: Actor, *, slug: str) -> Municipality:
    """A city (never the vendor's own tenant); Municipality.DoesNotExist otherwise."""
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    return municipality_list().get(slug=slug)


def city_domains(actor: Actor, *, municipality: Municipality) -> list[Domain]:
    ensure_vendor_role(actor, VendorRole.SUPPORT)
    return list(Domain.objects.filter(tenant=municipality).order_by("-is_primary", "domain"))


@dataclass(frozen=True)
class CityUsage:
    bookings_this_month: int
    cards: int
    staff_users: int


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def city_usage(actor: Actor, *, municipality: Municipality, now: datetime) -> CityUsage:
    """Counts in the city's own schema (three cheap queries): bookings made this month, cards, active staff."""
    from apps.booking.models import Reservation
    from apps.issuance.models import Card
    from apps.security.models import User

    ensure_vendor_role(actor, VendorRole.SUPPORT)
    with schema_context(municipality.schema_name):
        return CityUsage(
            bookings_this_month=Reservation.objects.filter(created_at__gte=month_start(now)).count(),
            cards=Card.objects.count(),
            staff_users=User.objects.filter(is_active=True).count(),
        )


@dataclass(frozen=True)
class CitySettings:
    """What a city has set, read-only for the vendor (the city changes it in its own staff pages)."""

    language: str
    languages: tuple[str, ...]
    networks: tuple[str, ...]
    mfa_required_for_staff: bool
    idle_timeout_minutes: int
    absolute_timeout_hours: int
    mail_sender: str
    contact_email: str
    contact_phone: str
    opens_days_ahead: int | None


def city_settings(actor: Actor, *, municipality: Municipality) -> CitySettings:
    """The settings overview (a few queries in the city's schema)."""
    from django.conf import settings

    from apps.booking.models import BookingSettings
    from apps.security.models import AllowedNetwork, SecurityPolicy

    ensure_vendor_role(actor, VendorRole.SUPPORT)
    with schema_context(municipality.schema_name):
        policy = SecurityPolicy.objects.filter(pk=1).first() or SecurityPolicy(pk=1)
        booking = BookingSettings.objects.filter(pk=1).first()
        networks = tuple(AllowedNetwork.objects.order_by("cidr").values_list("cidr", flat=True))
    return CitySettings(
        language=settings.LANGUAGE_CODE,
        languages=tuple(code for code, _name in settings.LANGUAGES),
        networks=networks,
        mfa_required_for_staff=policy.mfa_required_for_staff,
        idle_timeout_minutes=policy.idle_timeout_minutes,
        absolute_timeout_hours=policy.absolute_timeout_hours,
        mail_sender=str(settings.DEFAULT_FROM_EMAIL),
        contact_email=municipality.contact_email,
        contact_phone=municipality.contact_phone,
        opens_days_ahead=booking.opens_days_ahead if booking else None,
    )
