"""Work lists: each picks exactly the right cards at its boundary; bulk remind/expire with a confirmation; who may
see and do what; every view of personal data is recorded; another city sees none of it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.staff.tests.test_staff_day import book
from apps.issuance.models import Card, CardEvent, CardState, EventKind, IssuanceSettings
from apps.issuance.reports import selectors as sel
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardEventFactory, CardFactory, SlotFactory, role_client

LISTS = "/staff/reports/lists/"
UNCLAIMED = LISTS + "unclaimed/"
RETENTION = LISTS + "retention/"
RETURNED = LISTS + "returned/"
NO_SHOWS = LISTS + "no-shows/"
TODAY = LISTS + "today/"


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TOKYO)


def new_card(**fields: Any) -> Card:
    return CardFactory.create(**fields)


def policy(*, weeks: int = 4, months: int = 6) -> None:
    IssuanceSettings.objects.update_or_create(
        pk=1, defaults={"reminder_after_weeks": weeks, "retention_months": months}
    )


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF)


@pytest.fixture
def auditor(city: Municipality) -> Client:
    return role_client(city, Role.AUDITOR)


# --- Unclaimed for N weeks ---------------------------------------------------------------------------------------


def test_unclaimed_takes_cards_mailed_exactly_n_weeks_ago_and_not_a_day_later(
    city: Municipality, supervisor: Client
) -> None:
    today = timezone.localdate()
    cutoff = today - timedelta(weeks=4)
    with schema_context(city.schema_name):
        policy(weeks=4)
        late_on_the_day = CardFactory.create(notice_mailed_at=at(cutoff, 23, 59))
        early_next_day = CardFactory.create(notice_mailed_at=at(cutoff + timedelta(days=1)))
        long_ago = CardFactory.create(notice_mailed_at=at(today - timedelta(weeks=20)))
        returned = CardFactory.create(
            state=CardState.RETURNED_MAIL, notice_mailed_at=at(today - timedelta(weeks=20))
        )
        booked = CardFactory.create(state=CardState.BOOKED, notice_mailed_at=at(today - timedelta(weeks=20)))
        picked = set(sel.unclaimed_cards(today=today, weeks=4).values_list("notice_number", flat=True))
    assert picked == {late_on_the_day.notice_number, long_ago.notice_number}
    page = supervisor.get(UNCLAIMED).content.decode()
    assert late_on_the_day.notice_number in page
    assert long_ago.notice_number in page
    for absent in (early_next_day, returned, booked):
        assert absent.notice_number not in page
    assert "2件" in page


def test_a_reminder_restarts_the_wait(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        policy(weeks=4)
        card = new_card(notice_mailed_at=timezone.now() - timedelta(weeks=10))
    confirm = supervisor.get(UNCLAIMED + "remind/")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "「再通知を送った」を実行する" in page
    cards = confirm.context["form"].initial["cards"]
    assert cards == str(card.pk)
    result = supervisor.post(UNCLAIMED + "remind/", {"cards": cards})
    assert result.status_code == 200
    assert "1件を変更しました。" in result.content.decode()
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.NOTICE_MAILED
        assert card.notice_mailed_at is not None
        assert card.notice_mailed_at > timezone.now() - timedelta(minutes=5)
        assert CardEvent.objects.filter(card=card, kind=EventKind.REMINDER).count() == 1
        assert AuditEvent.objects.filter(action="card.bulk_remind").exists()
        assert not sel.unclaimed_cards(today=timezone.localdate(), weeks=4).exists()
    # Sent again (a reload): the card has left the list, nothing is reminded twice.
    again = supervisor.post(UNCLAIMED + "remind/", {"cards": cards})
    assert "0件を変更しました。" in again.content.decode()
    assert "一覧の対象から外れていました。" in again.content.decode()
    with schema_context(city.schema_name):
        assert CardEvent.objects.filter(card=card, kind=EventKind.REMINDER).count() == 1


# --- Retention ending ----------------------------------------------------------------------------------------------


def test_retention_takes_cards_whose_retention_ends_today_and_not_tomorrow(
    city: Municipality, supervisor: Client
) -> None:
    today = timezone.localdate()
    cutoff = sel.retention_cutoff(today=today, months=6)
    with schema_context(city.schema_name):
        policy(months=6)
        ends_today = CardFactory.create(state=CardState.SET_UP, delivery_date=cutoff)
        ends_tomorrow = CardFactory.create(state=CardState.SET_UP, delivery_date=cutoff + timedelta(days=1))
        returned = CardFactory.create(
            state=CardState.RETURNED_MAIL, delivery_date=cutoff - timedelta(days=40)
        )
        issued = CardFactory.create(state=CardState.ISSUED, delivery_date=cutoff - timedelta(days=40))
        booked = CardFactory.create(state=CardState.BOOKED, delivery_date=cutoff - timedelta(days=40))
        picked = set(sel.retention_cards(today=today, months=6).values_list("notice_number", flat=True))
    assert sel.retention_end(cutoff, 6) <= today < sel.retention_end(cutoff + timedelta(days=1), 6)
    assert picked == {ends_today.notice_number, returned.notice_number}
    page = supervisor.get(RETENTION).content.decode()
    assert ends_today.notice_number in page
    for absent in (ends_tomorrow, issued, booked):
        assert absent.notice_number not in page


@pytest.mark.parametrize("months", [1, 3, 6, 12, 13])
def test_retention_cutoff_matches_the_month_arithmetic_on_every_day(months: int) -> None:
    """retention_end(d) <= today exactly when d <= cutoff, for every day of two years (month ends, Feb 29...)."""
    start = date(2027, 1, 1)
    days = [start + timedelta(days=n) for n in range(-400, 400)]
    edges = [date(2028, 2, 29), date(2027, 2, 28), date(2027, 3, 31), date(2027, 8, 31)]
    for today in [*days[300:700:7], *edges]:
        cutoff = sel.retention_cutoff(today=today, months=months)
        for day in days:
            assert (sel.retention_end(day, months) <= today) == (day <= cutoff), (today, day)


def test_retention_end_is_postgresqls_date_plus_months(db: None) -> None:
    days = [date(2026, 8, 31), date(2027, 8, 29), date(2027, 8, 31), date(2027, 1, 31), date(2027, 11, 30)]
    with connection.cursor() as cursor:
        for day in days:
            cursor.execute("SELECT (%s::date + interval '6 months')::date", [day])
            assert cursor.fetchone()[0] == sel.retention_end(day, 6)


def test_expire_from_the_retention_list_skips_express_cards_and_says_why(
    city: Municipality, supervisor: Client
) -> None:
    old = timezone.localdate() - timedelta(days=400)
    with schema_context(city.schema_name):
        policy(months=6)
        ordinary = CardFactory.create(state=CardState.NOTICE_MAILED, delivery_date=old)
        express = CardFactory.create(state=CardState.SET_UP, delivery_date=old, express=True)
    confirm = supervisor.get(RETENTION + "expire/")
    page = confirm.content.decode()
    assert confirm.context["will_do"] == 1
    assert f"特急発行のカード（{express.notice_number}）には「保管期限切れにする」を行えません。" in page
    result = supervisor.post(RETENTION + "expire/", {"cards": confirm.context["form"].initial["cards"]})
    page = result.content.decode()
    assert "1件を変更しました。" in page
    assert express.notice_number in page
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=ordinary.pk).state == CardState.RETENTION_EXPIRED
        assert Card.objects.get(pk=express.pk).state == CardState.SET_UP


def test_a_tampered_card_list_is_refused_with_a_message(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(RETENTION + "expire/", {"cards": "1,2,<script>"})
    assert response.status_code == 400
    assert "対象のカードを確認できませんでした。" in response.content.decode()


def test_a_card_not_on_the_list_is_never_changed_by_posting_its_id(
    city: Municipality, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        policy(months=6)
        fresh = CardFactory.create(state=CardState.SET_UP, delivery_date=timezone.localdate())
    result = supervisor.post(RETENTION + "expire/", {"cards": str(fresh.pk)})
    assert "0件を変更しました。" in result.content.decode()
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=fresh.pk).state == CardState.SET_UP


# --- Returned mail, no-shows, today's pickups ----------------------------------------------------------------------


def test_returned_mail_lists_only_returned_cards(city: Municipality, supervisor: Client) -> None:
    with schema_context(city.schema_name):
        returned = CardFactory.create(state=CardState.RETURNED_MAIL)
        mailed = CardFactory.create(state=CardState.NOTICE_MAILED)
    page = supervisor.get(RETURNED).content.decode()
    assert returned.notice_number in page
    assert mailed.notice_number not in page


def test_no_shows_within_the_chosen_days_both_included(city: Municipality, supervisor: Client) -> None:
    start, end = date(2026, 10, 1), date(2026, 10, 31)
    with schema_context(city.schema_name):
        inside = {}
        for when in (at(start), at(end, 23, 59)):
            card = new_card()
            CardEventFactory.create(
                card=card, kind=EventKind.NO_SHOW, from_state="booked", to_state="notice_mailed", at=when
            )
            inside[card.notice_number] = when
        before = new_card()
        CardEventFactory.create(
            card=before,
            kind=EventKind.NO_SHOW,
            from_state="booked",
            to_state="notice_mailed",
            at=at(start) - timedelta(seconds=1),
        )
    page = supervisor.get(NO_SHOWS, {"from": "2026-10-01", "to": "2026-10-31"}).content.decode()
    for number in inside:
        assert number in page
    assert before.notice_number not in page
    assert "2026-10-31 23:59" in page


def test_no_show_period_errors_are_a_400_with_the_input_kept(city: Municipality, supervisor: Client) -> None:
    response = supervisor.get(NO_SHOWS, {"from": "2026-10-31", "to": "2026-10-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "終了日は開始日以降の日付にしてください。" in page
    assert 'value="2026-10-31"' in page
    number = supervisor.get(NO_SHOWS, {"from": "1234 5678 9018"})
    assert number.status_code == 400  # an address holding a 個人番号 is refused before the list reads it
    assert "個人番号を含むアドレスは開けません" in number.content.decode()
    assert "1234 5678 9018" not in number.content.decode()


def test_todays_pickups_show_time_and_booking_code_and_counter_staff_may_read_them(
    city: Municipality, staff: Client
) -> None:
    today = timezone.localdate()
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=today, at=time(10, 30)))
        tomorrow = book(
            city, SlotFactory.create(day=today + timedelta(days=1), at=time(10, 30)), name="川越次郎"
        )
        card = CardFactory.create(state=CardState.BOOKED, reservation=reservation, name="上尾 予約者")
        later = CardFactory.create(state=CardState.BOOKED, reservation=tomorrow)
        issued = CardFactory.create(state=CardState.ISSUED, reservation=reservation)
    response = staff.get(TODAY)
    assert response.status_code == 200
    page = response.content.decode()
    assert card.notice_number in page
    assert reservation.code in page
    assert "10:30" in page
    assert "上尾 予約者" in page
    assert later.notice_number not in page
    assert issued.notice_number not in page
    export = staff.get(TODAY + "export/", {"encoding": "cp932"})
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("cp932")
    assert f"{card.notice_number},10:30,{reservation.code}" in text


def test_todays_list_costs_the_same_queries_however_many_pickups(city: Municipality, staff: Client) -> None:
    today = timezone.localdate()

    frames = iter(range(20))

    def add(count: int) -> None:
        with schema_context(city.schema_name):
            for _n in range(count):
                frame = next(frames)
                reservation = book(
                    city,
                    SlotFactory.create(day=today, at=time(8 + frame // 2, 30 * (frame % 2))),
                    name=f"予約{frame}",
                )
                CardFactory.create(state=CardState.BOOKED, reservation=reservation)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(TODAY).status_code == 200
        return len(captured.captured_queries)

    add(1)
    queries()  # the first request of a session does more (session, settings rows)
    few = queries()
    add(10)
    assert queries() == few


# --- Who may see and do what; what is recorded; the other city -----------------------------------------------------


@pytest.mark.parametrize(
    "path", [UNCLAIMED, RETENTION, RETURNED, NO_SHOWS, UNCLAIMED + "export/", UNCLAIMED + "remind/"]
)
def test_counter_staff_and_auditors_may_not_open_the_supervisors_lists(
    city: Municipality, staff: Client, auditor: Client, path: str
) -> None:
    assert staff.get(path).status_code == 403
    assert auditor.get(path).status_code == 403


def test_an_auditor_cannot_run_a_bulk_action(city: Municipality, auditor: Client) -> None:
    with schema_context(city.schema_name):
        card = new_card(notice_mailed_at=timezone.now() - timedelta(weeks=40))
    assert auditor.post(UNCLAIMED + "remind/", {"cards": str(card.pk)}).status_code == 403
    with schema_context(city.schema_name):
        assert not CardEvent.objects.filter(card=card).exists()


def test_anonymous_goes_to_the_login_page(city_client: Client) -> None:
    for path in (LISTS, UNCLAIMED, TODAY, UNCLAIMED + "export/"):
        response = city_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_index_counts_each_list_and_staff_see_only_todays(
    city: Municipality, supervisor: Client, staff: Client
) -> None:
    with schema_context(city.schema_name):
        CardFactory.create(state=CardState.RETURNED_MAIL)
        CardFactory.create(state=CardState.RETURNED_MAIL)
    page = supervisor.get(LISTS).content.decode()
    assert "返戻" in page
    assert "2件" in page
    staff_page = staff.get(LISTS).content.decode()
    assert "本日の受取予定" in staff_page
    assert "返戻" not in staff_page


def test_list_pages_and_exports_record_the_view_of_personal_data(
    city: Municipality, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        CardFactory.create(state=CardState.RETURNED_MAIL)
    supervisor.get(RETURNED)
    b"".join(supervisor.get(RETURNED + "export/").streaming_content)
    with schema_context(city.schema_name):
        events = AuditEvent.objects.filter(action="personal_data.viewed", target="issuance:list:returned")
        summaries = list(events.values_list("summary", flat=True))
    assert len(summaries) == 2
    assert any("CSV" in summary for summary in summaries)


def test_another_city_sees_none_of_these_cards(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        policy(weeks=1, months=1)
        cards: list[Any] = [
            CardFactory.create(state=CardState.RETURNED_MAIL, delivery_date=date(2020, 1, 1)),
            CardFactory.create(notice_mailed_at=timezone.now() - timedelta(weeks=40)),
        ]
    okegawa = role_client(other_city, Role.SUPERVISOR, "okegawa-boss")
    for path in (UNCLAIMED, RETENTION, RETURNED, LISTS):
        page = okegawa.get(path).content.decode()
        for card in cards:
            assert card.notice_number not in page
    export = b"".join(okegawa.get(RETURNED + "export/").streaming_content).decode("utf-8-sig")
    assert export.count("\r\n") == 1  # the header only
