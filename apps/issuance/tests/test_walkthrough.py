"""Issue 6's "done when", through the pages: a supervisor imports the shipped sample file, marks the batch set up,
prints its notices (marking them mailed), a resident books a pickup with a number from a notice, counter staff hand
the card over through the checklist, and the card page shows each step with who and when. Another city sees none
of it."""

from __future__ import annotations

import re
from datetime import date

from django.test import Client
from django_tenants.utils import schema_context

from apps.booking.tests.resident_helpers import hidden, hold_url
from apps.issuance.counter.tests.test_counter_checklist import issue_data
from apps.issuance.imports.tests.support import SAMPLES, batch_id_of, upload
from apps.issuance.models import Card, CardState
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import SlotFactory, role_client, visit_day

SAMPLE = SAMPLES / "cards-ageo-sample.csv"
NUMBER, BIRTH = "K7R-204113", date(1980, 4, 1)  # the sample's first row: 上尾 太郎


def test_import_print_book_and_hand_over_with_the_whole_history(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    supervisor = role_client(city, Role.SUPERVISOR, "walk-supervisor")
    staff = role_client(city, Role.STAFF, "walk-staff")

    # 1. Import the sample as it ships: preview, then confirm.
    batch_id = batch_id_of(upload(supervisor, SAMPLE.read_bytes(), name=SAMPLE.name))
    preview = supervisor.get(f"/staff/cards/import/{batch_id}/").content.decode()
    assert "UTF-8" in preview
    supervisor.post(f"/staff/cards/import/{batch_id}/confirm/", follow=True)
    with schema_context(city.schema_name):
        card = Card.objects.get(notice_number=NUMBER)
        batch = card.delivery_batch
        assert Card.objects.count() == 30  # two delivery batches in the sample
        assert Card.objects.filter(delivery_batch=batch).count() == 15
        assert card.state == CardState.DELIVERED

    # 2. The batch is set up on the national terminal; 3. its notices are printed and mailed.
    bulk = {"action": "set_up", "scope": "batch", "target_batch": batch, "confirm": "1"}
    assert supervisor.post("/staff/cards/bulk/", bulk, follow=True).status_code == 200
    pdf = supervisor.post(
        "/staff/cards/notices/",
        {
            "batch": batch,
            "state": "",
            "variant": "letter",
            "kind": "notice",
            "action": "download",
            "mark_mailed": "on",
        },
    )
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.NOTICE_MAILED

    # 4. The resident books a pickup with the notice's number (typed full-width, no hyphen) and date of birth.
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=visit_day())
        url = hold_url(city_client, slot, purpose_code="pickup")
    html = city_client.get(url).content.decode()
    booked = city_client.post(
        url,
        {
            "p1-name": "上尾 太郎",
            "p1-kana": "あげお たろう",
            "p1-birth_date_0": "western",
            "p1-birth_date_1": str(BIRTH.year),
            "p1-birth_date_2": str(BIRTH.month),
            "p1-birth_date_3": str(BIRTH.day),
            "p1-notice_number": "Ｋ７Ｒ２０４１１３",
            "email": "taro@example.jp",
            "phone": "090-1234-5678",
            "submission_key": hidden(html, "submission_key"),
        },
        follow=True,
    )
    code_match = re.search(r'class="booking-code"[^>]*>\s*([A-Z0-9]+)', booked.content.decode())
    assert code_match, booked.content.decode()[:2000]
    code = code_match.group(1)
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.BOOKED

    # 5. At the counter: the booking code finds the card; one A document, receipt signed, issued.
    found = staff.post("/staff/counter/", {"q": code}, follow=True)
    assert found.status_code == 200
    checklist = f"/staff/counter/card/{card.pk}/"
    with schema_context(city.schema_name):
        data = issue_data()
    assert staff.post(checklist, data).status_code == 302
    with schema_context(city.schema_name):
        card.refresh_from_db()
        assert card.state == CardState.ISSUED
        assert card.reservation is None or card.reservation.status == "done"

    # 6. The card page tells the whole story, each step with who did it.
    page = staff.get(f"/staff/cards/{card.pk}/").content.decode()
    for step in ("カード一覧から登録", "交付前設定", "通知書印刷", "交付通知書発送", "予約", "交付"):
        assert step in page, step
    for who in ("walk-supervisor", "walk-staff", "住民（予約の画面から）"):
        assert who in page, who
    assert code in page  # the booking the card was booked with, by its code

    # Another city sees none of it.
    other = role_client(other_city, Role.SUPERVISOR, "walk-okegawa")
    assert other.get(f"/staff/cards/{card.pk}/").status_code == 404
    assert (
        f"/staff/cards/{card.pk}/"
        not in other.post("/staff/cards/", {"q": NUMBER}, follow=True).content.decode()
    )
    assert "上尾 太郎" not in other.get("/staff/cards/").content.decode()
    with schema_context(other_city.schema_name):
        assert Card.objects.count() == 0
