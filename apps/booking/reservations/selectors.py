from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Prefetch, QuerySet

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Person, Purpose, Reservation, SiteAppearance, Slot
from apps.security.actors import Actor
from apps.security.audit import audit_record

PERSONAL_DATA_VIEWED = "personal_data.viewed"  # the action of apps.booking.staff.selectors.VIEWED


def appearance_get() -> SiteAppearance:
    """The city's appearance; an unsaved default when a city has none yet (never fails a page)."""
    return SiteAppearance.objects.filter(pk=1).first() or SiteAppearance(pk=1)


# The city as texts sent without a request name it (mails, notice letters): its own address, phone and name.
def city_base_url() -> str:
    """The city's own address for links in mails sent without a request (its primary domain)."""
    tenant = getattr(connection, "tenant", None)
    primary = getattr(tenant, "get_primary_domain", None)  # schema_context() sets a FakeTenant without it
    domain = primary() if callable(primary) else None
    host = domain.domain if domain is not None else "localhost"
    scheme = "http" if host == "localhost" or host.endswith(".localhost") else "https"
    return f"{scheme}://{host}"


def city_phone() -> str:
    tenant = getattr(connection, "tenant", None)
    return appearance_get().phone or str(getattr(tenant, "contact_phone", "") or "")


def city_name(language: str) -> str:
    tenant = getattr(connection, "tenant", None)
    display_name = getattr(tenant, "display_name", None)
    return str(display_name(language)) if callable(display_name) else ""


# --- the REST API's reads (apps.booking.reservations.api) --------------------------------------------------------


@dataclass(frozen=True)
class SlotChoice:
    slot: Slot
    persons_free: int  # persons of the purpose a booking through the API (staff seats included) can still add


def code_normalise(code: str) -> str:
    """A booking code as residents read it out or type it (full-width, lower case, spaces, hyphens) folded to the
    stored form, as the resident's lookup form folds it."""
    folded = unicodedata.normalize("NFKC", code).upper()
    return "".join(c for c in folded if c.isalnum())


def purpose_slots(*, purpose: Purpose, day: date, now: datetime) -> list[SlotChoice]:
    """The open frames of `day` at the purpose's counter that have not started, full ones with 0 free: what the
    staff booking (`reservation_book_by_staff`) may book into."""
    start = datetime.combine(day, datetime.min.time(), TOKYO)
    slots = Slot.objects.filter(
        counter_group_id=purpose.counter_group_id,
        start__gte=max(start, now),
        start__lt=start + timedelta(days=1),
        blocked=False,
        in_rules=True,
    ).order_by("start")
    return [SlotChoice(slot, slot.free // purpose.seats_per_person) for slot in slots]


_RESERVATIONS = Reservation.objects.select_related("slot", "purpose").prefetch_related(
    Prefetch("persons", queryset=Person.objects.order_by("order"))
)


def reservation_by_code(code: str) -> Reservation | None:
    return _RESERVATIONS.filter(code=code_normalise(code)).first()


def reservations_filtered(
    *, date_from: date | None, date_to: date | None, purpose_code: str, status: str
) -> QuerySet[Reservation]:
    """Reservations whose visit falls between the two dates (Japan time, both included), of one purpose and one
    status when given (the API's list; its pagination orders and cuts it)."""
    reservations = _RESERVATIONS.all()
    if date_from is not None:
        reservations = reservations.filter(
            slot__start__gte=datetime.combine(date_from, datetime.min.time(), TOKYO)
        )
    if date_to is not None:
        reservations = reservations.filter(
            slot__start__lt=datetime.combine(date_to + timedelta(days=1), datetime.min.time(), TOKYO)
        )
    if purpose_code:
        reservations = reservations.filter(purpose__code=purpose_code)
    if status:
        reservations = reservations.filter(status=status)
    return reservations


def reservations_shown(*, target: str, summary: str, actor: Actor) -> None:
    """Records that `actor` (an API key) was given reservations with their persons: a personal-data view, as the
    staff pages record theirs."""
    audit_record(action=PERSONAL_DATA_VIEWED, actor=actor, target=target, summary=summary)
