"""Staff booking pages: the counter's day (check-in, phone and walk-in bookings), and the bookings that need a
decision. The configuration pages are calendar.views.

Thin views: parse a form, call one service or selector, render. Pages that show residents' personal data read it
through a selector that takes the actor and records a `personal_data.viewed` event (selectors.py).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.booking.calendar.hours import TOKYO
from apps.booking.calendar.services import settings_ensure
from apps.booking.errors import BookingError
from apps.booking.models import Reservation, Slot
from apps.booking.staff import selectors as selectors_staff
from apps.booking.staff import services as services_staff
from apps.booking.staff.forms import (
    MarkForm,
    RaiseSeatsForm,
    SlotChoiceForm,
    StaffBookingForm,
)
from apps.booking.staff.pages import form_errors, next_or
from apps.security.request_actor import request_actor
from apps.security.roles import CONFIGURE_BOOKING, WORK_COUNTER, require_permission


@require_permission(WORK_COUNTER)
def affected(request: HttpRequest) -> HttpResponse:
    reservations = selectors_staff.affected_reservations(actor=request_actor(request))
    return render(request, "booking/staff/affected.html", {"reservations": reservations})


def _reservation(reservation_id: int) -> Reservation:
    return get_object_or_404(
        Reservation.objects.select_related("slot__counter_group", "purpose").prefetch_related("persons"),
        pk=reservation_id,
    )


@require_permission(WORK_COUNTER)
def reservation_move(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = _reservation(reservation_id)
    targets = list(selectors_staff.move_targets(reservation=reservation, now=timezone.now()))
    form = SlotChoiceForm(request.POST or None, slots=targets)
    if request.method == "POST" and form.is_valid():
        try:
            services_staff.reservation_move_by_staff(
                reservation_id=reservation.pk,
                slot_id=form.cleaned_data["slot"],
                actor=request_actor(request),
            )
        except BookingError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, _("予約 %(code)s を移しました。") % {"code": reservation.code})
            return redirect("booking_staff:affected")
    selectors_staff.reservation_viewed(reservation, page=selectors_staff.MOVE, actor=request_actor(request))
    status = 400 if request.method == "POST" else 200
    context = {"reservation": reservation, "form": form}
    return render(request, "booking/staff/reservation_move.html", context, status=status)


@require_permission(WORK_COUNTER)
def reservation_cancel(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """A confirmation page first: a cancel mails the resident and cannot be undone."""
    reservation = selectors_staff.reservation_viewed(
        _reservation(reservation_id), page=selectors_staff.CANCEL, actor=request_actor(request)
    )
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return render(
        request, "booking/staff/reservation_cancel.html", {"reservation": reservation, "next": back}
    )


@require_permission(WORK_COUNTER)
@require_POST
def reservation_mark(request: HttpRequest, reservation_id: int) -> HttpResponse:
    reservation = get_object_or_404(Reservation.objects.select_related("slot"), pk=reservation_id)
    day = reservation.slot.start.astimezone(TOKYO).date()
    default = f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"
    form = MarkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作を選んでください。"))
        return redirect(next_or(request, default))
    try:
        marked = services_staff.reservation_mark(
            reservation_id=reservation.pk,
            status=form.cleaned_data["status"],
            actor=request_actor(request),
            now=timezone.now(),
        )
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(
        request,
        _("予約 %(code)s を「%(status)s」にしました。")
        % {"code": marked.code, "status": marked.get_status_display()},
    )
    return redirect(next_or(request, default))


# The counter's day


def _parse_day(request: HttpRequest) -> date:
    try:
        return date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return timezone.localdate()


def _parse_counter(request: HttpRequest) -> int | None:
    value = request.GET.get("counter", "")
    return int(value) if value.isdigit() else None


def _day_page(
    request: HttpRequest,
    *,
    day: date,
    counter_id: int | None,
    booking_form: StaffBookingForm | None = None,
    error: str = "",
    status: int = 200,
    template: str = "booking/staff/day.html",
) -> HttpResponse:
    schedule = selectors_staff.day_schedule_viewed(
        day=day, counter_id=counter_id, actor=request_actor(request)
    )
    slots = [slot for counter in schedule for slot in counter.slots if not slot.blocked]
    grace = timedelta(minutes=settings_ensure().no_show_grace_minutes)
    query = f"&counter={counter_id}" if counter_id else ""
    context = {
        "day": day,
        "schedule": schedule,
        "counter_id": counter_id,
        "groups": selectors_staff.counter_groups(),
        "prev_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "counter_query": query,
        "no_show_cutoff": timezone.now() - grace,
        "booking_form": booking_form or StaffBookingForm(slots=slots),
        "raise_form": RaiseSeatsForm(),
        "error": error,
        "here": f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}{query}",
    }
    return render(request, template, context, status=status)


@require_permission(WORK_COUNTER)
def day_view(request: HttpRequest) -> HttpResponse:
    return _day_page(request, day=_parse_day(request), counter_id=_parse_counter(request))


@require_permission(WORK_COUNTER)
def day_print(request: HttpRequest) -> HttpResponse:
    return _day_page(
        request,
        day=_parse_day(request),
        counter_id=_parse_counter(request),
        template="booking/staff/day_print.html",
    )


@require_permission(WORK_COUNTER)
@require_POST
def day_book(request: HttpRequest) -> HttpResponse:
    day, counter_id = _parse_day(request), _parse_counter(request)
    schedule = selectors_staff.day_schedule(day=day, counter_id=counter_id)
    slots = [slot for counter in schedule for slot in counter.slots if not slot.blocked]
    form = StaffBookingForm(request.POST, slots=slots)
    if form.is_valid():
        try:
            reservation = services_staff.reservation_book_by_staff(
                slot_id=form.cleaned_data["slot"],
                purpose_id=form.cleaned_data["purpose"].pk,
                persons=form.persons(),
                phone=form.cleaned_data["phone"],
                email=form.cleaned_data["email"],
                channel=form.cleaned_data["channel"],
                actor=request_actor(request),
                now=timezone.now(),
            )
        except BookingError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, _("予約 %(code)s を受け付けました。") % {"code": reservation.code})
            query = f"&counter={counter_id}" if counter_id else ""
            return redirect(f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}{query}")
    return _day_page(request, day=day, counter_id=counter_id, booking_form=form, status=400)


@require_permission(WORK_COUNTER)
@require_POST
def slot_block(request: HttpRequest, slot_id: int) -> HttpResponse:
    slot = get_object_or_404(Slot, pk=slot_id)
    day = slot.start.astimezone(TOKYO).date()
    blocked = request.POST.get("blocked") == "1"
    try:
        services_staff.slot_set_blocked(slot_id=slot.pk, blocked=blocked, actor=request_actor(request))
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(request, _("受付を止めました。") if blocked else _("受付を再開しました。"))
    return redirect(next_or(request, f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"))


@require_permission(CONFIGURE_BOOKING)
@require_POST
def slot_seats(request: HttpRequest, slot_id: int) -> HttpResponse:
    slot = get_object_or_404(Slot, pk=slot_id)
    day = slot.start.astimezone(TOKYO).date()
    form = RaiseSeatsForm(request.POST)
    if not form.is_valid():
        errors = "、".join(str(e) for errors in form.errors.values() for e in errors)
        return _day_page(request, day=day, counter_id=None, error=errors, status=400)
    try:
        services_staff.slot_raise_seats(
            slot_id=slot.pk,
            seats=form.cleaned_data["seats"],
            reason=form.cleaned_data["reason"],
            actor=request_actor(request),
        )
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(request, _("席数を変更しました。"))
    return redirect(next_or(request, f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"))
