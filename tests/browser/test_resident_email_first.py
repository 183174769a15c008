"""A city that confirms the email first: the resident asks for the link on a phone, opens it from the mail, books,
then changes the time from the booking mail's link (keyboard and touch, Japanese)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import BookingSettings, CounterGroup, Hold, Reservation, Slot
from tests.browser.test_resident_booking import _mail_to, _text_part, url

ADDRESS = "browser-email-first@example.jp"


@pytest.fixture
def email_first_slots(django_db_blocker: Any, server_port: int) -> Iterator[tuple[Slot, Slot]]:
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=6)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    with django_db_blocker.unblock(), schema_context("ageo"):
        settings = BookingSettings.objects.get()
        settings.confirm_email_first = True
        settings.save()
        group = CounterGroup.objects.get()
        slots = []
        for at in (time(13, 0), time(14, 0)):
            start = datetime.combine(day, at, TOKYO)
            slot, _created = Slot.objects.get_or_create(
                counter_group=group, start=start, defaults={"end": start + timedelta(minutes=30), "seats": 2}
            )
            slots.append(slot)
    yield slots[0], slots[1]
    with django_db_blocker.unblock(), schema_context("ageo"):
        settings.confirm_email_first = False
        settings.save()
        Reservation.objects.filter(slot__in=slots).delete()
        Hold.objects.filter(slot__in=slots).delete()
        for slot in slots:
            slot.delete()


def test_email_first_booking_then_a_change_of_time(
    phone: Any, server_port: int, email_first_slots: tuple[Slot, Slot], django_db_blocker: Any
) -> None:
    first, second = email_first_slots
    day = first.start.astimezone(TOKYO).date()
    phone.goto(url(server_port, f"/book/application/{day.isoformat()}/"))
    phone.locator(f"#slot-{first.pk}").check()
    phone.get_by_label("メールアドレス").fill(ADDRESS)
    phone.get_by_role("button", name="入力ページのリンクをメールで受け取る").click()
    assert "メールを送りました" in phone.locator("main").inner_text()
    with django_db_blocker.unblock(), schema_context("ageo"):
        assert not Hold.objects.filter(slot=first).exists()  # nothing is held until the link is used

    link = re.search(rf"http://ageo\.localhost:{server_port}/book/start/\S+/", _text_part(_mail_to(ADDRESS)))
    assert link
    phone.goto(link.group(0))
    assert ADDRESS in phone.locator("main").inner_text()
    phone.get_by_role("button", name="この時間で入力に進む").click()
    assert "予約内容の入力" in phone.locator("h1").inner_text()
    assert phone.get_by_label("メールアドレス").is_disabled()  # the confirmed address, not retyped

    phone.get_by_label("氏名").fill("桶川 次郎")
    phone.get_by_role("textbox", name="年", exact=True).fill("1975")
    phone.get_by_role("textbox", name="月", exact=True).fill("3")
    phone.get_by_role("textbox", name="日", exact=True).fill("9")
    phone.get_by_label("電話番号").fill("048-775-5111")
    phone.get_by_role("button", name="予約を確定する").click()
    assert "予約が完了しました" in phone.locator("h1").inner_text()
    code = phone.locator(".booking-code").inner_text().strip()

    booked = _text_part(_mail_to(ADDRESS))
    manage = re.search(rf"http://ageo\.localhost:{server_port}/book/manage/\S+/", booked)
    assert manage
    assert code in booked
    phone.goto(manage.group(0))
    phone.get_by_role("link", name="日時を変更する").click()
    assert "予約日時の変更" in phone.locator("h1").inner_text()
    phone.goto(phone.url.split("?")[0] + f"?date={day.isoformat()}")
    phone.locator(f"#slot-{second.pk}").check()
    phone.get_by_role("button", name="この時間に変更する").click()
    assert "14:00" in phone.locator("main").inner_text()
    with django_db_blocker.unblock(), schema_context("ageo"):
        reservation = Reservation.objects.get(code=code)
        first.refresh_from_db()
        second.refresh_from_db()
    assert reservation.slot_id == second.pk
    assert (first.taken, second.taken) == (0, 1)  # the old time's seat is given back
