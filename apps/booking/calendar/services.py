"""Calendar writes: the city's booking settings and appearance, the defaults a new city starts with, the staff's
configuration of counters, purposes, hours and closures (audited), and the slot sync that keeps the slot rows in line
with them. Each service is one transaction; a change of the rules runs `slots_sync` afterwards, so the slot rows
follow at once, and a frame that still holds bookings is never dropped but listed for staff
(staff.selectors.affected_reservations)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.booking.calendar.availability import availability_changed, availability_months_changed
from apps.booking.calendar.hours import TOKYO, group_frames
from apps.booking.errors import BookingError
from apps.booking.models import (
    BookingSettings,
    CalendarDay,
    CounterGroup,
    OpeningHours,
    Purpose,
    SiteAppearance,
    Slot,
)
from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audited import audited_save, config_picture
from apps.security.roles import CONFIGURE_BOOKING, ensure_permission


def appearance_ensure() -> SiteAppearance:
    """The city's default appearance row, created once. Idempotent."""
    appearance, _created = SiteAppearance.objects.get_or_create(pk=1)
    return appearance


def appearance_update(*, primary_color: str, phone: str) -> SiteAppearance:
    appearance = appearance_ensure()
    appearance.primary_color = primary_color
    appearance.phone = phone
    appearance.full_clean()
    appearance.save()
    return appearance


def settings_ensure() -> BookingSettings:
    settings, _created = BookingSettings.objects.get_or_create(pk=1)
    return settings


DEFAULT_PURPOSES = [
    # code, ja, en, seats per person, needs notice number, what to bring (ja)
    (
        "pickup",
        "マイナンバーカードの受け取り",
        "Picking up a My Number Card",
        1,
        True,
        "交付通知書、本人確認書類、通知カード（お持ちの方）、住民基本台帳カード（お持ちの方）",
    ),
    (
        "application",
        "申請サポート（写真撮影・申請）",
        "Application support (photo and application)",
        1,
        False,
        "本人確認書類、個人番号通知書または通知カード（お持ちの方）",
    ),
    (
        "certificate",
        "電子証明書の更新",
        "Renewing the electronic certificates",
        1,
        False,
        "マイナンバーカード、有効期限通知書（お持ちの方）",
    ),
    ("pin", "暗証番号の再設定", "Resetting a PIN", 1, False, "マイナンバーカード、本人確認書類"),
    ("card_change", "券面記載事項の変更", "Changing the details on the card", 1, False, "マイナンバーカード"),
]


def defaults_ensure() -> None:
    """A new city starts bookable: settings, one counter with weekday hours, and the usual purposes."""
    settings_ensure()
    if CounterGroup.objects.exists():
        return
    group = CounterGroup.objects.create(name=_("マイナンバーカード窓口"), frame_minutes=30, seats=2)
    OpeningHours.objects.bulk_create(
        OpeningHours(counter_group=group, weekday=weekday, start=start, end=end)
        for weekday in range(5)
        for start, end in (
            (datetime.strptime("08:30", "%H:%M").time(), datetime.strptime("12:00", "%H:%M").time()),
            (datetime.strptime("13:00", "%H:%M").time(), datetime.strptime("17:00", "%H:%M").time()),
        )
    )
    Purpose.objects.bulk_create(
        Purpose(
            code=code,
            name_ja=ja,
            name_en=en,
            counter_group=group,
            seats_per_person=seats,
            requires_notice_number=notice,
            bring_ja=bring,
            order=index,
        )
        for index, (code, ja, en, seats, notice, bring) in enumerate(DEFAULT_PURPOSES)
    )


@dataclass
class SlotSyncResult:
    created: int = 0
    reopened: int = 0
    withdrawn: int = 0
    orphaned: list[int] = field(default_factory=list)  # slots the rules dropped that still hold bookings


def slots_sync(*, today: date) -> SlotSyncResult:
    """Make the slot rows match the rules for the whole booking window. Idempotent; never drops a booking.

    A frame the rules no longer produce is withdrawn (blocked); if it holds bookings it is kept and listed for
    staff to move or cancel them.
    """
    settings = settings_ensure()
    first, last = today, today + timedelta(days=settings.opens_days_ahead)
    result = SlotSyncResult()
    window_start = datetime.combine(first, datetime.min.time(), TOKYO)
    for group in CounterGroup.objects.filter(active=True).prefetch_related("hours"):
        wanted = dict(group_frames(group=group, first=first, last=last, settings=settings))
        with transaction.atomic():
            existing = {
                s.start: s
                for s in Slot.objects.select_for_update().filter(counter_group=group, start__gte=window_start)
            }
            new = [
                Slot(
                    counter_group=group,
                    start=start,
                    end=end,
                    seats=group.seats,
                    staff_seats=group.staff_seats,
                )
                for start, end in wanted.items()
                if start not in existing
            ]
            Slot.objects.bulk_create(new)
            result.created += len(new)
            for start, slot in existing.items():
                if start in wanted and not slot.in_rules:
                    slot.in_rules, slot.blocked = True, False
                    slot.save(update_fields=["in_rules", "blocked"])
                    result.reopened += 1
                elif start not in wanted and slot.in_rules:
                    slot.in_rules, slot.blocked = False, True
                    slot.save(update_fields=["in_rules", "blocked"])
                    result.withdrawn += 1
                if start not in wanted and slot.taken:
                    result.orphaned.append(slot.pk)
        availability_months_changed(counter_group_id=group.pk, first=first, last=last)
    return result


SETTINGS_FIELDS = [
    "opens_days_ahead",
    "closes_hours_before",
    "hold_minutes",
    "change_deadline_hours",
    "max_persons",
    "max_future_bookings",
    "no_show_grace_minutes",
    "closed_year_end",
    "closed_on_holidays",
    "confirm_email_first",
]


COUNTER_FIELDS = ["name", "location", "frame_minutes", "seats", "staff_seats", "active"]


PURPOSE_FIELDS = [
    "code",
    "name_ja",
    "name_en",
    "counter_group",
    "seats_per_person",
    "requires_notice_number",
    "bring_ja",
    "bring_en",
    "active",
    "order",
]


CALENDAR_FIELDS = ["date", "kind", "counter_group", "start", "end", "reason"]


def config_delete(
    *,
    model: type[models.Model],
    pk: int,
    fields: list[str],
    action: str,
    actor: Actor,
    summary: Callable[[Any], str] = str,
) -> None:
    """Delete one configuration row under a lock and audit what it held (supervisors only)."""
    ensure_permission(actor, CONFIGURE_BOOKING)
    with transaction.atomic():
        instance = model._default_manager.select_for_update().get(pk=pk)
        before = config_picture(instance, fields)
        instance.delete()
        audit_record(
            action=action,
            actor=actor,
            target=f"{model.__name__}:{pk}",
            summary=summary(instance),
            before=before,
        )


def _sync() -> SlotSyncResult:
    """Rebuild the slots, then forget the residents' cached availability of every month in the window."""
    today = timezone.localdate()
    result = slots_sync(today=today)
    last = today + timedelta(days=settings_ensure().opens_days_ahead)
    months = {(d.year, d.month) for d in (today + timedelta(days=n) for n in range((last - today).days + 1))}
    for group_id in CounterGroup.objects.values_list("pk", flat=True):
        for year, month in months:
            start = datetime.combine(date(year, month, 1), datetime.min.time(), TOKYO)
            availability_changed(Slot(counter_group_id=group_id, start=start))
    return result


def _config_save(
    *,
    instance: models.Model,
    fields: list[str],
    values: dict[str, Any],
    action: str,
    actor: Actor,
) -> models.Model:
    """Apply `values` to `instance` (new or locked), validate, save, audit with before/after (supervisors)."""
    return audited_save(
        instance=instance,
        fields=fields,
        values=values,
        action=action,
        permission=CONFIGURE_BOOKING,
        actor=actor,
    )


def booking_settings_update(*, values: dict[str, Any], actor: Actor) -> SlotSyncResult:
    _config_save(
        instance=settings_ensure(),
        fields=SETTINGS_FIELDS,
        values=values,
        action="booking.settings_changed",
        actor=actor,
    )
    return _sync()


def counter_group_save(
    *, group_id: int | None, values: dict[str, Any], actor: Actor
) -> tuple[CounterGroup, SlotSyncResult]:
    before = CounterGroup.objects.filter(pk=group_id).values("seats").first() if group_id else None
    group = _config_save(
        instance=CounterGroup(pk=group_id) if group_id else CounterGroup(),
        fields=COUNTER_FIELDS,
        values=values,
        action="booking.counter_saved",
        actor=actor,
    )
    assert isinstance(group, CounterGroup)
    if before is not None:
        # Future frames take the new capacity; a frame never gets fewer seats than it has taken, and a frame whose
        # seats a supervisor raised (slot_raise_seats, with a reason) keeps them unless the new capacity is higher.
        future = Slot.objects.filter(counter_group=group, start__gte=timezone.now())
        future.filter(seats=before["seats"], taken__lte=group.seats).update(
            seats=group.seats, staff_seats=group.staff_seats
        )
        future.filter(seats__gt=before["seats"], seats__lt=group.seats).update(
            seats=group.seats, staff_seats=group.staff_seats
        )
    return group, _sync()


def purpose_save(*, purpose_id: int | None, values: dict[str, Any], actor: Actor) -> Purpose:
    purpose = _config_save(
        instance=Purpose(pk=purpose_id) if purpose_id else Purpose(),
        fields=PURPOSE_FIELDS,
        values=values,
        action="booking.purpose_saved",
        actor=actor,
    )
    assert isinstance(purpose, Purpose)
    return purpose


def opening_hours_add(*, group_id: int, weekday: int, start: Any, end: Any, actor: Actor) -> SlotSyncResult:
    ensure_permission(actor, CONFIGURE_BOOKING)
    with transaction.atomic():
        group = CounterGroup.objects.select_for_update().get(pk=group_id)  # serialises edits of one week
        clash = OpeningHours.objects.filter(
            counter_group=group, weekday=weekday, start__lt=end, end__gt=start
        )
        if clash.exists():
            raise BookingError(_("ほかの受付時間と重なっています。"))
        hours = OpeningHours(counter_group=group, weekday=weekday, start=start, end=end)
        hours.full_clean()
        hours.save()
        audit_record(
            action="booking.hours_added",
            actor=actor,
            target=f"OpeningHours:{hours.pk}",
            summary=f"{group.name} {hours}",
            after={"counter_group": group.pk, "weekday": weekday, "start": start, "end": end},
        )
    return _sync()


def opening_hours_remove(*, hours_id: int, actor: Actor) -> SlotSyncResult:
    config_delete(
        model=OpeningHours,
        pk=hours_id,
        fields=["counter_group", "weekday", "start", "end"],
        action="booking.hours_removed",
        actor=actor,
    )
    return _sync()


def calendar_day_add(*, values: dict[str, Any], actor: Actor) -> SlotSyncResult:
    _config_save(
        instance=CalendarDay(),
        fields=CALENDAR_FIELDS,
        values=values,
        action="booking.calendar_day_added",
        actor=actor,
    )
    return _sync()


def calendar_day_remove(*, day_id: int, actor: Actor) -> SlotSyncResult:
    config_delete(
        model=CalendarDay,
        pk=day_id,
        fields=CALENDAR_FIELDS,
        action="booking.calendar_day_removed",
        actor=actor,
    )
    return _sync()


# The counter's day
