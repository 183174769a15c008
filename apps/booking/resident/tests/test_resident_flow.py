"""A resident books from a phone without an account: purpose → calendar → time → form → done → mail → manage."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import Hold, Person, Reservation, Slot
from apps.booking.resident.services import manage_token
from apps.booking.tests.resident_helpers import hidden, hold_url, person_data
from tenants.models import Municipality
from tests.factories import SlotFactory, make_card, visit_day

pytestmark = pytest.mark.usefixtures("mail_sync")


@pytest.fixture
def mail_sync(settings: object) -> None:
    settings.BOOKING_MAIL_SYNC = True  # type: ignore[attr-defined]


def _contact(form_html: str) -> dict[str, str]:
    return {
        "email": "hanako@example.jp",
        "phone": "０９０-1234-5678",
        "submission_key": hidden(form_html, "submission_key"),
    }


def _book_family(client: Client, slot: Slot, capture: object) -> tuple[str, str]:
    url = hold_url(client, slot, persons=2)
    form = client.get(url)
    html = form.content.decode()
    data = {
        **person_data("p1", "上尾 花子", "showa", "55", "4", "1", kana="あげお はなこ"),
        **person_data("p2", "Anna Ageo", "western", "2015", "12", "24"),
        **_contact(html),
    }
    with capture(execute=True):  # type: ignore[operator]
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return url, str(response["Location"])


def test_a_family_of_two_books_in_japanese_and_gets_the_mail_with_ics_and_a_working_link(
    city_client: Client, in_city: Municipality, django_capture_on_commit_callbacks: object
) -> None:
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=3)

    top = city_client.get("/book/")
    assert "用件を選んでください" in top.content.decode()
    assert "申請サポート" in top.content.decode()
    calendar = city_client.get(f"/book/application/?month={day:%Y-%m}").content.decode()
    assert "○ 空きあり" in calendar or "△ 残りわずか" in calendar
    assert f'href="/book/application/{day.isoformat()}/"' in calendar
    times = city_client.get(f"/book/application/{day.isoformat()}/").content.decode()
    assert "10:00" in times
    assert "あと3人" in times

    url, done_url = _book_family(city_client, slot, django_capture_on_commit_callbacks)
    form_html = city_client.get(url)
    assert form_html.status_code == 410  # the hold became the booking

    done = city_client.get(done_url).content.decode()
    reservation = Reservation.objects.get()
    assert reservation.code in done
    assert "予約が完了しました" in done
    assert f"{day:%Y-%m-%d}" in done
    assert "10:00–10:30" in done
    assert "令和" in done
    assert "本人確認書類" in done  # what to bring
    assert "048-775-5111" in done  # the city's phone
    people = list(Person.objects.order_by("order"))
    assert [p.birth_date for p in people] == [date(1980, 4, 1), date(2015, 12, 24)]
    assert people[1].kana == ""
    slot.refresh_from_db()
    assert slot.taken == 2

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["hanako@example.jp"]
    assert "予約を受け付けました" in message.subject
    assert reservation.code in message.subject
    assert "本人確認書類" in message.body
    assert "048-775-5111" in message.body
    assert message.alternatives[0][1] == "text/html"  # type: ignore[attr-defined]
    _name, ics, mimetype = message.attachments[0]  # type: ignore[misc]
    assert mimetype.startswith("text/calendar")
    assert "\r\n" in ics
    assert "\n" not in ics.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    assert f"UID:{reservation.code}@" in unfolded
    start_utc = slot.start.astimezone(__import__("datetime").UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start_utc}" in unfolded
    assert "本人確認書類" in unfolded
    assert "048-775-5111" in unfolded

    link = re.search(r"http://ageo\.localhost/book/manage/[^\s]+/", message.body)
    assert link, message.body
    manage = city_client.get(link.group(0).replace("http://ageo.localhost", ""))
    assert manage.status_code == 200
    assert reservation.code in manage.content.decode()
    assert "予約を取り消す" in manage.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        cancelled = city_client.post(link.group(0).replace("http://ageo.localhost", ""), {"action": "cancel"})
    assert cancelled.status_code == 302
    assert "この予約は取り消されています" in city_client.get(cancelled["Location"]).content.decode()
    slot.refresh_from_db()
    assert slot.taken == 0
    assert len(mail.outbox) == 2
    assert "取り消しました" in mail.outbox[1].subject
    assert "STATUS:CANCELLED" in mail.outbox[1].attachments[0][1]  # type: ignore[index]


def test_a_double_submit_makes_one_booking_and_one_mail(
    city_client: Client, in_city: Municipality, django_capture_on_commit_callbacks: object
) -> None:
    slot = SlotFactory.create(day=visit_day())
    url = hold_url(city_client, slot)
    html = city_client.get(url).content.decode()
    data = {**person_data("p1", "上尾 太郎", "heisei", "元", "2", "3"), **_contact(html)}
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        first = city_client.post(url, data)
        second = city_client.post(url, data)
    assert first.status_code == 302
    assert Reservation.objects.count() == 1
    assert second.status_code == 302  # the resubmission shows the booking it already made
    assert second["Location"] == first["Location"]
    assert len(mail.outbox) == 1
    assert Person.objects.get().birth_date == date(1989, 2, 3)  # 平成元年


def test_bad_input_is_refused_with_the_message_and_the_input_kept(
    city_client: Client, in_city: Municipality
) -> None:
    slot = SlotFactory.create(day=visit_day())
    url = hold_url(city_client, slot)
    html = city_client.get(url).content.decode()
    data = {
        **person_data("p1", "上尾 123456789018", "reiwa", "2", "2", "30"),
        **_contact(html),
    }
    response = city_client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "個人番号（マイナンバー）は入力しないでください" in page
    assert "令和2年2月30日 という日はありません" in page
    assert 'value="hanako@example.jp"' in page  # the input is kept
    assert Reservation.objects.count() == 0

    outside = {**person_data("p1", "上尾 太郎", "heisei", "31", "6", "1"), **_contact(html)}
    page = city_client.post(url, outside).content.decode()
    assert "平成31年6月1日 は平成の期間にありません" in page


def test_the_notice_number_is_required_for_pickup_and_normalised(
    city_client: Client, in_city: Municipality, django_capture_on_commit_callbacks: object
) -> None:
    slot = SlotFactory.create(day=visit_day())
    make_card(notice_number="A1B-123456", birth_date=date(1970, 1, 1))  # the city's card list has it
    url = hold_url(city_client, slot, purpose_code="pickup")
    html = city_client.get(url).content.decode()
    assert "交付通知書の番号" in html
    data = {**person_data("p1", "上尾 太郎", "western", "1970", "1", "1"), **_contact(html)}
    missing = city_client.post(url, data)
    assert missing.status_code == 400
    assert "交付通知書の番号を入力してください" in missing.content.decode()
    data["p1-notice_number"] = "ａ１ｂ１２３４５６"
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = city_client.post(url, data)
    assert response.status_code == 302
    assert Person.objects.get().notice_number == "A1B-123456"


def test_a_slot_taken_meanwhile_gives_409_with_other_times(
    city_client: Client, in_city: Municipality
) -> None:
    day = visit_day()
    slot = SlotFactory.create(day=day, seats=1)
    SlotFactory.create(day=day, at=time(11, 0), seats=2)
    SlotFactory.create(day=visit_day(8), seats=2)
    hold_url(city_client, slot)  # someone else holds the only seat
    response = city_client.post(f"/book/application/{day.isoformat()}/", {"slot": slot.pk, "persons": 1})
    page = response.content.decode()
    assert response.status_code == 409
    assert "ちょうど満席になりました" in page
    assert "11:00" in page
    assert f"/book/application/{visit_day(8).isoformat()}/" in page


def test_english_pages_render(city_client: Client, in_city: Municipality) -> None:
    slot = SlotFactory.create(day=visit_day())
    city_client.cookies["django_language"] = "en"
    assert "Application support" in city_client.get("/book/").content.decode()
    day = slot.start.date()
    assert "Available" in city_client.get(f"/book/application/?month={day:%Y-%m}").content.decode()
    url = hold_url(city_client, slot)
    assert "Date of birth" in city_client.get(url).content.decode()


def test_another_city_cannot_see_or_manage_the_booking(
    city_client: Client,
    other_city_client: Client,
    in_city: Municipality,
    django_capture_on_commit_callbacks: object,
    other_city: Municipality,
) -> None:
    slot = SlotFactory.create(day=visit_day())
    _url, done_url = _book_family(city_client, slot, django_capture_on_commit_callbacks)
    reservation = Reservation.objects.get()
    token = manage_token(reservation)
    assert other_city_client.get(f"/book/manage/{token}/").status_code == 404
    assert other_city_client.get(done_url).status_code == 404
    with schema_context(other_city.schema_name):
        assert not Reservation.objects.exists()
        assert not Hold.objects.exists()
    assert timezone.now() < slot.start
