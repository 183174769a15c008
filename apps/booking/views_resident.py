"""Resident booking pages: no account, phone first, Japanese first. Thin: parse, call a service, render.

purpose list → month calendar → times of a day (+ persons) → hold → form (countdown) → confirm → done.
Manage (signed link): see, cancel, change the time. Find: booking code + date of birth.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from apps.booking import mail
from apps.booking.availability import AVAILABLE, CLOSED, FEW, FULL, OUTSIDE, month_availability
from apps.booking.calendar import TOKYO, WEEKDAYS
from apps.booking.forms_fields import to_wareki
from apps.booking.forms_resident import ContactForm, EmailFirstForm, LookupForm, PersonForm, PersonsForm
from apps.booking.models import BookingSettings, Purpose, Reservation, Slot
from apps.booking.page_cache import (
    CONTEXT_KEY,
    CSRF_PLACEHOLDER,
    PAGE_SECONDS,
    page_key,
    page_with_csrf,
    resident_context,
)
from apps.booking.selectors_content import announcements_shown
from apps.booking.selectors_resident import day_times, hold_get, other_days, purpose_get, purposes_active
from apps.booking.services import (
    BookingError,
    NoticeRefusedError,
    OutsideWindowError,
    PersonInput,
    SlotFullError,
    hold_create,
    reservation_cancel,
    reservation_confirm,
    settings_ensure,
)
from apps.booking.services_resident import (
    email_link_read,
    email_link_token,
    manage_token,
    manage_token_read,
    rate_exhausted,
    rate_limited,
    reservation_find,
    reservation_move,
)
from apps.security.network import client_ip
from madoguchi.prefetch import prefetch, prefetched

STATUS_LABELS = {
    AVAILABLE: ("○", gettext_noop("空きあり")),
    FEW: ("△", gettext_noop("残りわずか")),
    FULL: ("×", gettext_noop("満席")),
    CLOSED: ("—", gettext_noop("休み")),
    OUTSIDE: ("—", gettext_noop("受付期間外")),
}
DONE_SESSION_KEY = "booking_done"
FIXED_EMAIL_SESSION_KEY = "booking_fixed_email"  # hold token -> the address confirmed by an email-first link
NOTICE_PREFILL_SESSION_KEY = (
    "booking_notice_prefill"  # the notice number a notice letter's short link carried
)


def _language() -> str:
    return "en" if (translation.get_language() or "ja").startswith("en") else "ja"


def _purpose_or_404(code: str) -> Purpose:
    purpose = purpose_get(code)
    if purpose is None:
        raise Http404
    return purpose


def _too_many(request: HttpRequest, context: dict[str, Any] | None = None) -> HttpResponse:
    return render(request, "booking/resident/too_many.html", context or {}, status=429)


def _slot_label(start: datetime) -> str:
    local = start.astimezone(TOKYO)
    return f"{local:%H:%M}"


def _day_label(day: date) -> str:
    return f"{day:%Y-%m-%d}（{WEEKDAYS[day.weekday()]}）"


def purpose_list(request: HttpRequest) -> HttpResponse:
    language = _language()
    items = [(p, p.name(language)) for p in purposes_active()]
    context = {"purposes": items, "announcements": announcements_shown(timezone.now(), language)}
    return render(request, "booking/resident/purposes.html", context)


def _parse_month(text: str, today: date) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(text, "%Y-%m")
        return parsed.year, parsed.month
    except ValueError:
        return today.year, today.month


def _shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def month_calendar(request: HttpRequest, purpose_code: str) -> HttpResponse:
    """The month's availability. For residents without a session message the whole page is cached (page_cache):
    a warm page is one cache read and the CSRF token put in; bookings forget it as they commit."""
    now = timezone.now()
    today = now.astimezone(TOKYO).date()
    asked = request.GET.get("month", "")
    year, month = _parse_month(asked, today)
    language = _language()
    key = page_key(purpose_code, year, month, language, today, month_in_query=bool(asked))
    prefetch(request, [CONTEXT_KEY, key])
    context = resident_context(request)
    purpose = context.purposes.get(purpose_code)
    if purpose is None:
        raise Http404
    settings = context.settings
    last_day = today + timedelta(days=settings.opens_days_ahead)
    in_window = (today.year, today.month) <= (year, month) <= (last_day.year, last_day.month)
    if not in_window:
        year, month = today.year, today.month
    cacheable = (
        in_window
        and set(request.GET) <= {"month"}
        and asked in ("", f"{year:04d}-{month:02d}")
        and not request.user.is_authenticated
        and not len(messages.get_messages(request))
    )
    _found, cached = prefetched(request, key)
    if cacheable and isinstance(cached, tuple) and cached[0] == context.stamp:
        return page_with_csrf(request, cached[1])
    body = _calendar_body(purpose, year, month, settings, now)
    page = {"purpose_name": purpose.name(language), "year": year, "month": month, "body": body}
    if not cacheable:
        return render(request, "booking/resident/calendar.html", page)
    html = render_to_string(
        "booking/resident/calendar.html", {**page, "csrf_token": CSRF_PLACEHOLDER}, request=request
    )
    cache.set(key, (context.stamp, html), PAGE_SECONDS)
    return page_with_csrf(request, html)


def _calendar_body(purpose: Purpose, year: int, month: int, settings: BookingSettings, now: datetime) -> str:
    today = now.astimezone(TOKYO).date()
    last_day = today + timedelta(days=settings.opens_days_ahead)
    days = month_availability(purpose=purpose, year=year, month=month, settings=settings, now=now)
    leading = [None] * days[0].day.weekday()  # the grid starts on Monday
    cells = leading + [
        {
            "day": d,
            "status": d.status,
            "symbol": STATUS_LABELS[d.status][0],
            "label": _(STATUS_LABELS[d.status][1]),
            "bookable": d.status in (AVAILABLE, FEW),
            "weekday": d.day.weekday(),
            "today": d.day == today,
        }
        for d in days
    ]
    cells += [None] * (-len(cells) % 7)
    weeks = [cells[i : i + 7] for i in range(0, len(cells), 7)]
    previous, following = _shift(year, month, -1), _shift(year, month, 1)
    return render_to_string(
        "booking/resident/_calendar_body.html",
        {
            "purpose": purpose,
            "purpose_name": purpose.name(_language()),
            "year": year,
            "month": month,
            "weeks": weeks,
            "weekdays": [str(w) for w in WEEKDAYS],
            "previous": f"{previous[0]:04d}-{previous[1]:02d}"
            if previous >= (today.year, today.month)
            else None,
            "next": f"{following[0]:04d}-{following[1]:02d}"
            if following <= (last_day.year, last_day.month)
            else None,
            "legend": [
                (s, STATUS_LABELS[s][0], _(STATUS_LABELS[s][1]))
                for s in (AVAILABLE, FEW, FULL, CLOSED, OUTSIDE)
            ],
        },
    )


def _day_context(purpose: Purpose, day: date, settings: BookingSettings, now: datetime) -> dict[str, Any]:
    times = day_times(purpose=purpose, day=day, settings=settings, now=now)
    return {
        "purpose": purpose,
        "purpose_name": purpose.name(_language()),
        "day": day,
        "day_label": _day_label(day),
        "wareki": to_wareki(day),
        "times": [{"choice": t, "label": _slot_label(t.slot.start)} for t in times],
        "any_free": any(t.persons_free for t in times),
        "max_persons": settings.max_persons,
        "month": f"{day:%Y-%m}",
    }


def _just_taken(
    request: HttpRequest, purpose: Purpose, day: date, message: str, settings: BookingSettings
) -> HttpResponse:
    now = timezone.now()
    context = _day_context(purpose, day, settings, now)
    context["message"] = message
    context["other_days"] = [
        (d, _day_label(d)) for d in other_days(purpose=purpose, after=day, settings=settings, now=now)
    ]
    context["persons_choices"] = range(1, settings.max_persons + 1)
    return render(request, "booking/resident/just_taken.html", context, status=409)


@require_http_methods(["GET", "POST"])
def day_view(request: HttpRequest, purpose_code: str, day: str) -> HttpResponse:
    purpose = _purpose_or_404(purpose_code)
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    settings = settings_ensure()
    form_class = EmailFirstForm if settings.confirm_email_first else PersonsForm
    form = form_class(request.POST or None, max_persons=settings.max_persons)
    status = 200
    if request.method == "POST":
        if rate_limited("hold_ip", client_ip(request)):
            return _too_many(request)
        if form.is_valid() and settings.confirm_email_first:
            return _send_email_link(request, purpose, form.cleaned_data)
        if form.is_valid():
            try:
                hold = hold_create(
                    slot_id=form.cleaned_data["slot"],
                    purpose_id=purpose.pk,
                    persons=form.cleaned_data["persons"],
                    now=timezone.now(),
                )
            except (SlotFullError, OutsideWindowError) as error:
                return _just_taken(request, purpose, chosen, str(error), settings)
            except BookingError as error:
                form.add_error(None, str(error))
                status = 400
            else:
                return redirect("booking:hold", token=hold.token)
        else:
            status = 400
    context = _day_context(purpose, chosen, settings, timezone.now())
    context["form"] = form
    context["selected_slot"] = str(form["slot"].value() or "")
    context["persons_choices"] = range(1, settings.max_persons + 1)
    context["selected_persons"] = str(form["persons"].value() or "1")
    context["email_first"] = settings.confirm_email_first
    return render(request, "booking/resident/day.html", context, status=status)


def _send_email_link(request: HttpRequest, purpose: Purpose, data: dict[str, Any]) -> HttpResponse:
    """Email-first: no seats are held yet; the signed link in the mail opens the form (and holds them then)."""
    email = data["email"]
    if rate_limited("email_link_ip", client_ip(request)) or rate_limited("email_link_address", email.lower()):
        return _too_many(request)
    token = email_link_token(
        slot_id=data["slot"], purpose_id=purpose.pk, persons=data["persons"], email=email
    )
    url = request.build_absolute_uri(reverse("booking:email_start", kwargs={"token": token}))
    mail.send_email_link(email=email, url=url, language=_language())
    return render(request, "booking/resident/email_sent.html", {"email": email})


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
    if request.method == "POST":
        if rate_limited("hold_ip", client_ip(request)):
            return _too_many(request)
        try:
            hold = hold_create(
                slot_id=slot.pk, purpose_id=purpose.pk, persons=int(choice["persons"]), now=timezone.now()
            )
        except BookingError as error:  # just taken, out of the window, or no longer bookable
            return _just_taken(request, purpose, day, str(error), settings)
        fixed = dict(request.session.get(FIXED_EMAIL_SESSION_KEY, {}))
        fixed = dict(list(fixed.items())[-9:])
        fixed[str(hold.token)] = str(choice["email"])
        request.session[FIXED_EMAIL_SESSION_KEY] = fixed
        return redirect("booking:hold", token=hold.token)
    context = {
        "purpose_name": purpose.name(_language()),
        "slot_label": f"{_day_label(day)} {_slot_label(slot.start)}",
        "persons": choice["persons"],
        "email": choice["email"],
    }
    return render(request, "booking/resident/email_start.html", context)


def notice_prefill_remember(request: HttpRequest, notice_number: str) -> None:
    """Fill the first person's notice number in the next booking form of this browser (the short link of a
    notice letter, `/n/<number>`); the number is not checked here: the form's check gives the one answer."""
    request.session[NOTICE_PREFILL_SESSION_KEY] = notice_number


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


@require_http_methods(["GET", "POST"])
def _remember_done(request: HttpRequest, code: str) -> HttpResponse:
    done = list(request.session.get(DONE_SESSION_KEY, []))[-9:]
    request.session[DONE_SESSION_KEY] = [*done, code]
    return redirect("booking:done", code=code)


def _already_booked(request: HttpRequest) -> Reservation | None:
    """The booking a resubmitted form already made (its hold is gone once the first submission went through)."""
    try:
        key = uuid.UUID(request.POST.get("submission_key", ""))
    except ValueError:
        return None
    return Reservation.objects.filter(submission_key=key).first()


def hold_form(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    hold = hold_get(token)
    now = timezone.now()
    if hold is None or hold.expires_at <= now:
        booked = _already_booked(request) if request.method == "POST" else None
        if booked is not None:
            return _remember_done(request, booked.code)
        return render(request, "booking/resident/expired.html", {}, status=410)
    purpose = hold.purpose
    prefill = (
        str(request.session.get(NOTICE_PREFILL_SESSION_KEY, "")) if purpose.requires_notice_number else ""
    )
    people = _person_forms(request, hold.persons, purpose.requires_notice_number, prefill)
    fixed_email = request.session.get(FIXED_EMAIL_SESSION_KEY, {}).get(str(hold.token), "")
    contact = ContactForm(
        request.POST if request.method == "POST" else None,
        initial={"submission_key": uuid.uuid4(), "email": fixed_email},
    )
    if fixed_email:
        # Confirmed by the email-first link: shown, not editable; a disabled field ignores what is posted.
        contact.fields["email"].disabled = True
        contact.fields["email"].help_text = _("確認済みのメールアドレスです。")
    status = 200
    error = ""
    if request.method == "POST":
        address = client_ip(request)
        if purpose.requires_notice_number and rate_exhausted("notice_fail_ip", address):
            return _too_many(request)
        valid = all([f.is_valid() for f in people] + [contact.is_valid()])
        notices = [f.cleaned_data.get("notice_number", "") for f in people if f.is_valid()]
        if rate_limited("confirm_ip", address) or any(rate_limited("notice", n) for n in notices if n):
            status = 429
            error = _(
                "短時間に何度も送信されたため、受付を一時的に止めています。しばらくしてからもう一度お試しください。"
            )
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
                    language=_language(),
                )
            except (SlotFullError, OutsideWindowError) as refusal:
                return _just_taken(
                    request,
                    purpose,
                    hold.slot.start.astimezone(TOKYO).date(),
                    str(refusal),
                    settings_ensure(),
                )
            except NoticeRefusedError as refusal:
                # Counted per address: guessing numbers or dates of birth from one place soon meets a 429.
                if rate_limited("notice_fail_ip", address):
                    return _too_many(request)
                error, status = str(refusal), 400
            except BookingError as refusal:
                error, status = str(refusal), 400
            else:
                request.session.pop(NOTICE_PREFILL_SESSION_KEY, None)
                # A double click returns the same booking twice: the first request to claim it sends the mail.
                if cache.add(f"booking:mail:booked:{reservation.pk}", 1, 24 * 3600):
                    mail.send_after_commit(reservation.pk, mail.BOOKED, request.build_absolute_uri("/"))
                return _remember_done(request, reservation.code)
        else:
            status = 400
    remaining = max(int((hold.expires_at - now).total_seconds()), 0)
    return render(
        request,
        "booking/resident/form.html",
        {
            "hold": hold,
            "purpose_name": purpose.name(_language()),
            "slot_label": f"{_day_label(hold.slot.start.astimezone(TOKYO).date())} {_slot_label(hold.slot.start)}",
            "wareki": to_wareki(hold.slot.start.astimezone(TOKYO).date()),
            "people": people,
            "contact": contact,
            "error": error,
            "remaining_minutes": (remaining + 59) // 60,
            "expires_iso": hold.expires_at.isoformat(),
        },
        status=status,
    )


def _reservation_context(reservation: Reservation) -> dict[str, Any]:
    language = _language()
    start = reservation.slot.start.astimezone(TOKYO)
    return {
        "reservation": reservation,
        "persons": list(reservation.persons.all()),
        "purpose_name": reservation.purpose.name(language),
        "bring": reservation.purpose.bring(language),
        "counter": reservation.slot.counter_group,
        "day_label": _day_label(start.date()),
        "time_label": f"{start:%H:%M}–{reservation.slot.end.astimezone(TOKYO):%H:%M}",
        "wareki": to_wareki(start.date()),
        "city_phone": mail.city_phone(),
    }


def done(request: HttpRequest, code: str) -> HttpResponse:
    if code not in request.session.get(DONE_SESSION_KEY, []):
        raise Http404  # the page is for the browser that booked; others use the mail's link or /book/find/
    reservation = (
        Reservation.objects.select_related("slot__counter_group", "purpose").filter(code=code).first()
    )
    if reservation is None:
        raise Http404
    context = _reservation_context(reservation)
    context["manage_url"] = reverse("booking:manage", kwargs={"token": manage_token(reservation)})
    return render(request, "booking/resident/done.html", context)


@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    reservation = manage_token_read(token, now=now)
    if reservation is None:
        return render(request, "booking/resident/link_invalid.html", {}, status=404)
    settings = settings_ensure()
    context = _reservation_context(reservation)
    context["token"] = token
    context["can_change"] = reservation.status == Reservation.Status.BOOKED and (
        reservation.slot.start - now >= timedelta(hours=settings.change_deadline_hours)
    )
    status = 200
    if request.method == "POST" and request.POST.get("action") == "cancel":
        try:
            reservation = reservation_cancel(reservation_id=reservation.pk, now=now)
        except BookingError as error:
            context["error"], status = str(error), 400
        else:
            mail.send_after_commit(reservation.pk, mail.CANCELLED, request.build_absolute_uri("/"))
            return redirect("booking:manage", token=token)
    return render(request, "booking/resident/manage.html", context, status=status)


@require_http_methods(["GET", "POST"])
def manage_change(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    reservation = manage_token_read(token, now=now)
    if reservation is None or reservation.status != Reservation.Status.BOOKED:
        return render(request, "booking/resident/link_invalid.html", {}, status=404)
    settings = settings_ensure()
    purpose = reservation.purpose
    try:
        chosen = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        chosen = reservation.slot.start.astimezone(TOKYO).date()
    status = 200
    error = ""
    if request.method == "POST":
        if rate_limited("hold_ip", client_ip(request)):
            return _too_many(request)
        try:
            slot_id = int(request.POST.get("slot", ""))
            moved = reservation_move(reservation_id=reservation.pk, new_slot_id=slot_id, now=now)
        except ValueError:
            error, status = _("時間を選んでください。"), 400
        except BookingError as refusal:
            error, status = str(refusal), 409
        else:
            mail.send_after_commit(moved.pk, mail.CHANGED, request.build_absolute_uri("/"))
            return redirect("booking:manage", token=manage_token(moved))
    needed = reservation.seats // max(purpose.seats_per_person, 1)
    context = _day_context(purpose, chosen, settings, now)
    context.update(
        {
            "reservation": reservation,
            "token": token,
            "error": error,
            "needed": needed,
            "previous_day": (chosen - timedelta(days=1)).isoformat(),
            "next_day": (chosen + timedelta(days=1)).isoformat(),
        }
    )
    return render(request, "booking/resident/change.html", context, status=status)


@require_http_methods(["GET", "POST"])
def find(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if rate_limited("lookup_ip", client_ip(request)):
            return _too_many(request, {"form": form})
        if form.is_valid():
            reservation = reservation_find(
                code=form.cleaned_data["code"], birth_date=form.cleaned_data["birth_date"]
            )
            if reservation is not None and reservation.slot.start > timezone.now():
                return redirect("booking:manage", token=manage_token(reservation))
            form.add_error(
                None, _("予約番号と生年月日の組み合わせが見つかりません。入力内容を確かめてください。")
            )
        status = 400
    return render(request, "booking/resident/find.html", {"form": form}, status=status)
