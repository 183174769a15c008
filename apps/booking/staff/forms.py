"""Forms of the staff booking pages. Every one refuses a 個人番号 in any field (RefusesIndividualNumber first)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.booking.calendar.hours import TOKYO
from apps.booking.calendar.services import CALENDAR_FIELDS, COUNTER_FIELDS, PURPOSE_FIELDS, SETTINGS_FIELDS
from apps.booking.models import (
    BookingSettings,
    CalendarDay,
    CounterGroup,
    OpeningHours,
    Purpose,
    Reservation,
    Slot,
)
from apps.booking.reservations.services import PersonInput
from apps.booking.resident.forms import NOTICE_SHAPE_MESSAGE
from apps.security.mynumber import RefusesIndividualNumber
from base.japanese import notice_number_normalise

WEEKDAYS = [
    (0, _("月曜日")),
    (1, _("火曜日")),
    (2, _("水曜日")),
    (3, _("木曜日")),
    (4, _("金曜日")),
    (5, _("土曜日")),
    (6, _("日曜日")),
]
_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BookingSettingsForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = BookingSettings
        fields = SETTINGS_FIELDS


class CounterGroupForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = CounterGroup
        fields = COUNTER_FIELDS

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("staff_seats") is not None and data.get("seats") and data["staff_seats"] > data["seats"]:
            self.add_error("staff_seats", _("職員用の席数は1枠の席数以下にしてください。"))
        return data


class PurposeForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = Purpose
        fields = PURPOSE_FIELDS


class OpeningHoursForm(RefusesIndividualNumber):
    """One more range of a weekday; it may not overlap the ranges that weekday already has."""

    weekday = forms.TypedChoiceField(label=_("曜日"), choices=WEEKDAYS, coerce=int)
    start = forms.TimeField(label=_("開始"), widget=_TIME)
    end = forms.TimeField(label=_("終了"), widget=_TIME)

    def __init__(self, *args: Any, existing: Iterable[OpeningHours] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing = list(existing)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end, weekday = data.get("start"), data.get("end"), data.get("weekday")
        if start is None or end is None or weekday is None:
            return data
        if end <= start:
            self.add_error("end", _("終了は開始より後にしてください。"))
        elif any(h.weekday == weekday and h.start < end and start < h.end for h in self.existing):
            self.add_error(None, _("ほかの受付時間と重なっています。"))
        return data


class CalendarDayForm(RefusesIndividualNumber, forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = CALENDAR_FIELDS
        widgets = {"date": _DATE, "start": _TIME, "end": _TIME}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == CalendarDay.Kind.OPEN:
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                self.add_error("start", _("特別開庁の日は開始と終了を入力してください。"))
            elif end <= start:
                self.add_error("end", _("終了は開始より後にしてください。"))
        else:
            data["start"] = data["end"] = None
        return data


def slot_label(slot: Slot) -> str:
    start, end = slot.start.astimezone(TOKYO), slot.end.astimezone(TOKYO)
    return f"{start:%m/%d %H:%M}–{end:%H:%M} ({slot.taken}/{slot.seats})"


class MarkForm(RefusesIndividualNumber):
    status = forms.ChoiceField(choices=Reservation.Status.choices)


class SlotChoiceForm(RefusesIndividualNumber):
    """A frame chosen from the ones offered (the day's frames, or where a booking may move)."""

    slot = forms.TypedChoiceField(label=_("時間"), coerce=int)

    def __init__(self, *args: Any, slots: Iterable[Slot] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["slot"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(s.pk, slot_label(s)) for s in slots]


class RaiseSeatsForm(RefusesIndividualNumber):
    seats = forms.IntegerField(label=_("新しい席数"), min_value=1, max_value=100)
    reason = forms.CharField(label=_("理由"), max_length=200)


PERSON_ROWS = 4


class StaffBookingForm(SlotChoiceForm):
    """A phone booking (電話予約) or a walk-in (当日受付): up to four persons, the first one required."""

    channel = forms.ChoiceField(
        label=_("受付方法"),
        choices=[(Reservation.Channel.PHONE, _("電話予約")), (Reservation.Channel.WALK_IN, _("当日受付"))],
        widget=forms.RadioSelect,
    )
    purpose = forms.ModelChoiceField(label=_("用件"), queryset=Purpose.objects.filter(active=True))
    phone = forms.CharField(label=_("電話番号"), max_length=20, required=False)
    email = forms.EmailField(label=_("メールアドレス"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(1, PERSON_ROWS + 1):
            first = i == 1
            self.fields[f"name_{i}"] = forms.CharField(
                label=_("%(n)d人目 氏名") % {"n": i}, max_length=100, required=first
            )
            self.fields[f"kana_{i}"] = forms.CharField(
                label=_("%(n)d人目 ふりがな") % {"n": i}, max_length=100, required=False
            )
            self.fields[f"birth_{i}"] = forms.DateField(
                label=_("%(n)d人目 生年月日") % {"n": i}, required=first, widget=_DATE
            )
            self.fields[f"notice_{i}"] = forms.CharField(
                label=_("%(n)d人目 交付通知書の番号") % {"n": i},
                max_length=20,
                required=False,
                help_text=_("受け取りの用件だけ"),
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for i in range(2, PERSON_ROWS + 1):
            if data.get(f"name_{i}") and not data.get(f"birth_{i}"):
                self.add_error(f"birth_{i}", _("生年月日を入力してください。"))
        for i in range(1, PERSON_ROWS + 1):
            typed = data.get(f"notice_{i}") or ""
            if typed:
                normalised = notice_number_normalise(typed)
                if normalised is None:
                    self.add_error(f"notice_{i}", NOTICE_SHAPE_MESSAGE)
                else:
                    data[f"notice_{i}"] = normalised  # stored as A1B-123456, as residents' bookings are
        return data

    def persons(self) -> list[PersonInput]:
        data = self.cleaned_data
        return [
            PersonInput(
                name=data[f"name_{i}"],
                kana=data.get(f"kana_{i}", ""),
                birth_date=data[f"birth_{i}"],
                notice_number=data.get(f"notice_{i}", ""),
            )
            for i in range(1, PERSON_ROWS + 1)
            if data.get(f"name_{i}") and data.get(f"birth_{i}")
        ]
