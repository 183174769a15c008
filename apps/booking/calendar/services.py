"""Calendar writes: the city's booking settings and appearance, the defaults a new city starts with, and the slot
sync that keeps the slot rows in line with the opening hours and closures. Each service is one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from apps.booking.calendar.availability import availability_months_changed
from apps.booking.calendar.hours import TOKYO, group_frames
from apps.booking.models import BookingSettings, CounterGroup, OpeningHours, Purpose, SiteAppearance, Slot


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
