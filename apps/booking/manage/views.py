"""A resident's booking after it is made: the done page, the manage page from the mail's signed link (see, cancel,
change the time), and find (booking code + date of birth). Thin: parse, call a service, render."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.booking.calendar.hours import TOKYO
from apps.booking.errors import BookingError
from apps.booking.models import Reservation
from apps.booking.reservations.services import before_change_deadline, reservation_cancel, settings_ensure
from apps.booking.resident.forms import LookupForm
from apps.booking.resident.presenters import (
    day_context,
    reservation_context,
)
from apps.booking.resident.services import (
    cool_down_failed,
    cool_down_passed,
    cool_down_wait,
    manage_token,
    manage_token_read,
    reservation_find,
    reservation_move,
)
from apps.booking.resident.session import (
    DONE_SESSION_KEY,
    limit_hit,
    retry_after,
    too_many,
    wait_label,
)
from apps.security.request_actor import resident_actor


@never_cache  # the booking's persons and contact
def done(request: HttpRequest, code: str) -> HttpResponse:
    if code not in request.session.get(DONE_SESSION_KEY, []):
        raise Http404  # the page is for the browser that booked; others use the mail's link or /book/find/
    reservation = (
        Reservation.objects.select_related("slot__counter_group", "purpose").filter(code=code).first()
    )
    if reservation is None:
        raise Http404
    context = reservation_context(reservation)
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
    context = reservation_context(reservation)
    context["token"] = token
    context["can_change"] = reservation.status == Reservation.Status.BOOKED and before_change_deadline(
        reservation.slot.start, now, settings
    )
    status = 200
    if request.method == "POST" and request.POST.get("action") == "cancel":
        try:
            reservation_cancel(
                reservation_id=reservation.pk,
                now=now,
                actor=resident_actor(request),
                base_url=request.build_absolute_uri("/"),
            )
        except BookingError as error:
            context["error"], status = str(error), 400
        else:
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
        if limited := limit_hit(request, "hold_ip", "hold_session"):
            return too_many(request, limited)
        try:
            slot_id = int(request.POST.get("slot", ""))
            moved = reservation_move(
                reservation_id=reservation.pk,
                new_slot_id=slot_id,
                now=now,
                base_url=request.build_absolute_uri("/"),
            )
        except ValueError:
            error, status = _("時間を選んでください。"), 400
        except BookingError as refusal:
            error, status = str(refusal), 409
        else:
            return redirect("booking:manage", token=manage_token(moved))
    needed = reservation.seats // max(purpose.seats_per_person, 1)
    context = day_context(purpose, chosen, settings, now)
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
        if limited := limit_hit(request, "lookup_ip", "lookup_session"):
            return too_many(request, limited, {"form": form})
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
                    % {"when": wait_label(waiting.retry_after)},
                )
                response = render(request, "booking/resident/find.html", {"form": form}, status=429)
                return retry_after(response, waiting)
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
