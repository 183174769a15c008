"""Staff booking pages: the supervisor's configuration, the counter's day, and the bookings that need a decision.

Thin views: parse a form, call one service or selector, render. Pages that show residents' personal data record
a `personal_data.viewed` event (the audit middleware records writes, not reads).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.booking.calendar.hours import TOKYO
from apps.booking.calendar.services import SlotSyncResult, settings_ensure
from apps.booking.models import CalendarDay, CounterGroup, OpeningHours, Purpose, Reservation, Slot
from apps.booking.reservations.services import BookingError
from apps.booking.staff import selectors as selectors_staff
from apps.booking.staff import services as services_staff
from apps.booking.staff.forms import (
    BookingSettingsForm,
    CalendarDayForm,
    CounterGroupForm,
    MarkForm,
    OpeningHoursForm,
    PurposeForm,
    RaiseSeatsForm,
    SlotChoiceForm,
    StaffBookingForm,
)
from apps.security.audit import audit_record
from apps.security.roles import CONFIGURE_BOOKING, WORK_COUNTER, require_permission


def _sync_message(request: HttpRequest, result: SlotSyncResult) -> None:
    messages.success(
        request,
        _("予約枠を更新しました（追加 %(created)d、再開 %(reopened)d、停止 %(withdrawn)d）。")
        % {"created": result.created, "reopened": result.reopened, "withdrawn": result.withdrawn},
    )
    if result.orphaned:
        messages.warning(
            request,
            _(
                "受付時間外になった枠に予約が残っています（%(count)d枠）。「要対応の予約」で移すか取り消してください。"
            )
            % {"count": len(result.orphaned)},
        )


def _form_errors(form: Any, exc: ValidationError | BookingError) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))


def _next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# Configuration (supervisors)


@require_permission(CONFIGURE_BOOKING)
def booking_settings(request: HttpRequest) -> HttpResponse:
    current = settings_ensure()
    form = BookingSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            result = services_staff.booking_settings_update(
                values=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("予約の設定を保存しました。"))
            _sync_message(request, result)
            return redirect("booking_staff:settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "booking/staff/settings.html", {"form": form}, status=status)


@require_permission(CONFIGURE_BOOKING)
def counters(request: HttpRequest) -> HttpResponse:
    return render(request, "booking/staff/counters.html", {"groups": selectors_staff.counter_groups()})


@require_permission(CONFIGURE_BOOKING)
def counter_edit(request: HttpRequest, group_id: int | None = None) -> HttpResponse:
    group = get_object_or_404(CounterGroup, pk=group_id) if group_id else None
    form = CounterGroupForm(request.POST or None, instance=group)
    if request.method == "POST" and form.is_valid():
        try:
            _group, result = services_staff.counter_group_save(
                group_id=group_id, values=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("窓口を保存しました。"))
            _sync_message(request, result)
            return redirect("booking_staff:counters")
    status = 400 if request.method == "POST" else 200
    return render(request, "booking/staff/counter_form.html", {"form": form, "group": group}, status=status)


@require_permission(CONFIGURE_BOOKING)
def purposes(request: HttpRequest) -> HttpResponse:
    rows = Purpose.objects.select_related("counter_group").order_by("order", "pk")
    return render(request, "booking/staff/purposes.html", {"purposes": rows})


@require_permission(CONFIGURE_BOOKING)
def purpose_edit(request: HttpRequest, purpose_id: int | None = None) -> HttpResponse:
    purpose = get_object_or_404(Purpose, pk=purpose_id) if purpose_id else None
    form = PurposeForm(request.POST or None, instance=purpose)
    if request.method == "POST" and form.is_valid():
        try:
            services_staff.purpose_save(
                purpose_id=purpose_id, values=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("用件を保存しました。"))
            return redirect("booking_staff:purposes")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "booking/staff/purpose_form.html", {"form": form, "purpose": purpose}, status=status
    )


@require_permission(CONFIGURE_BOOKING)
def hours(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(CounterGroup, pk=group_id)
    existing = list(group.hours.order_by("weekday", "start"))
    form = OpeningHoursForm(request.POST or None, existing=existing)
    if request.method == "POST" and form.is_valid():
        try:
            result = services_staff.opening_hours_add(
                group_id=group.pk,
                weekday=form.cleaned_data["weekday"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                actor=request.user,
                request=request,
            )
        except (ValidationError, BookingError) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("受付時間を追加しました。"))
            _sync_message(request, result)
            return redirect("booking_staff:hours", group_id=group.pk)
    status = 400 if request.method == "POST" else 200
    context = {"group": group, "hours": existing, "form": form}
    return render(request, "booking/staff/hours.html", context, status=status)


@require_permission(CONFIGURE_BOOKING)
@require_POST
def hours_remove(request: HttpRequest, hours_id: int) -> HttpResponse:
    row = get_object_or_404(OpeningHours, pk=hours_id)
    result = services_staff.opening_hours_remove(hours_id=row.pk, actor=request.user, request=request)
    messages.success(request, _("受付時間を削除しました。"))
    _sync_message(request, result)
    return redirect("booking_staff:hours", group_id=row.counter_group_id)


@require_permission(CONFIGURE_BOOKING)
def calendar_days(request: HttpRequest) -> HttpResponse:
    form = CalendarDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services_staff.calendar_day_add(
                values=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("休み・特別開庁を登録しました。"))
            _sync_message(request, result)
            return redirect("booking_staff:calendar")
    days = CalendarDay.objects.filter(date__gte=timezone.localdate()).select_related("counter_group")
    status = 400 if request.method == "POST" else 200
    return render(request, "booking/staff/calendar.html", {"form": form, "days": days}, status=status)


@require_permission(CONFIGURE_BOOKING)
@require_POST
def calendar_day_remove(request: HttpRequest, day_id: int) -> HttpResponse:
    day = get_object_or_404(CalendarDay, pk=day_id)
    result = services_staff.calendar_day_remove(day_id=day.pk, actor=request.user, request=request)
    messages.success(request, _("休み・特別開庁を削除しました。"))
    _sync_message(request, result)
    return redirect("booking_staff:calendar")


# Bookings that need a decision


@require_permission(WORK_COUNTER)
def affected(request: HttpRequest) -> HttpResponse:
    reservations = list(selectors_staff.affected_reservations())
    audit_record(
        action="personal_data.viewed",
        request=request,
        target="booking:affected",
        summary=_("要対応の予約（%(count)d件）") % {"count": len(reservations)},
    )
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
                actor=request.user,
                request=request,
            )
        except BookingError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("予約 %(code)s を移しました。") % {"code": reservation.code})
            return redirect("booking_staff:affected")
    audit_record(
        action="personal_data.viewed",
        request=request,
        target=f"Reservation:{reservation.pk}",
        summary=_("予約の移動"),
    )
    status = 400 if request.method == "POST" else 200
    context = {"reservation": reservation, "form": form}
    return render(request, "booking/staff/reservation_move.html", context, status=status)


@require_permission(WORK_COUNTER)
def reservation_cancel(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """A confirmation page first: a cancel mails the resident and cannot be undone."""
    reservation = _reservation(reservation_id)
    audit_record(
        action="personal_data.viewed",
        request=request,
        target=f"Reservation:{reservation.pk}",
        summary=_("予約の取消"),
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
        return redirect(_next_or(request, default))
    try:
        marked = services_staff.reservation_mark(
            reservation_id=reservation.pk,
            status=form.cleaned_data["status"],
            actor=request.user,
            request=request,
            now=timezone.now(),
        )
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(
        request,
        _("予約 %(code)s を「%(status)s」にしました。")
        % {"code": marked.code, "status": marked.get_status_display()},
    )
    return redirect(_next_or(request, default))


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
    schedule = selectors_staff.day_schedule(day=day, counter_id=counter_id)
    slots = [slot for counter in schedule for slot in counter.slots if not slot.blocked]
    audit_record(
        action="personal_data.viewed",
        request=request,
        target=f"booking:day:{day:%Y-%m-%d}",
        summary=_("当日の予約一覧"),
    )
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
                actor=request.user,
                request=request,
                now=timezone.now(),
            )
        except BookingError as exc:
            _form_errors(form, exc)
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
        services_staff.slot_set_blocked(slot_id=slot.pk, blocked=blocked, actor=request.user, request=request)
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(request, _("受付を止めました。") if blocked else _("受付を再開しました。"))
    return redirect(_next_or(request, f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"))


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
            actor=request.user,
            request=request,
        )
    except BookingError as exc:
        return _day_page(request, day=day, counter_id=None, error=str(exc), status=409)
    messages.success(request, _("席数を変更しました。"))
    return redirect(_next_or(request, f"{reverse('booking_staff:day')}?date={day:%Y-%m-%d}"))
