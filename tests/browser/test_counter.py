"""Counter staff hand a card over in Japanese with the keyboard only: sign in, type the booking code into the
search box (focused on arrival), land on the card's checklist (focused on its first field), choose the A
document, tick the old 通知カード and the signed receipt, press 交付済にする, and see the card issued and the
booking done.

The filled checklist is photographed for docs/counter.md: with MADOGUCHI_SCREENSHOTS=1 the picture replaces
docs/images/counter-checklist.png, otherwise it goes to the test's temporary folder (a test run leaves the
checkout clean).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CounterGroup, Person, Purpose, Reservation, Slot
from apps.booking.reservations.services import PersonInput
from apps.booking.staff.services import reservation_book_by_staff
from apps.issuance.models import Card, CardEvent, CardState, CounterCheck
from apps.security.actors import as_actor
from apps.security.models import Role, User
from tests.browser.test_staff_day import CounterStaff, log_in, url
from tests.factories import CardFactory, UserFactory, with_totp

ROOT = Path(__file__).resolve().parents[2]
PICTURE = ROOT / "docs" / "images" / "counter-checklist.png"
USERNAME = "browser-counter"  # log_in (test_staff_day) signs in under this name


@dataclass
class BookedCard:
    card: Card
    reservation: Reservation


@pytest.fixture
def counter_staff(django_db_blocker: Any, server_port: int) -> Iterator[CounterStaff]:
    with django_db_blocker.unblock(), schema_context("ageo"):
        user = cast(
            User,
            UserFactory(
                username=USERNAME, email=f"{USERNAME}@example.jp", role=Role.STAFF, display_name="窓口 担当"
            ),
        )
        secret = with_totp(user)
    yield CounterStaff(user, secret)
    with django_db_blocker.unblock(), schema_context("ageo"):
        CounterCheck.objects.filter(by=user).delete()
        CardEvent.objects.filter(by=user).delete()
        User.objects.filter(pk=user.pk).delete()


@pytest.fixture
def booked_card(django_db_blocker: Any, server_port: int) -> Iterator[BookedCard]:
    """A card waiting at the counter, booked for this morning by phone."""
    start = datetime.combine(timezone.now().astimezone(TOKYO).date(), time(9, 30), TOKYO)
    with django_db_blocker.unblock(), schema_context("ageo"):
        helper = UserFactory(username="browser-counter-booking", role=Role.STAFF)
        card = cast(
            Card,
            CardFactory(
                notice_number="K7M-204816",
                name="上尾 花子",
                kana="アゲオ ハナコ",
                birth_date=date(1986, 9, 14),
                postal_code="362-8501",
                address="埼玉県上尾市本町三丁目1番1号",
                delivery_batch="2026-11-01",
                delivery_date=date(2026, 11, 1),
            ),
        )
        slot, created = Slot.objects.get_or_create(
            counter_group=CounterGroup.objects.get(),
            start=start,
            defaults={"end": start + timedelta(minutes=30), "seats": 3},
        )
        taken_before = slot.taken
        reservation = reservation_book_by_staff(
            slot_id=slot.pk,
            purpose_id=Purpose.objects.get(code="pickup").pk,
            persons=[
                PersonInput(
                    name=card.name,
                    kana="あげお はなこ",
                    birth_date=card.birth_date,
                    notice_number=card.notice_number,
                )
            ],
            phone="048-775-5111",
            email="",
            channel=Reservation.Channel.PHONE,
            now=timezone.now(),
            actor=as_actor(helper),
        )
        Card.objects.filter(pk=card.pk).update(reservation=reservation, state=CardState.BOOKED)
    yield BookedCard(card, reservation)
    with django_db_blocker.unblock(), schema_context("ageo"):
        CounterCheck.objects.filter(card=card).delete()
        Card.objects.filter(pk=card.pk).delete()
        Person.objects.filter(reservation=reservation).delete()
        Reservation.objects.filter(pk=reservation.pk).delete()
        if created:
            Slot.objects.filter(pk=slot.pk).delete()
        else:
            Slot.objects.filter(pk=slot.pk).update(taken=taken_before)
        User.objects.filter(pk=helper.pk).delete()


def focused(page: Any) -> dict[str, str]:
    return dict(
        page.evaluate(
            """() => {
                const e = document.activeElement;
                return {tag: e.tagName, name: e.name || "", value: e.value || "", type: e.type || "",
                        text: (e.textContent || "").trim()};
            }"""
        )
    )


def tab_until(page: Any, limit: int = 60, **wanted: str) -> None:
    """Press Tab until the focused element has every attribute in `wanted` (name, value, text...)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if all(now.get(key) == value for key, value in wanted.items()):
            return
    raise AssertionError(f"Tab never reached {wanted!r}; last {focused(page)!r}")


def test_counter_staff_issue_a_booked_card_with_the_keyboard_only(
    desktop: Any,
    server_port: int,
    counter_staff: CounterStaff,
    booked_card: BookedCard,
    django_db_blocker: Any,
    tmp_path: Path,
) -> None:
    card, reservation = booked_card.card, booked_card.reservation
    log_in(desktop, server_port, counter_staff, then="/staff/counter/")
    assert desktop.url == url(server_port, "/staff/counter/"), desktop.url
    assert desktop.locator("html").get_attribute("lang") == "ja"
    assert desktop.locator("h1").inner_text() == "窓口での交付"

    # The box has the focus: type the code as read from the booking slip, in lower case, and press Enter.
    assert focused(desktop)["name"] == "q"
    desktop.keyboard.type(reservation.code.lower())
    with desktop.expect_navigation():
        desktop.keyboard.press("Enter")

    # One card: straight to its checklist, focus on the first field (A書類1点, already chosen).
    assert desktop.url == url(server_port, f"/staff/counter/card/{card.pk}/"), desktop.url
    assert "交付の確認" in desktop.locator("h1").inner_text()
    main = desktop.locator("main").inner_text()
    assert "上尾 花子" in main
    assert "1986年9月14日（昭和61年9月14日）" in main
    assert reservation.code in main
    assert focused(desktop) == {**focused(desktop), "name": "identity_kind", "value": "one_a"}
    assert desktop.get_by_label("B書類2点").is_checked() is False
    assert (
        desktop.get_by_label("資格確認書", exact=True).is_visible() is False
    )  # B documents show only for B書類2点

    tab_until(desktop, name="document_a")
    desktop.keyboard.press("Space")  # the first A document: 運転免許証
    assert desktop.get_by_label("運転免許証", exact=True).is_checked()
    tab_until(desktop, name="old_cards", value="notification_card")
    desktop.keyboard.press("Space")
    tab_until(desktop, name="receipt_signed")
    desktop.keyboard.press("Space")
    assert desktop.get_by_label("受領書に署名をもらった").is_checked()
    tab_until(desktop, text="交付済にする")

    picture = PICTURE if os.environ.get("MADOGUCHI_SCREENSHOTS") == "1" else tmp_path / PICTURE.name
    desktop.screenshot(path=str(picture), full_page=True)
    assert picture.stat().st_size > 10_000

    with desktop.expect_navigation():
        desktop.keyboard.press("Enter")
    assert desktop.url == url(server_port, "/staff/counter/")
    messages = desktop.locator(".messages").inner_text()
    assert f"カード {card.notice_number}（上尾 花子 さん）を交付済にしました。" in messages
    assert f"予約 {reservation.code} を完了にしました。" in messages

    with django_db_blocker.unblock(), schema_context("ageo"):
        card.refresh_from_db()
        reservation.refresh_from_db()
        assert card.state == CardState.ISSUED
        assert reservation.status == Reservation.Status.DONE
        check = CounterCheck.objects.get(card=card)
        assert check.documents == ["運転免許証"]
        assert check.old_cards == ["notification_card"]
        assert check.by_id == counter_staff.user.pk

    # Back at the card, the counter is told it is already issued, by whom.
    desktop.goto(url(server_port, f"/staff/counter/card/{card.pk}/"))
    assert "はすでに交付済です" in desktop.locator("main").inner_text()
    assert "担当 窓口 担当" in desktop.locator("main").inner_text()
