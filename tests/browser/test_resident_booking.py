"""A resident books an application-support visit on a phone in Japanese, the form by keyboard only, reads the mail,
opens its link and cancels."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from email.message import Message
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Hold, Reservation, Slot
from tests.live_server import MAIL_DIR


def url(port: int, path: str) -> str:
    return f"http://ageo.localhost:{port}{path}"


@pytest.fixture
def committed_slot(django_db_blocker: Any, server_port: int) -> Iterator[Slot]:
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(10, 30), TOKYO)
    with django_db_blocker.unblock(), schema_context("ageo"):
        group = CounterGroup.objects.get()
        slot, _created = Slot.objects.get_or_create(
            counter_group=group, start=start, defaults={"end": start + timedelta(minutes=30), "seats": 2}
        )
    yield slot
    with django_db_blocker.unblock(), schema_context("ageo"):
        Reservation.objects.filter(slot=slot).delete()
        Hold.objects.filter(slot=slot).delete()
        slot.delete()


def _mail_to(address: str) -> Message:
    for path in sorted(MAIL_DIR.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
        for raw in path.read_text().split("-" * 79):
            if address in raw and "Subject" in raw:
                return email.message_from_string(raw.strip())
    raise AssertionError(f"no mail to {address} in {MAIL_DIR}")


def _text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


def test_book_read_the_mail_and_cancel_on_a_phone(
    phone: Any, server_port: int, committed_slot: Slot, django_db_blocker: Any
) -> None:
    day = committed_slot.start.astimezone(TOKYO).date()
    phone.goto(url(server_port, "/book/"))
    phone.get_by_role("link", name="申請サポート（写真撮影・申請）").click()
    phone.goto(url(server_port, f"/book/application/?month={day:%Y-%m}"))
    phone.locator(f'a[href="/book/application/{day.isoformat()}/"]').click()
    assert "時間と人数を選んでください" in phone.locator("h1").inner_text()
    phone.locator(f"#slot-{committed_slot.pk}").check()
    phone.get_by_role("button", name="この時間で入力に進む").click()
    assert "予約内容の入力" in phone.locator("h1").inner_text()
    assert "確保しています" in phone.locator(".countdown").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The form by keyboard only: focus the first field, then type and Tab through.
    phone.get_by_label("氏名").focus()
    phone.keyboard.type("上尾 花子")
    phone.keyboard.press("Tab")
    phone.keyboard.type("あげお はなこ")
    phone.keyboard.press("Tab")  # the era select
    phone.keyboard.press("ArrowDown")  # 西暦 → 令和
    phone.keyboard.press("ArrowDown")  # → 平成
    phone.keyboard.press("Tab")
    phone.keyboard.type("2")
    phone.keyboard.press("Tab")
    phone.keyboard.type("4")
    phone.keyboard.press("Tab")
    phone.keyboard.type("5")
    phone.keyboard.press("Tab")
    phone.keyboard.type("browser-hanako@example.jp")
    phone.keyboard.press("Tab")
    phone.keyboard.type("090-1234-5678")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent.trim()") == "予約を確定する"
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert "予約が完了しました" in phone.locator("h1").inner_text()
    code = phone.locator(".booking-code").inner_text().strip()
    assert "令和" in phone.locator("main").inner_text()

    message = _mail_to("browser-hanako@example.jp")
    text = _text_part(message)
    assert code in text
    assert any(part.get_content_type() == "text/calendar" for part in message.walk())
    link = re.search(
        rf"http://ageo\.localhost:{server_port}/book/manage/\S+/", text
    )  # the host it was booked on
    assert link, text
    phone.goto(link.group(0))
    assert code in phone.locator("main").inner_text()
    phone.get_by_role("button", name="予約を取り消す").click()
    assert "この予約は取り消されています" in phone.locator("main").inner_text()
    with django_db_blocker.unblock(), schema_context("ageo"):
        committed_slot.refresh_from_db()
    assert committed_slot.taken == 0
