"""A counter staff member works a day in Japanese on a desktop: logs in with password and the 6-digit code, finds
the resident's booking, marks it arrived then done with the keyboard only, books a walk-in, prints the list; and
meets the 403 page at a supervisor's configuration page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Hold, Person, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.security.models import Role, User
from tests.factories import PASSWORD, UserFactory, totp_code, with_totp

USERNAME = "browser-counter"


def url(port: int, path: str) -> str:
    return f"http://ageo.localhost:{port}{path}"


@dataclass
class CounterStaff:
    user: User
    secret: str


@dataclass
class BookedDay:
    day: date
    slot: Slot
    reservation: Reservation


@pytest.fixture
def counter_staff(django_db_blocker: Any, server_port: int) -> Iterator[CounterStaff]:
    with django_db_blocker.unblock(), schema_context("ageo"):
        user = UserFactory(username=USERNAME, email=f"{USERNAME}@example.jp", role=Role.STAFF)
        secret = with_totp(user)
    yield CounterStaff(user, secret)
    with django_db_blocker.unblock(), schema_context("ageo"):
        User.objects.filter(pk=user.pk).delete()


@pytest.fixture
def booked_day(django_db_blocker: Any, server_port: int) -> Iterator[BookedDay]:
    """A weekday five days ahead (inside the booking window) with a frame holding one resident's web booking."""
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(14, 30), TOKYO)
    with django_db_blocker.unblock(), schema_context("ageo"):
        group = CounterGroup.objects.get()
        slot, created = Slot.objects.get_or_create(
            counter_group=group, start=start, defaults={"end": start + timedelta(minutes=30), "seats": 3}
        )
        taken_before = slot.taken
        now = timezone.now()
        hold = hold_create(
            slot_id=slot.pk, purpose_id=Purpose.objects.get(code="application").pk, persons=1, now=now
        )
        reservation = reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput(name="窓口 一郎", kana="まどぐち いちろう", birth_date=date(1971, 3, 9))],
            email="browser-ichiro@example.jp",
            phone="048-111-2222",
            submission_key=uuid.uuid4(),
            now=now,
        )
        slot.refresh_from_db()
    yield BookedDay(day, slot, reservation)
    with django_db_blocker.unblock(), schema_context("ageo"):
        Person.objects.filter(reservation__slot=slot).delete()
        Reservation.objects.filter(slot=slot).delete()
        Hold.objects.filter(slot=slot).delete()
        if created:
            Slot.objects.filter(pk=slot.pk).delete()
        else:  # a frame the slot sync made: keep it, as it was
            Slot.objects.filter(pk=slot.pk).update(taken=taken_before)


def log_in(page: Any, port: int, staff: CounterStaff, then: str) -> None:
    """Through the real pages: username and password, then the authenticator app's code. Once per test: allauth
    refuses the same code twice within its period."""
    page.goto(url(port, f"/accounts/login/?next={quote(then)}"))
    page.get_by_label("ユーザー名またはメールアドレス").fill(USERNAME)
    page.get_by_label("パスワード").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_label("パスワード").press("Enter")
    assert "/accounts/2fa/authenticate/" in page.url, page.url
    assert "多要素認証" in page.locator("h1").inner_text()
    code = page.get_by_label(re.compile(r"^コード"))  # the label ends in its 必須 marker
    code.fill(totp_code(staff.secret))
    with page.expect_navigation():
        code.press("Enter")


def focused_text(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''"))


def tab_to(page: Any, text: str, limit: int = 200) -> None:
    """Press Tab until the focused element's text is `text` (buttons carry the booking code, hidden visually)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if " ".join(focused_text(page).split()) == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def row_of(page: Any, code: str) -> Any:
    return page.locator("tr", has=page.locator("td", has_text=code)).first


def status_of(page: Any, code: str) -> str:
    return str(row_of(page, code).locator("td").nth(4).inner_text().strip())


def test_counter_staff_work_the_day_by_keyboard_book_a_walk_in_and_print(
    desktop: Any,
    server_port: int,
    counter_staff: CounterStaff,
    booked_day: BookedDay,
    django_db_blocker: Any,
) -> None:
    day, code = booked_day.day, booked_day.reservation.code
    day_path = f"/staff/booking/day/?date={day:%Y-%m-%d}"
    log_in(desktop, server_port, counter_staff, then=day_path)
    assert desktop.url == url(server_port, day_path), desktop.url
    assert desktop.locator("html").get_attribute("lang") == "ja"
    assert "当日の予約一覧" in desktop.locator("h1").inner_text()
    assert f"{day.year}年{day.month}月{day.day}日" in desktop.locator("h1").inner_text()

    main = desktop.locator("main").inner_text()
    assert code in main
    assert "窓口 一郎（まどぐち いちろう）" in main
    assert "048-111-2222" in main
    assert "14:30–15:00" in main
    assert status_of(desktop, code) == "予約済み"
    assert row_of(desktop, code).locator("td").nth(5).inner_text().strip() == "インターネット"

    # Arrived, then done: Tab to the row's button and press Enter, no mouse.
    tab_to(desktop, f"来庁 {code}")
    with desktop.expect_navigation():
        desktop.keyboard.press("Enter")
    assert f"予約 {code} を「来庁」にしました。" in desktop.locator("main").inner_text()
    assert status_of(desktop, code) == "来庁"
    tab_to(desktop, f"完了 {code}")
    with desktop.expect_navigation():
        desktop.keyboard.press("Enter")
    assert f"予約 {code} を「完了」にしました。" in desktop.locator("main").inner_text()
    assert status_of(desktop, code) == "完了"
    assert row_of(desktop, code).get_by_role("button").count() == 0  # nothing more to do with it
    with django_db_blocker.unblock(), schema_context("ageo"):
        booked_day.reservation.refresh_from_db()
        assert booked_day.reservation.status == Reservation.Status.DONE

    # A walk-in into the same frame, through the form on the day list.
    form = desktop.locator("form", has=desktop.get_by_role("button", name="予約を受け付ける"))
    form.get_by_label("時間").select_option(str(booked_day.slot.pk))
    form.get_by_label("当日受付").check()
    form.get_by_label("用件").select_option(label="申請サポート（写真撮影・申請）")
    form.get_by_label("1人目 氏名").fill("来庁 次郎")
    form.get_by_label("1人目 ふりがな").fill("らいちょう じろう")
    form.get_by_label("1人目 生年月日").fill("1985-04-01")
    form.get_by_label("電話番号").fill("090-3333-4444")
    with desktop.expect_navigation():
        form.get_by_role("button", name="予約を受け付ける").click()
    with django_db_blocker.unblock(), schema_context("ageo"):
        walk_in = Reservation.objects.exclude(pk=booked_day.reservation.pk).get(slot=booked_day.slot)
        assert walk_in.channel == Reservation.Channel.WALK_IN
        assert walk_in.status == Reservation.Status.BOOKED
        assert [p.name for p in walk_in.persons.all()] == ["来庁 次郎"]
        assert walk_in.persons.get().birth_date == date(1985, 4, 1)
        taken_before = booked_day.slot.taken
        booked_day.slot.refresh_from_db()
        assert booked_day.slot.taken == taken_before + 1  # the walk-in's seat; the resident's stays taken
    main = desktop.locator("main").inner_text()
    assert f"予約 {walk_in.code} を受け付けました。" in main
    assert "来庁 次郎（らいちょう じろう）" in main
    assert status_of(desktop, walk_in.code) == "予約済み"
    assert row_of(desktop, walk_in.code).locator("td").nth(5).inner_text().strip() == "当日受付"
    assert f"{booked_day.slot.taken} / {booked_day.slot.seats} 席" in main

    # The printable list: both bookings with their statuses, no buttons.
    with desktop.expect_navigation():
        desktop.get_by_role("link", name="印刷用の一覧").click()
    assert desktop.url == url(server_port, f"/staff/booking/day/print/?date={day:%Y-%m-%d}")
    assert "予約一覧" in desktop.locator("h1").inner_text()
    printed = desktop.locator("main").inner_text()
    assert code in printed
    assert walk_in.code in printed
    assert "窓口 一郎（まどぐち いちろう）" in printed
    assert status_of(desktop, code) == "完了"
    assert status_of(desktop, walk_in.code) == "予約済み"
    assert desktop.locator("main table").get_by_role("button").count() == 0
    assert desktop.locator('link[rel="stylesheet"][href*="print.css"]').count() == 1


def test_counter_staff_get_the_403_page_at_the_booking_settings(
    desktop: Any, server_port: int, counter_staff: CounterStaff
) -> None:
    log_in(desktop, server_port, counter_staff, then="/staff/booking/day/")
    assert "当日の予約一覧" in desktop.locator("h1").inner_text()
    response = desktop.goto(url(server_port, "/staff/booking/settings/"))
    assert response.status == 403
    assert desktop.locator("h1").inner_text() == "このページを表示する権限がありません"
    assert desktop.get_by_role("link", name="トップページへ戻る").is_visible()
