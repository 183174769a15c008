"""Resident booking pages: no account, phone first, Japanese first. Thin: parse, call a service, render.

purpose list → month calendar → times of a day (+ persons) → hold → form (countdown) → confirm → done.
After booking (done, manage, change, find): apps.booking.manage.views.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.booking.calendar.hours import TOKYO
from apps.booking.content.selectors import announcements_for_page
from apps.booking.errors import (
    BookingError,
    HoldLimitError,
    NoticeRefusedError,
    OutsideWindowError,
    SlotFullError,
)
from apps.booking.models import BookingSettings, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm, settings_ensure
from apps.booking.resident.forms import ContactForm, EmailFirstForm, PersonForm, PersonsForm
from apps.booking.resident.page_cache import (
    cached_page,
    canonical_query,
    day_page_key,
    page_context,
    page_key,
    page_stamp,
    purposes_page_key,
    resident_context,
)
from apps.booking.resident.presenters import (
    calendar_body,
    day_context,
    day_label,
    page_language,
    slot_label,
)
from apps.booking.resident.selectors import hold_get, other_days
from apps.booking.resident.services import Refusal, email_link_read, email_link_send
from apps.booking.resident.session import (
    booking_made,
    confirm_refusal,
    email_link_refusal,
    fixed_email,
    fixed_email_remember,
    hold_client,
    limit_hit,
    notice_failures_exhausted,
    notice_prefill,
    notice_refused,
    remember_done,
    retry_after,
    too_many,
    wait_label,
)
from apps.security.request_actor import resident_actor
from base.japanese import to_wareki


def purpose_list(request: HttpRequest) -> HttpResponse:
    """Active purposes and announcements, from the resident context (warm: one cache read, or the cached page)."""
    language = page_language()
    key = purposes_page_key(language)
    context = page_context(request, key)

    def page() -> dict[str, Any]:
        items = [(p, p.name(language)) for p in context.purposes.values() if p.counter_group.active]
        return {
            "purposes": items,
            "announcements": announcements_for_page(context.announcements, timezone.now(), language),
        }

    return cached_page(
        request,
        key=key,
        cacheable=not request.META.get("QUERY_STRING"),
        stamp=page_stamp(context),
        template="booking/resident/purposes.html",
        page=page,
    )


def _parse_month(text: str, today: date) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(text, "%Y-%m")
        return parsed.year, parsed.month
    except ValueError:
        return today.year, today.month


def month_calendar(request: HttpRequest, purpose_code: str) -> HttpResponse:
    """The month's availability. For residents without a session message the whole page is cached (page_cache):
    a warm page is one cache read and the CSRF token put in; bookings forget it as they commit."""
    now = timezone.now()
    today = now.astimezone(TOKYO).date()
    asked = request.GET.get("month", "")
    year, month = _parse_month(asked, today)
    language = page_language()
    # Only a canonical address is cached: the page shows its own address (the language switch's `next`), and a
    # repeated or unknown parameter (e.g. the CSRF placeholder as a second ?month=) must never get into a page
    # that is served to others, or filled with their tokens.
    canonical = canonical_query(request, year, month)
    key = page_key(purpose_code, year, month, language, today, month_in_query=bool(asked))
    context = page_context(request, key)
    purpose = context.purposes.get(purpose_code)
    if purpose is None:
        raise Http404
    settings = context.settings
    last_day = today + timedelta(days=settings.opens_days_ahead)
    in_window = (today.year, today.month) <= (year, month) <= (last_day.year, last_day.month)
    if not in_window:
        year, month = today.year, today.month

    def page() -> dict[str, Any]:
        body = calendar_body(purpose, year, month, settings, now)
        return {"purpose_name": purpose.name(language), "year": year, "month": month, "body": body}

    return cached_page(
        request,
        key=key,
        cacheable=in_window and canonical,
        stamp=page_stamp(context),
        template="booking/resident/calendar.html",
        page=page,
    )


def _just_taken(
    request: HttpRequest, purpose: Purpose, day: date, message: str, settings: BookingSettings
) -> HttpResponse:
    now = timezone.now()
    context = day_context(purpose, day, settings, now)
    context["message"] = message
    context["other_days"] = [
        (d, day_label(d)) for d in other_days(purpose=purpose, after=day, settings=settings, now=now)
    ]
    context["persons_choices"] = range(1, settings.max_persons + 1)
    return render(request, "booking/resident/just_taken.html", context, status=409)


def _day_page(purpose: Purpose, chosen: date, settings: BookingSettings, form: Any) -> dict[str, Any]:
    context = day_context(purpose, chosen, settings, timezone.now())
    context["form"] = form
    context["selected_slot"] = str(form["slot"].value() or "")
    context["persons_choices"] = range(1, settings.max_persons + 1)
    context["selected_persons"] = str(form["persons"].value() or "1")
    context["email_first"] = settings.confirm_email_first
    return context


@never_cache  # an email-first form shows the address typed
@require_http_methods(["GET", "POST"])
def day_view(request: HttpRequest, purpose_code: str, day: str) -> HttpResponse:
    """The times of a day. GET is cached like the month (page_cache: forgotten by the same bookings); the purpose
    and the settings come from the resident context."""
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    today = timezone.now().astimezone(TOKYO).date()
    key = day_page_key(purpose_code, chosen, page_language(), today)
    context = page_context(request, key) if request.method == "GET" else resident_context(request)
    purpose = context.purposes.get(purpose_code)
    if purpose is None:
        raise Http404
    settings = context.settings
    form_class = EmailFirstForm if settings.confirm_email_first else PersonsForm
    form = form_class(request.POST or None, max_persons=settings.max_persons)
    status = 200
    refusal: Refusal | int | None = None
    if request.method == "POST":
        if settings.confirm_email_first:
            if form.is_valid():
                return _send_email_link(request, purpose, form.cleaned_data)
        elif limited := limit_hit(request, "hold_ip", "hold_session"):
            return too_many(request, limited)
        if form.is_valid() and not settings.confirm_email_first:
            try:
                hold = hold_create(
                    slot_id=form.cleaned_data["slot"],
                    purpose_id=purpose.pk,
                    persons=form.cleaned_data["persons"],
                    now=timezone.now(),
                    client=hold_client(request),
                )
            except (SlotFullError, OutsideWindowError) as error:
                return _just_taken(request, purpose, chosen, str(error), settings)
            except HoldLimitError as error:  # the choice stays selected; the message says when to retry
                form.add_error(None, str(error))
                status, refusal = 429, error.retry_after
            except BookingError as error:
                form.add_error(None, str(error))
                status = 400
            else:
                return redirect("booking:hold", token=hold.token)
        else:
            status = 400
    else:
        return cached_page(
            request,
            key=key,
            # Only the address the page shows as its own (the language switch's `next`) is cached.
            cacheable=not request.META.get("QUERY_STRING") and day == chosen.isoformat(),
            stamp=page_stamp(context),
            template="booking/resident/day.html",
            page=lambda: _day_page(purpose, chosen, settings, form),
        )
    response = render(
        request, "booking/resident/day.html", _day_page(purpose, chosen, settings, form), status=status
    )
    return retry_after(response, refusal) if refusal is not None else response


def _send_email_link(request: HttpRequest, purpose: Purpose, data: dict[str, Any]) -> HttpResponse:
    """Email-first: no seats are held yet; the signed link in the mail opens the form (and holds them then)."""
    email = data["email"]
    if limited := email_link_refusal(request, email):
        return too_many(request, limited)
    email_link_send(
        slot_id=data["slot"],
        purpose_id=purpose.pk,
        persons=data["persons"],
        email=email,
        language=page_language(),
        base_url=request.build_absolute_uri("/"),
    )
    return render(request, "booking/resident/email_sent.html", {"email": email})


@never_cache  # shows the address the link was mailed to
@require_http_methods(["GET", "POST"])
def email_start(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an email-first mail. GET only shows the choice (mail scanners open links); POST holds the seats."""
    choice = email_link_read(token)
    purpose = Purpose.objects.filter(pk=choice["purpose"], active=True).first() if choice else None
    if choice is None or purpose is None:
        return render(request, "booking/resident/email_link_invalid.html", {}, status=410)
    slot = Slot.objects.filter(pk=choice["slot"]).first()
    if slot is None:
        raise Http404
    day = slot.start.astimezone(TOKYO).date()
    settings = settings_ensure()
    context = {
        "purpose_name": purpose.name(page_language()),
        "slot_label": f"{day_label(day)} {slot_label(slot.start)}",
        "persons": choice["persons"],
        "email": choice["email"],
    }
    if request.method == "POST":
        if limited := limit_hit(request, "hold_ip", "hold_session"):
            return too_many(request, limited)
        try:
            hold = hold_create(
                slot_id=slot.pk,
                purpose_id=purpose.pk,
                persons=int(choice["persons"]),
                now=timezone.now(),
                client=hold_client(request),
            )
        except HoldLimitError as error:  # the link stays usable: the same button works once a hold ends
            context["error"] = str(error)
            response = render(request, "booking/resident/email_start.html", context, status=429)
            return retry_after(response, error.retry_after)
        except BookingError as error:  # just taken, out of the window, or no longer bookable
            return _just_taken(request, purpose, day, str(error), settings)
        fixed_email_remember(request, hold.token, str(choice["email"]))
        return redirect("booking:hold", token=hold.token)
    return render(request, "booking/resident/email_start.html", context)


def _person_forms(
    request: HttpRequest, count: int, requires_notice_number: bool, prefill: str = ""
) -> list[PersonForm]:
    data = request.POST if request.method == "POST" else None
    return [
        PersonForm(
            data,
            prefix=f"p{i + 1}",
            requires_notice_number=requires_notice_number,
            initial={"notice_number": prefill} if i == 0 and prefill else None,
        )
        for i in range(count)
    ]


def _already_booked(request: HttpRequest) -> Reservation | None:
    """The booking a resubmitted form already made (its hold is gone once the first submission went through)."""
    try:
        key = uuid.UUID(request.POST.get("submission_key", ""))
    except ValueError:
        return None
    return Reservation.objects.filter(submission_key=key).first()


@never_cache  # the form shows the names, dates of birth and contact typed
def hold_form(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    hold = hold_get(token)
    now = timezone.now()
    if hold is None or hold.expires_at <= now:
        booked = _already_booked(request) if request.method == "POST" else None
        if booked is not None:
            return remember_done(request, booked.code)
        return render(request, "booking/resident/expired.html", {}, status=410)
    purpose = hold.purpose
    prefill = notice_prefill(request) if purpose.requires_notice_number else ""
    people = _person_forms(request, hold.persons, purpose.requires_notice_number, prefill)
    confirmed_email = fixed_email(request, hold.token)
    contact = ContactForm(
        request.POST if request.method == "POST" else None,
        initial={"submission_key": uuid.uuid4(), "email": confirmed_email},
    )
    if confirmed_email:
        # Confirmed by the email-first link: shown, not editable; a disabled field ignores what is posted.
        contact.fields["email"].disabled = True
        contact.fields["email"].help_text = _("確認済みのメールアドレスです。")
    status = 200
    error = ""
    refusal: Refusal | None = None
    if request.method == "POST":
        if purpose.requires_notice_number and (exhausted := notice_failures_exhausted(request)):
            return too_many(request, exhausted)
        valid = all([f.is_valid() for f in people] + [contact.is_valid()])
        notices = sorted({f.cleaned_data.get("notice_number", "") for f in people if f.is_valid()} - {""})
        refusal = confirm_refusal(request, notices, valid=valid)
        if refusal is not None:
            status = 429
            error = _(
                "短時間に何度も送信されたため、確認を一時的に遅らせています。%(when)sにもう一度お試しください。"
            ) % {"when": wait_label(refusal.retry_after)}
        elif valid:
            persons = [
                PersonInput(
                    name=f.cleaned_data["name"],
                    kana=f.cleaned_data.get("kana", ""),
                    birth_date=f.cleaned_data["birth_date"],
                    notice_number=f.cleaned_data.get("notice_number", ""),
                )
                for f in people
            ]
            try:
                reservation = reservation_confirm(
                    hold_token=hold.token,
                    persons=persons,
                    email=contact.cleaned_data["email"],
                    phone=contact.cleaned_data["phone"],
                    submission_key=contact.cleaned_data["submission_key"],
                    now=now,
                    language=page_language(),
                    actor=resident_actor(request),
                    base_url=request.build_absolute_uri("/"),
                )
            except (SlotFullError, OutsideWindowError) as refusal:
                return _just_taken(
                    request,
                    purpose,
                    hold.slot.start.astimezone(TOKYO).date(),
                    str(refusal),
                    settings_ensure(),
                )
            except NoticeRefusedError as refused:
                if limited := notice_refused(request, refused.notice_number, notices):
                    return too_many(request, limited)
                error, status = str(refused), 400
            except BookingError as refused:
                error, status = str(refused), 400
            else:
                return booking_made(request, reservation.code, notices)
        else:
            status = 400
    remaining = max(int((hold.expires_at - now).total_seconds()), 0)
    response = render(
        request,
        "booking/resident/form.html",
        {
            "hold": hold,
            "purpose_name": purpose.name(page_language()),
            "slot_label": f"{day_label(hold.slot.start.astimezone(TOKYO).date())} {slot_label(hold.slot.start)}",
            "wareki": to_wareki(hold.slot.start.astimezone(TOKYO).date()),
            "people": people,
            "contact": contact,
            "error": error,
            "remaining_minutes": (remaining + 59) // 60,
            "expires_iso": hold.expires_at.isoformat(),
        },
        status=status,
    )
    return retry_after(response, refusal) if refusal is not None else response
