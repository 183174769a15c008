"""Reports: the monthly summary from a constructed history, counts by state / kind / counter, the issued-per-day
chart, slot use and no-show rate, CSV and PDF, who may read them, and another city's zeros."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Reservation, Slot
from apps.booking.staff.tests.test_staff_day import book
from apps.issuance.models import Card, CardState, EventKind
from apps.issuance.reports import selectors as sel
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import (
    CardEventFactory,
    CardFactory,
    CounterGroupFactory,
    ReservationFactory,
    SlotFactory,
    role_client,
)

REPORT = "/staff/reports/"
MONTHLY = "/staff/reports/monthly/"
SVG = "{http://www.w3.org/2000/svg}"
S, E = CardState, EventKind


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TOKYO)


def history(card: Card, *steps: tuple[str, datetime, str]) -> Card:
    """Events (kind, when, state after) in order; the card ends in the last state."""
    state = ""
    for kind, when, to in steps:
        CardEventFactory.create(card=card, kind=kind, from_state=state, to_state=to, at=when)
        state = to
    Card.objects.filter(pk=card.pk).update(state=state or card.state)
    return card


SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)


def two_months() -> None:
    """Eight cards across September and October 2026 (docs/reports.md walks through the same figures)."""
    d = date(2026, 9, 3)
    mailed = [
        (E.IMPORTED, at(d), S.DELIVERED),
        (E.SET_UP, at(d + timedelta(2)), S.SET_UP),
        (E.NOTICE_MAILED, at(d + timedelta(5)), S.NOTICE_MAILED),
    ]
    history(CardFactory.create(delivery_date=d), *mailed, (E.ISSUED, at(date(2026, 10, 10)), S.ISSUED))
    # Returned half an hour before September ends, in Japan (14:30 UTC): September's.
    history(
        CardFactory.create(delivery_date=d),
        *mailed,
        (E.RETURNED_MAIL, at(date(2026, 9, 30), 23, 30), S.RETURNED_MAIL),
    )
    history(
        CardFactory.create(delivery_date=d),
        *mailed,
        (E.RETENTION_EXPIRED, at(date(2026, 10, 15)), S.RETENTION_EXPIRED),
        (E.DISPOSED, at(date(2026, 10, 20)), S.DISPOSED),
    )
    history(CardFactory.create(delivery_date=d), *mailed, (E.ISSUED, at(date(2026, 10, 12)), S.ISSUED))
    # Imported ten minutes into October (still 30 September in UTC): October's.
    history(
        CardFactory.create(delivery_date=OCT),
        (E.IMPORTED, at(OCT, 0, 10), S.DELIVERED),
        (E.SET_UP, at(date(2026, 10, 2)), S.SET_UP),
    )
    # Delivered on 30 September but imported on 1 October: on hand at September's end all the same.
    history(CardFactory.create(delivery_date=date(2026, 9, 30)), (E.IMPORTED, at(OCT), S.DELIVERED))
    history(
        CardFactory.create(delivery_date=d),
        (E.IMPORTED, at(d), S.DELIVERED),
        (E.CANCELLED, at(date(2026, 9, 25)), S.CANCELLED),
    )
    history(
        CardFactory.create(delivery_date=d, express=True),
        (E.IMPORTED, at(d), S.DELIVERED),
        (E.MAILED, at(date(2026, 9, 4)), S.MAILED),
    )


def summary_rows(report: sel.Report) -> dict[date, dict[str, Any]]:
    return {
        row.period.start: {
            **{key: row.events.get(kind, 0) for key, kind in sel.SUMMARY_EVENTS},
            "on_hand": row.on_hand_at_end,
        }
        for row in report.rows
    }


SEPTEMBER = {
    "received": 6,
    "set_up": 4,
    "notified": 4,
    "issued": 0,
    "returned_mail": 1,
    "disposed": 0,
    "on_hand": 5,
}
OCTOBER = {
    "received": 2,
    "set_up": 1,
    "notified": 0,
    "issued": 2,
    "returned_mail": 0,
    "disposed": 1,
    "on_hand": 3,
}


@pytest.fixture
def auditor(city: Municipality) -> Client:
    return role_client(city, Role.AUDITOR)


def test_monthly_summary_of_a_two_month_history(city: Municipality) -> None:
    with schema_context(city.schema_name):
        two_months()
        rows = summary_rows(sel.monthly_summary(month=OCT))
        # November's events never change September's or October's month-end counts.
        later = Card.objects.get(state=S.RETURNED_MAIL)
        history(
            later,
            (E.RESENT, at(date(2026, 11, 2)), S.NOTICE_MAILED),
            (E.ISSUED, at(date(2026, 11, 5)), S.ISSUED),
        )
        again = summary_rows(sel.monthly_summary(month=date(2026, 11, 1)))
    assert rows[SEP] == SEPTEMBER
    assert rows[OCT] == OCTOBER
    assert rows[date(2026, 8, 1)]["on_hand"] == 0
    assert again[SEP] == SEPTEMBER
    assert again[OCT] == OCTOBER
    assert again[date(2026, 11, 1)]["issued"] == 1
    assert again[date(2026, 11, 1)]["on_hand"] == 2


def test_the_monthly_page_csv_and_pdf_show_the_same_figures(city: Municipality, auditor: Client) -> None:
    with schema_context(city.schema_name):
        two_months()
    page = auditor.get(MONTHLY, {"month": "2026-10"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "2025年11月〜2026年10月（月別）" in text
    assert "月末の保管数" in text

    for encoding, codec in (("utf8", "utf-8-sig"), ("cp932", "cp932")):
        response = auditor.get(MONTHLY + "export/", {"month": "2026-10", "encoding": encoding})
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(codec), newline="")))
        assert rows[0] == ["月", "受領", "交付前設定", "通知書発送", "交付", "返戻", "廃棄", "月末の保管数"]
        by_month = {row[0]: row[1:] for row in rows[1:]}
        assert by_month["2026-09"] == ["6", "4", "4", "0", "1", "0", "5"]
        assert by_month["2026-10"] == ["2", "1", "0", "2", "0", "1", "3"]
        assert by_month["合計"][:6] == ["8", "5", "4", "2", "1", "1"]

    pdf = auditor.get(MONTHLY + "pdf/", {"month": "2026-10"})
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    words = pdf_text(pdf.content)
    assert "月次集計" in words
    assert "上尾市" in words
    assert "2026年10月" in words
    assert re.search(r"2026年9月\s+6\s+4\s+4\s+0\s+1\s+0\s+5", words), words
    assert re.search(r"2026年10月\s+2\s+1\s+0\s+2\s+0\s+1\s+3", words), words


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
    finally:
        document.close()


def test_counts_by_state_by_application_kind_and_by_counter(city: Municipality, auditor: Client) -> None:
    day = date(2026, 8, 10)
    with schema_context(city.schema_name):
        main = SlotFactory.create(day=day, at=time(9, 0))
        reservation = book(city, main)
        branch = CounterGroupFactory.create(name="大石支所", seats=1)
        branch_slot = SlotFactory.create(counter_group=branch, start=at(day, 14), seats=1)
        branch_booking = ReservationFactory.create(
            code="BR0001",
            slot=branch_slot,
            purpose=reservation.purpose,
            seats=1,
            status=Reservation.Status.DONE,
        )
        issued = [
            (CardFactory.create(application_kind="新規", reservation=reservation), day),
            (CardFactory.create(application_kind="新規", reservation=branch_booking), day),
            (CardFactory.create(application_kind="更新"), day + timedelta(days=1)),
        ]
        for card, when in issued:
            history(card, (E.ISSUED, at(when), S.ISSUED))
        history(
            CardFactory.create(),
            (E.NOTICE_MAILED, at(day), S.NOTICE_MAILED),
            (E.REMINDER, at(day, 11), S.NOTICE_MAILED),
        )
        report = sel.report(unit=sel.DAY, month=day)
    rows = {row.period.start: row for row in report.rows}
    assert rows[day].issued_by_kind == {"新規": 2}
    assert rows[day + timedelta(days=1)].issued_by_kind == {"更新": 1}
    assert rows[day].issued_by_counter == {"マイナンバーカード窓口": 1, "大石支所": 1}
    assert rows[day + timedelta(days=1)].issued_by_counter == {sel.NO_COUNTER: 1}
    # Entering a state counts once per card; a reminder keeps the state and is an event only.
    assert rows[day].entered == {S.ISSUED: 2, S.NOTICE_MAILED: 1}
    assert rows[day].events[E.REMINDER] == 1
    assert report.kinds == ["新規", "更新"]

    page = auditor.get(REPORT, {"unit": "day", "month": "2026-08"}).content.decode()
    assert "大石支所" in page
    assert "申請の種類別の交付数" in page
    export = auditor.get(
        REPORT + "export/", {"unit": "day", "month": "2026-08", "table": "counters", "encoding": "cp932"}
    )
    rows_csv = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("cp932"), newline="")))
    assert rows_csv[0] == ["日付", "マイナンバーカード窓口", "大石支所", sel.NO_COUNTER, "計"]
    assert ["2026-08-10", "1", "1", "0", "2"] in rows_csv
    assert rows_csv[-1] == ["合計", "1", "1", "1", "3"]


def chart_bars(page: str) -> list[tuple[int, str]]:
    svg = re.search(r"<svg class=\"chart\".*?</svg>", page, re.S)
    assert svg is not None
    root = ET.fromstring(svg.group(0))  # noqa: S314 (our own page's markup, not untrusted input)
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None
    bars = []
    for item in root.iter(f"{SVG}g"):
        if item.get("class") == "chart__item":
            rect = item.find(f"{SVG}rect")
            assert rect is not None
            title = rect.find(f"{SVG}title")
            assert title is not None
            assert title.text
            bars.append((int(item.get("data-value", "-1")), title.text))
    return bars


def test_the_issued_per_day_chart_has_a_bar_per_day_with_its_count(
    city: Municipality, auditor: Client
) -> None:
    with schema_context(city.schema_name):
        two_months()
    page = auditor.get(REPORT, {"unit": "day", "month": "2026-10"}).content.decode()
    bars = chart_bars(page)
    assert len(bars) == 31
    assert bars[9] == (1, "10月10日（土）: 1件")
    assert bars[11] == (1, "10月12日（月）: 1件")
    assert sum(value for value, _title in bars) == 2
    svg = re.search(r"<svg class=\"chart\".*?</svg>", page, re.S)
    assert svg is not None
    assert "style=" not in svg.group(0)
    assert "<script" not in svg.group(0)
    # The text alternative: the same numbers in the table.
    assert "日別の集計" in page
    assert "合計 2件。最も多いのは10月10日（土）の1件。" in page


def test_slot_use_and_no_show_rate_from_the_booking_side(city: Municipality, auditor: Client) -> None:
    first, second = date(2026, 10, 10), date(2026, 10, 12)
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=first, at=time(9, 0), seats=4)
        done_family, missed = book(city, slot, persons=2), book(city, slot, name="欠席")
        done = book(city, SlotFactory.create(day=first, at=time(9, 30)), name="来庁")
        blocked = SlotFactory.create(day=first, at=time(10, 0))
        Slot.objects.filter(pk=blocked.pk).update(blocked=True)
        later = SlotFactory.create(day=second, at=time(9, 0))
        missed_too, waiting = book(city, later, name="欠席2"), book(city, later, name="未来庁")
        Reservation.objects.filter(pk__in=[done_family.pk, done.pk]).update(status=Reservation.Status.DONE)
        Reservation.objects.filter(pk__in=[missed.pk, missed_too.pk]).update(
            status=Reservation.Status.NO_SHOW
        )
        assert waiting.status == Reservation.Status.BOOKED
        daily = {row.period.start: row for row in sel.report(unit=sel.DAY, month=first).rows}
        month = {row.period.start: row for row in sel.report(unit=sel.MONTH, month=first).rows}[OCT]
    assert (daily[first].seats_offered, daily[first].seats_taken) == (6, 4)
    assert (daily[first].done, daily[first].no_show) == (2, 1)
    assert (daily[second].seats_offered, daily[second].seats_taken) == (2, 2)
    assert daily[second].no_show_rate == 1.0
    assert (month.seats_offered, month.seats_taken, month.done, month.no_show) == (8, 6, 2, 2)
    assert month.seat_use == 0.75
    assert month.no_show_rate == 0.5

    page = auditor.get(REPORT, {"unit": "month", "month": "2026-10"}).content.decode()
    assert "75.0%" in page
    assert "50.0%" in page
    export = auditor.get(REPORT + "export/", {"unit": "day", "month": "2026-10", "encoding": "utf8"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"), newline="")))
    header, by_day = rows[0], {row[0]: row for row in rows[1:]}
    assert by_day["2026-10-10"][header.index("予約枠の利用率（%）")] == "66.7"
    assert by_day["2026-10-10"][header.index("不来庁率（%）")] == "33.3"
    assert by_day["2026-10-11"][header.index("不来庁率（%）")] == ""


def test_the_daily_report_pdf_has_the_days_figures(city: Municipality, auditor: Client) -> None:
    with schema_context(city.schema_name):
        two_months()
    response = auditor.get(REPORT + "pdf/", {"unit": "day", "month": "2026-10"})
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    words = pdf_text(response.content)
    assert "2026年10月（日別）" in words
    assert "10月10日（土）" in words
    assert "交付" in words


def test_the_report_makes_the_same_queries_however_many_cards(city: Municipality, auditor: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert auditor.get(MONTHLY, {"month": "2026-10"}).status_code == 200
        return len(captured.captured_queries)

    with schema_context(city.schema_name):
        two_months()
    queries()
    few = queries()
    with schema_context(city.schema_name):
        for _n in range(3):
            two_months()
    assert queries() == few


# --- Who may read; bad input; the other city -----------------------------------------------------------------------

REPORT_PAGES = [REPORT, REPORT + "export/", REPORT + "pdf/", MONTHLY, MONTHLY + "export/", MONTHLY + "pdf/"]


@pytest.mark.parametrize("path", REPORT_PAGES)
def test_counter_staff_may_not_read_reports_and_supervisors_and_auditors_may(
    city: Municipality, auditor: Client, path: str
) -> None:
    assert role_client(city, Role.STAFF).get(path).status_code == 403
    assert auditor.get(path).status_code == 200
    assert role_client(city, Role.SUPERVISOR).get(path).status_code == 200


def test_anonymous_goes_to_the_login_page(city_client: Client) -> None:
    for path in REPORT_PAGES:
        response = city_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_a_bad_month_is_a_400_with_a_japanese_message_and_the_input_kept(
    city: Municipality, auditor: Client
) -> None:
    response = auditor.get(MONTHLY, {"month": "2026-13"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "月は 2026-11 のように入力してください。" in page
    assert 'value="2026-13"' in page
    assert auditor.get(REPORT, {"unit": "week"}).status_code == 400
    number = auditor.get(REPORT, {"month": "1234-5678-9018"})
    assert number.status_code == 400  # an address holding a 個人番号 is refused before the report reads it
    assert "個人番号を含むアドレスは開けません" in number.content.decode()
    assert "1234-5678-9018" not in number.content.decode()
    # Japanese ways of writing a month are understood.
    assert auditor.get(MONTHLY, {"month": "２０２６年１０月"}).status_code == 200


def test_another_citys_report_counts_none_of_this_citys_cards(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        two_months()
        SlotFactory.create(day=date(2026, 10, 10), at=time(9, 0))
    okegawa = role_client(other_city, Role.AUDITOR, "okegawa-auditor")
    response = okegawa.get(MONTHLY + "export/", {"month": "2026-10"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"), newline="")))
    assert len(rows) == 14  # header, twelve months, total
    assert all(value in ("0", "") for row in rows[1:] for value in row[1:])
    with schema_context(other_city.schema_name):
        report = sel.report(unit=sel.DAY, month=OCT)
    assert report.total.events == {}
    assert report.total.seats_offered == 0


def test_the_report_forms_show_what_they_report_on_when_opened_without_a_query(
    city: Municipality, auditor: Client
) -> None:
    from django.utils import timezone

    this_month = f"{timezone.localdate():%Y-%m}"
    daily = auditor.get("/staff/reports/").content.decode()
    assert re.search(r'<input[^>]*value="day"[^>]*checked', daily)
    assert f'value="{this_month}"' in daily
    monthly = auditor.get("/staff/reports/monthly/").content.decode()
    assert f'value="{this_month}"' in monthly
