"""Staff pages that configure the calendar: booking settings, counters, purposes, opening hours and closures
(CONFIGURE_BOOKING). Thin: parse a form, call one service in calendar.services, say what the slot sync did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.booking.calendar import services as calendar_services
from apps.booking.calendar.services import SlotSyncResult, settings_ensure
from apps.booking.errors import BookingError
from apps.booking.models import CalendarDay, CounterGroup, OpeningHours, Purpose
from apps.booking.staff import selectors as selectors_staff
from apps.booking.staff.forms import (
    BookingSettingsForm,
    CalendarDayForm,
    CounterGroupForm,
    OpeningHoursForm,
    PurposeForm,
)
from apps.booking.staff.pages import form_page
from apps.security.request_actor import request_actor
from apps.security.roles import CONFIGURE_BOOKING, require_permission


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


def _synced(request: HttpRequest, to: str, **kwargs: Any) -> Callable[[SlotSyncResult], HttpResponse]:
    """After a change of the rules: say what the slot sync did, then go to `to`."""

    def then(result: SlotSyncResult) -> HttpResponse:
        _sync_message(request, result)
        return redirect(to, **kwargs)

    return then


@require_permission(CONFIGURE_BOOKING)
def booking_settings(request: HttpRequest) -> HttpResponse:
    form = BookingSettingsForm(request.POST or None, instance=settings_ensure())
    return form_page(
        request,
        form,
        lambda actor: calendar_services.booking_settings_update(values=form.cleaned_data, actor=actor),
        saved=_("予約の設定を保存しました。"),
        then=_synced(request, "booking_staff:settings"),
        template="booking/staff/settings.html",
        context={},
    )


@require_permission(CONFIGURE_BOOKING)
def counters(request: HttpRequest) -> HttpResponse:
    return render(request, "booking/staff/counters.html", {"groups": selectors_staff.counter_groups()})


@require_permission(CONFIGURE_BOOKING)
def counter_edit(request: HttpRequest, group_id: int | None = None) -> HttpResponse:
    group = get_object_or_404(CounterGroup, pk=group_id) if group_id else None
    form = CounterGroupForm(request.POST or None, instance=group)
    return form_page(
        request,
        form,
        lambda actor: calendar_services.counter_group_save(
            group_id=group_id, values=form.cleaned_data, actor=actor
        )[1],
        saved=_("窓口を保存しました。"),
        then=_synced(request, "booking_staff:counters"),
        template="booking/staff/counter_form.html",
        context={"group": group},
    )


@require_permission(CONFIGURE_BOOKING)
def purposes(request: HttpRequest) -> HttpResponse:
    rows = Purpose.objects.select_related("counter_group").order_by("order", "pk")
    return render(request, "booking/staff/purposes.html", {"purposes": rows})


@require_permission(CONFIGURE_BOOKING)
def purpose_edit(request: HttpRequest, purpose_id: int | None = None) -> HttpResponse:
    purpose = get_object_or_404(Purpose, pk=purpose_id) if purpose_id else None
    form = PurposeForm(request.POST or None, instance=purpose)
    return form_page(
        request,
        form,
        lambda actor: calendar_services.purpose_save(
            purpose_id=purpose_id, values=form.cleaned_data, actor=actor
        ),
        saved=_("用件を保存しました。"),
        then="booking_staff:purposes",
        template="booking/staff/purpose_form.html",
        context={"purpose": purpose},
    )


@require_permission(CONFIGURE_BOOKING)
def hours(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(CounterGroup, pk=group_id)
    existing = list(group.hours.order_by("weekday", "start"))
    form = OpeningHoursForm(request.POST or None, existing=existing)
    return form_page(
        request,
        form,
        lambda actor: calendar_services.opening_hours_add(
            group_id=group.pk,
            weekday=form.cleaned_data["weekday"],
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            actor=actor,
        ),
        saved=_("受付時間を追加しました。"),
        then=_synced(request, "booking_staff:hours", group_id=group.pk),
        template="booking/staff/hours.html",
        context={"group": group, "hours": existing},
        refusals=(ValidationError, BookingError),
    )


@require_permission(CONFIGURE_BOOKING)
@require_POST
def hours_remove(request: HttpRequest, hours_id: int) -> HttpResponse:
    row = get_object_or_404(OpeningHours, pk=hours_id)
    result = calendar_services.opening_hours_remove(hours_id=row.pk, actor=request_actor(request))
    messages.success(request, _("受付時間を削除しました。"))
    return _synced(request, "booking_staff:hours", group_id=row.counter_group_id)(result)


@require_permission(CONFIGURE_BOOKING)
def calendar_days(request: HttpRequest) -> HttpResponse:
    form = CalendarDayForm(request.POST or None)
    days = CalendarDay.objects.filter(date__gte=timezone.localdate()).select_related("counter_group")
    return form_page(
        request,
        form,
        lambda actor: calendar_services.calendar_day_add(values=form.cleaned_data, actor=actor),
        saved=_("休み・特別開庁を登録しました。"),
        then=_synced(request, "booking_staff:calendar"),
        template="booking/staff/calendar.html",
        context={"days": days},
    )


@require_permission(CONFIGURE_BOOKING)
@require_POST
def calendar_day_remove(request: HttpRequest, day_id: int) -> HttpResponse:
    day = get_object_or_404(CalendarDay, pk=day_id)
    result = calendar_services.calendar_day_remove(day_id=day.pk, actor=request_actor(request))
    messages.success(request, _("休み・特別開庁を削除しました。"))
    return _synced(request, "booking_staff:calendar")(result)


# Bookings that need a decision
