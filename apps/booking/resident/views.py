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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.booking.calendar.availability import AVAILABLE, CLOSED, FEW, FULL, OUTSIDE, month_availability
from apps.booking.calendar.hours import TOKYO, WEEKDAYS
from apps.booking.content.selectors import announcements_shown
from apps.booking.models import BookingSettings, Purpose, Reservation, Slot
from apps.booking.reservations import mail
from apps.booking.reservations.selectors import city_phone
from apps.booking.reservations.services import (
    BookingError,
    HoldClient,
    HoldLimitError,
    NoticeRefusedError,
    OutsideWindowError,
    PersonInput,
    SlotFullError,
    hold_create,
    reservation_cancel,
    reservation_confirm,
    settings_ensure,
)
from apps.booking.resident.forms import ContactForm, EmailFirstForm, LookupForm, PersonForm, PersonsForm
from apps.booking.resident.page_cache import (
    CONTEXT_KEY,
    CSRF_PLACEHOLDER,
    PAGE_SECONDS,
    canonical_query,
    page_key,
    page_with_csrf,
    resident_context,
)
from apps.booking.resident.selectors import day_times, hold_get, other_days, purpose_get, purposes_active
from apps.booking.resident.services import (
    NOTICE_PREFILL_SESSION_KEY,
    Refusal,
    address_hit,
    address_peek,
    cool_down_failed,
    cool_down_passed,
    cool_down_wait,
    email_link_read,
    email_link_token,
    manage_token,
    manage_token_read,
    rate_hit,
    reservation_find,
    reservation_move,
)
from apps.security.counters import subject as counter_subject
from apps.security.network import client_ip
from base.japanese import to_wareki
from base.prefetch import prefetch, prefetched

STATUS_LABELS = {
    AVAILABLE: ("○", gettext_noop("空きあり")),
    FEW: ("△", gettext_noop("残りわずか")),
    FULL: ("×", gettext_noop("満席")),
    CLOSED: ("—", gettext_noop("休み")),
    OUTSIDE: ("—", gettext_noop("受付期間外")),
}
DONE_SESSION_KEY = "booking_done"
FIXED_EMAIL_SESSION_KEY = "booking_fixed_email"  # hold token -> the address confirmed by an email-first link


def _language() -> str:
    return "en" if (translation.get_language() or "ja").startswith("en") else "ja"


def _purpose_or_404(code: str) -> Purpose:
    purpose = purpose_get(code)
    if purpose is None:
        raise Http404
    return purpose


RESIDENT_SESSION_KEY = "booking_resident"  # marks a session made for the per-session limits


def _session_key(request: HttpRequest) -> str:
    """The resident's session key for the per-session limits and hold caps, making a session when there is none.

    Only POST handlers call this: the cached calendar page never makes or reads a session for itself."""
    session = request.session
    if not session.session_key:
        session[RESIDENT_SESSION_KEY] = True  # modified: the middleware sends the cookie
        session.save()
    return str(session.session_key or "")


def _limited(request: HttpRequest, address_name: str, session_name: str) -> Refusal | None:
    """Count one attempt against the address buckets (generous) and the session (tight)."""
    return address_hit(address_name, client_ip(request)) or rate_hit(session_name, _session_key(request))


def _wait_label(seconds: int) -> str:
    if seconds < 60:
        return _("%(seconds)d秒後") % {"seconds": seconds}
    return _("%(minutes)d分後") % {"minutes": (seconds + 59) // 60}


def _retry_after(response: HttpResponse, refusal: Refusal | int) -> HttpResponse:
    seconds = refusal.retry_after if isinstance(refusal, Refusal) else refusal
    response["Retry-After"] = str(max(1, int(seconds)))
    return response


def _too_many(request: HttpRequest, refusal: Refusal, context: dict[str, Any] | None = None) -> HttpResponse:
    page = {**(context or {}), "retry_after_label": _wait_label(refusal.retry_after)}
    return _retry_after(render(request, "booking/resident/too_many.html", page, status=429), refusal)


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
    # Only a canonical address is cached: the page shows its own address (the language switch's `next`), and a
    # repeated or unknown parameter (e.g. the CSRF placeholder as a second ?month=) must never get into a page
    # that is served to others, or filled with their tokens.
    canonical = canonical_query(request, year, month)
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
        and canonical
        and not request.user.is_authenticated
        and not len(messages.get_messages(request))
    )
    _found, cached = prefetched(request, key) if canonical else (False, None)
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


@never_cache  # an email-first form shows the address typed
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
    refusal: Refusal | int | None = None
    if request.method == "POST":
        if settings.confirm_email_first:
            if form.is_valid():
                return _send_email_link(request, purpose, form.cleaned_data)
        elif limited := _limited(request, "hold_ip", "hold_session"):
            return _too_many(request, limited)
        if form.is_valid() and not settings.confirm_email_first:
            try:
                hold = hold_create(
                    slot_id=form.cleaned_data["slot"],
                    purpose_id=purpose.pk,
                    persons=form.cleaned_data["persons"],
                    now=timezone.now(),
                    client=HoldClient(session_key=_session_key(request), address=client_ip(request)),
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
    context = _day_context(purpose, chosen, settings, timezone.now())
    context["form"] = form
    context["selected_slot"] = str(form["slot"].value() or "")
    context["persons_choices"] = range(1, settings.max_persons + 1)
    context["selected_persons"] = str(form["persons"].value() or "1")
    context["email_first"] = settings.confirm_email_first
    response = render(request, "booking/resident/day.html", context, status=status)
    return _retry_after(response, refusal) if refusal is not None else response


def _send_email_link(request: HttpRequest, purpose: Purpose, data: dict[str, Any]) -> HttpResponse:
    """Email-first: no seats are held yet; the signed link in the mail opens the form (and holds them then)."""
    email = data["email"]
    limited = _limited(request, "email_link_ip", "email_link_session") or rate_hit(
        "email_link_address", counter_subject(email.lower())
    )
    if limited:
        return _too_many(request, limited)
    token = email_link_token(
        slot_id=data["slot"], purpose_id=purpose.pk, persons=data["persons"], email=email
    )
    url = request.build_absolute_uri(reverse("booking:email_start", kwargs={"token": token}))
    mail.send_email_link(email=email, url=url, language=_language())
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
        "purpose_name": purpose.name(_language()),
        "slot_label": f"{_day_label(day)} {_slot_label(slot.start)}",
        "persons": choice["persons"],
        "email": choice["email"],
    }
    if request.method == "POST":
        if limited := _limited(request, "hold_ip", "hold_session"):
            return _too_many(request, limited)
        try:
            hold = hold_create(
                slot_id=slot.pk,
                purpose_id=purpose.pk,
                persons=int(choice["persons"]),
                now=timezone.now(),
                client=HoldClient(session_key=_session_key(request), address=client_ip(request)),
            )
        except HoldLimitError as error:  # the link stays usable: the same button works once a hold ends
            context["error"] = str(error)
            response = render(request, "booking/resident/email_start.html", context, status=429)
            return _retry_after(response, error.retry_after)
        except BookingError as error:  # just taken, out of the window, or no longer bookable
            return _just_taken(request, purpose, day, str(error), settings)
        fixed = dict(request.session.get(FIXED_EMAIL_SESSION_KEY, {}))
        fixed = dict(list(fixed.items())[-9:])
        fixed[str(hold.token)] = str(choice["email"])
        request.session[FIXED_EMAIL_SESSION_KEY] = fixed
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


@never_cache  # the form shows the names, dates of birth and contact typed
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
    refusal: Refusal | None = None
    if request.method == "POST":
        address = client_ip(request)
        if purpose.requires_notice_number and (exhausted := address_peek("notice_fail_ip", address)):
            return _too_many(request, exhausted)
        valid = all([f.is_valid() for f in people] + [contact.is_valid()])
        notices = sorted({f.cleaned_data.get("notice_number", "") for f in people if f.is_valid()} - {""})
        refusal = _limited(request, "confirm_ip", "confirm_session")
        if refusal is None and valid:
            # A cool-down per notice number (services_resident.COOL_DOWNS): slower answers, never a lock.
            refusal = next((r for r in (cool_down_wait("notice", n) for n in notices) if r), None)
        if refusal is not None:
            status = 429
            error = _(
                "短時間に何度も送信されたため、確認を一時的に遅らせています。%(when)sにもう一度お試しください。"
            ) % {"when": _wait_label(refusal.retry_after)}
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
            except NoticeRefusedError as refused:
                # Counted per notice number (the cool-down) and per address: guessing dates of birth for one
                # number soon slows down, and guessing numbers from one place soon meets a 429.
                for number in [refused.notice_number] if refused.notice_number else notices:
                    cool_down_failed("notice", number)
                if limited := address_hit("notice_fail_ip", address):
                    return _too_many(request, limited)
                error, status = str(refused), 400
            except BookingError as refused:
                error, status = str(refused), 400
            else:
                for number in notices:
                    cool_down_passed("notice", number)
                request.session.pop(NOTICE_PREFILL_SESSION_KEY, None)
                # A double click returns the same booking twice: the first request to claim it sends the mail.
                if cache.add(f"booking:mail:booked:{reservation.pk}", 1, 24 * 3600):
                    mail.send_after_commit(reservation.pk, mail.BOOKED, request.build_absolute_uri("/"))
                return _remember_done(request, reservation.code)
        else:
            status = 400
    remaining = max(int((hold.expires_at - now).total_seconds()), 0)
    response = render(
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
    return _retry_after(response, refusal) if refusal is not None else response


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
        "city_phone": city_phone(),
    }


@never_cache  # the booking's persons and contact
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


@never_cache  # the booking's persons and contact
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


@never_cache  # the booking's persons and contact
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
        if limited := _limited(request, "hold_ip", "hold_session"):
            return _too_many(request, limited)
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


@never_cache  # the code and date of birth typed
@require_http_methods(["GET", "POST"])
def find(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if limited := _limited(request, "lookup_ip", "lookup_session"):
            return _too_many(request, limited, {"form": form})
        if form.is_valid():
            code = form.cleaned_data["code"]
            # A cool-down per booking code (services_resident.COOL_DOWNS): after a few wrong dates of birth for
            # one code, one try per interval, whoever asks; the form is kept to send again when it is time.
            if waiting := cool_down_wait("lookup_code", code):
                form.add_error(
                    None,
                    _(
                        "この予約番号では入力の誤りが続いたため、確認を遅らせています。"
                        "%(when)sにもう一度「予約を表示する」を押してください。"
                    )
                    % {"when": _wait_label(waiting.retry_after)},
                )
                response = render(request, "booking/resident/find.html", {"form": form}, status=429)
                return _retry_after(response, waiting)
            reservation = reservation_find(code=code, birth_date=form.cleaned_data["birth_date"])
            if reservation is not None and reservation.slot.start > timezone.now():
                cool_down_passed("lookup_code", code)
                return redirect("booking:manage", token=manage_token(reservation))
            if reservation is None:
                cool_down_failed("lookup_code", code)
            form.add_error(
                None, _("予約番号と生年月日の組み合わせが見つかりません。入力内容を確かめてください。")
            )
        status = 400
    return render(request, "booking/resident/find.html", {"form": form}, status=status)
