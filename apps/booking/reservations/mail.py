"""Confirmation, change and cancellation emails, in the reservation's language, with an .ics of the visit.

Each mail is a row of the booking mails' outbox, written with the booking (apps.booking.reservations.outbox) and
sent after the commit through a Celery task, so a slow mail server never holds up the resident's page; exactly once
whether the broker is up, down or loses the message. `settings.BOOKING_MAIL_SYNC = True` sends inside the
on_commit callback instead (tests, and a server without a worker such as the browser tests'): the same claim.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import linebreaks, urlize
from django.utils.translation import gettext as _

from apps.booking.calendar.hours import TOKYO
from apps.booking.content.selectors import email_text_get
from apps.booking.models import EmailText, Reservation
from apps.booking.reservations.mail_texts import render_text
from apps.booking.reservations.selectors import city_base_url, city_name, city_phone
from base.japanese import to_wareki

BOOKED, CHANGED, CANCELLED = "booked", "changed", "cancelled"
KINDS = (BOOKED, CHANGED, CANCELLED)


def mail_context(reservation: Reservation, base_url: str) -> dict[str, object]:
    from apps.booking.resident.services import manage_token

    language = reservation.language or "ja"
    start = reservation.slot.start.astimezone(TOKYO)
    return {
        "reservation": reservation,
        "persons": list(reservation.persons.all()),
        "purpose_name": reservation.purpose.name(language),
        "bring": reservation.purpose.bring(language),
        "counter": reservation.slot.counter_group,
        "start": start,
        "end": reservation.slot.end.astimezone(TOKYO),
        "wareki": to_wareki(start.date()),
        "city_name": city_name(language),
        "city_phone": city_phone(),
        "manage_url": base_url.rstrip("/")
        + reverse("booking:manage", kwargs={"token": manage_token(reservation)}),
    }


# --- iCalendar (RFC 5545), written by hand: a handful of properties -----------------------------------------------
def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (a continuation starts with a space), never inside a UTF-8 character."""
    parts: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74  # the leading space of a continuation counts
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reservation_ics(reservation: Reservation, context: dict[str, object], method: str = "PUBLISH") -> str:
    counter = reservation.slot.counter_group
    location = " ".join(part for part in (counter.name, counter.location) if part)
    description = "\n".join(
        [
            f"{_('予約番号')}: {reservation.code}",
            f"{_('持ち物')}: {context['bring']}",
            f"{_('問い合わせ')}: {context['city_name']} {context['city_phone']}",
            f"{_('変更・取消')}: {context['manage_url']}",
        ]
    )
    cancelled = reservation.status == Reservation.Status.CANCELLED
    tenant = getattr(connection, "tenant", None)
    domain = getattr(tenant, "schema_name", "city")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Madoguchi//Booking//JA",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else method}",
        "BEGIN:VEVENT",
        f"UID:{reservation.code}@{domain}.madoguchi",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"SEQUENCE:{int(reservation.updated_at.timestamp())}",
        f"DTSTART:{_utc(reservation.slot.start)}",
        f"DTEND:{_utc(reservation.slot.end)}",
        f"SUMMARY:{_ics_text(str(context['purpose_name']) + ' (' + str(context['city_name']) + ')')}",
        f"LOCATION:{_ics_text(location)}",
        f"DESCRIPTION:{_ics_text(description)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def _subject(kind: str) -> str:
    # The msgids are spelled out so makemessages finds them.
    return {
        BOOKED: _("【%(city)s】窓口の予約を受け付けました（予約番号 %(code)s）"),
        CHANGED: _("【%(city)s】窓口の予約を変更しました（予約番号 %(code)s）"),
        CANCELLED: _("【%(city)s】窓口の予約を取り消しました（予約番号 %(code)s）"),
    }[kind]


EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
JA_WEEKDAYS = ("月", "火", "水", "木", "金", "土", "日")


def text_values(reservation: Reservation, context: dict[str, object], language: str) -> dict[str, str]:
    """The values of a city's own email text's placeholders (apps.booking.reservations.mail_texts.PLACEHOLDERS)."""
    start, end = reservation.slot.start.astimezone(TOKYO), reservation.slot.end.astimezone(TOKYO)
    counter = reservation.slot.counter_group
    if language == "en":
        day = f"{EN_WEEKDAYS[start.weekday()]} {start:%d/%m/%Y}"
    else:
        day = f"{start.year}年{start.month}月{start.day}日（{JA_WEEKDAYS[start.weekday()]}）"
    return {
        "code": reservation.code,
        "date": day,
        "time": f"{start:%H:%M}–{end:%H:%M}",
        "purpose": str(context["purpose_name"]),
        "counter": counter.name,
        "location": counter.location,
        "bring": str(context["bring"]),
        "phone": str(context["city_phone"]),
        "city": str(context["city_name"]),
        "manage_url": str(context["manage_url"]),
    }


def city_text(
    reservation: Reservation, own: EmailText, language: str, context: dict[str, object]
) -> tuple[str, str, str]:
    """(subject, text, html) from the city's own text for one kind of mail.

    The manage link is added when the text leaves it out: a resident must always be able to change or cancel.
    """
    values = text_values(reservation, context, language)
    subject = render_text(own.subject, values).replace("\r", " ").replace("\n", " ").strip()
    body = render_text(own.body, values)
    if values["manage_url"] not in body:
        body = f"{body.rstrip()}\n\n{_('変更・取消')}: {values['manage_url']}\n"
    return subject, body, linebreaks(urlize(body, autoescape=True), autoescape=False)


def compose(reservation: Reservation, kind: str, base_url: str) -> EmailMultiAlternatives:
    language = reservation.language or "ja"
    with translation.override(language):
        context = {**mail_context(reservation, base_url), "kind": kind}
        own = email_text_get(kind, language)
        if own is not None:
            subject, text, html = city_text(reservation, own, language, context)
        else:
            subject = _subject(kind) % {"city": context["city_name"], "code": reservation.code}
            text = render_to_string("booking/email/reservation.txt", context)
            html = render_to_string("booking/email/reservation.html", context)
        ics = reservation_ics(reservation, context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[reservation.email])
    message.attach_alternative(html, "text/html")
    message.attach(f"{reservation.code}.ics", ics, "text/calendar; charset=utf-8; method=PUBLISH")
    return message


def send_email_link(*, email: str, url: str, language: str) -> None:
    """The email-first mail: a link that opens the booking form with this address (valid for 30 minutes)."""
    with translation.override(language):
        name = city_name(language)
        subject = _("【%(city)s】窓口予約の入力ページのご案内") % {"city": name}
        body = render_to_string(
            "booking/email/email_link.txt", {"url": url, "city_name": name, "city_phone": city_phone()}
        )
    EmailMultiAlternatives(subject=subject, body=body, to=[email]).send()


def send_reservation_mail(reservation_id: int, kind: str, base_url: str = "") -> bool:
    """Send one mail of `kind` for the reservation (in the current schema). False when there is nobody to tell."""
    reservation = (
        Reservation.objects.select_related("slot__counter_group", "purpose").filter(pk=reservation_id).first()
    )
    if reservation is None or not reservation.email or kind not in KINDS:
        return False
    compose(reservation, kind, base_url or city_base_url()).send()
    return True


def send_after_commit(reservation_id: int, kind: str, base_url: str = "") -> None:
    """Write the mail's outbox row in the current transaction and send it once that commits (through the worker,
    or in the request when the broker is down): apps.booking.reservations.outbox. Nothing when there is nobody to
    tell (no email)."""
    from apps.booking.reservations import outbox

    mail_id = outbox.booking_mail_add(reservation_id, kind, base_url)
    if mail_id is not None:
        transaction.on_commit(lambda: outbox.booking_mail_dispatch(mail_id))
