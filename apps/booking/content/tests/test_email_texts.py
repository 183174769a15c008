"""A city's own email texts: used when present (ja/en), placeholders filled safely, .ics and manage link kept."""

from __future__ import annotations

import uuid
from datetime import date, time

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.models import EmailText, Reservation
from apps.booking.reminders.services import compose_reminder
from apps.booking.reservations.mail import BOOKED, CANCELLED, send_reservation_mail
from apps.booking.reservations.mail_texts import placeholder_errors, render_text
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.booking.tests.resident_helpers import application
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import EmailTextFactory, SlotFactory, role_client, visit_day

OWN_BODY = "{city}の窓口予約です。\n予約番号: {code}\n日時: {date} {time}\n用件: {purpose}\n場所: {counter} {location}\n{unknown}"


def _reservation(language: str = "ja", at: time = time(10, 0)) -> Reservation:
    slot = SlotFactory.create(day=visit_day(), at=at)
    now = timezone.now()
    hold = hold_create(slot_id=slot.pk, purpose_id=application().pk, persons=1, now=now)
    return reservation_confirm(
        hold_token=hold.token,
        persons=[PersonInput(name=f"上尾 {language}{at:%H}", birth_date=date(1985, 5, 5))],
        email="taro@example.jp",
        phone="",
        submission_key=uuid.uuid4(),
        now=now,
        language=language,
    )


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


def test_placeholders_are_filled_and_unknown_ones_stay_visible() -> None:
    assert render_text("{code} {nope} {{literal}}", {"code": "AB12"}) == "AB12 {nope} {literal}"


@pytest.mark.parametrize("text", ["{code.__class__}", "{code[0]}", "{code!r}", "{code:>99999}", "{code", "}"])
def test_attribute_index_conversion_and_broken_braces_are_refused(text: str) -> None:
    assert placeholder_errors(text)
    # A stored text that has them anyway is left as written, never evaluated.
    assert render_text(text, {"code": "x"}) == text.replace("{code}", "x")


def test_the_built_in_text_is_used_without_a_city_text(in_city: Municipality) -> None:
    reservation = _reservation()
    assert send_reservation_mail(reservation.pk, BOOKED, "http://ageo.localhost")
    assert "窓口の予約を受け付けました" in mail.outbox[0].subject


def test_the_citys_own_text_is_used_with_the_ics_and_the_manage_link(in_city: Municipality) -> None:
    EmailTextFactory.create(kind="booked", language="ja", subject="【上尾市】予約 {code}", body=OWN_BODY)
    reservation = _reservation()
    send_reservation_mail(reservation.pk, BOOKED, "http://ageo.localhost")
    message = mail.outbox[0]
    assert message.subject == f"【上尾市】予約 {reservation.code}"
    assert f"予約番号: {reservation.code}" in message.body
    assert "申請サポート" in message.body
    assert "{unknown}" in message.body
    assert "http://ageo.localhost/book/manage/" in message.body  # added: the text had no {manage_url}
    assert message.attachments[0][0] == f"{reservation.code}.ics"  # type: ignore[attr-defined]
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert 'href="http://ageo.localhost/book/manage/' in str(html)


def test_the_english_text_goes_to_english_bookings_only(in_city: Municipality) -> None:
    EmailTextFactory.create(
        kind="cancelled", language="en", subject="Cancelled {code}", body="Bye {manage_url}"
    )
    english, japanese = _reservation("en"), _reservation("ja", at=time(11, 0))
    send_reservation_mail(english.pk, CANCELLED, "http://ageo.localhost")
    send_reservation_mail(japanese.pk, CANCELLED, "http://ageo.localhost")
    assert mail.outbox[0].subject == f"Cancelled {english.code}"
    assert mail.outbox[0].body.count("/book/manage/") == 1  # the text has the link: not added twice
    assert "窓口の予約を取り消しました" in mail.outbox[1].subject


def test_the_reminder_uses_the_citys_text(in_city: Municipality) -> None:
    EmailTextFactory.create(kind="reminder", language="ja", subject="明日です {code}", body="{date} {time}")
    reservation = _reservation()
    message = compose_reminder(
        Reservation.objects.select_related("slot__counter_group", "purpose").get(pk=reservation.pk)
    )
    assert message.subject == f"明日です {reservation.code}"
    assert "/book/manage/" in message.body


def test_a_supervisor_previews_saves_and_resets_and_each_write_is_audited(
    city: Municipality, supervisor: Client
) -> None:
    url = "/staff/booking/mail-texts/booked/ja/"
    assert supervisor.get("/staff/booking/mail-texts/").status_code == 200
    assert supervisor.get(url).status_code == 200
    data = {"subject": "予約 {code}", "body": "{city} {date}"}
    preview = supervisor.post(url, {**data, "action": "preview"})
    assert preview.status_code == 200
    assert "予約 AB12CD34" in preview.content.decode()
    with schema_context(city.schema_name):
        assert not EmailText.objects.exists()
    assert supervisor.post(url, {**data, "action": "save"}).status_code == 302
    assert supervisor.post(f"{url}reset/").status_code == 302
    with schema_context(city.schema_name):
        assert not EmailText.objects.exists()
        actions = list(
            AuditEvent.objects.filter(action__startswith="booking.email_text")
            .order_by("sequence")
            .values_list("action", flat=True)
        )
    assert actions == ["booking.email_text_saved", "booking.email_text_reset"]


def test_a_dangerous_placeholder_is_refused_with_the_input_kept(
    city: Municipality, supervisor: Client
) -> None:
    response = supervisor.post(
        "/staff/booking/mail-texts/booked/ja/",
        {"subject": "件名", "body": "{code.__init__.__globals__}", "action": "save"},
    )
    assert response.status_code == 400
    assert "使えません" in response.content.decode()
    with schema_context(city.schema_name):
        assert not EmailText.objects.exists()


def test_counter_staff_cannot_edit_email_texts(city: Municipality) -> None:
    staff = role_client(city, Role.STAFF)
    assert staff.get("/staff/booking/mail-texts/").status_code == 403
    assert (
        staff.post("/staff/booking/mail-texts/booked/ja/", {"subject": "x", "body": "y"}).status_code == 403
    )
    assert staff.post("/staff/booking/mail-texts/booked/ja/reset/").status_code == 403


def test_an_unknown_kind_is_not_found(city: Municipality, supervisor: Client) -> None:
    assert supervisor.get("/staff/booking/mail-texts/nope/ja/").status_code == 404


def test_another_city_keeps_the_built_in_text(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        EmailTextFactory.create(kind="booked", language="ja", subject="上尾市の件名 {code}", body="上尾市")
    with schema_context(other_city.schema_name):
        assert not EmailText.objects.exists()
        reservation = _reservation()
        send_reservation_mail(reservation.pk, BOOKED, "http://okegawa.localhost")
    assert "上尾市の件名" not in mail.outbox[0].subject
    assert "窓口の予約を受け付けました" in mail.outbox[0].subject
