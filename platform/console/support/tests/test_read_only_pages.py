"""What a support session sees: a banner on every staff page (until when, what it opens), and no write control."""

from __future__ import annotations

from datetime import time

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.staff.tests.test_staff_day import TOMORROW, book, day_url
from apps.security.models import Role
from console.support.tests.support_cast import entered, grant, supervisor_of, vendor_support
from tenants.models import Municipality
from tests.factories import SlotFactory, role_client

WRITE_CONTROLS = ("受付を停止", "予約を受け付ける", "来庁", "取消", "/staff/booking/day/book/")


def test_the_banner_is_on_every_page_of_the_session_with_its_end_and_scope(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    browser = entered(city, console, given.pk)
    end = f"{timezone.localtime(given.ends_at):%H:%M}"
    for path in ("/staff/booking/day/", "/staff/booking/day/", "/staff/booking/affected/", "/staff/"):
        page = browser.get(path).content.decode()
        assert f"サポートアクセス中です（閲覧のみ、{end} まで）" in page, path
        assert "範囲: 予約（当日の予約一覧・予約の閲覧）" in page, path


def test_a_city_staff_member_sees_no_banner(city: Municipality) -> None:
    page = role_client(city, Role.STAFF).get("/staff/booking/day/").content.decode()
    assert "サポートアクセス中です" not in page


def test_the_day_view_of_a_support_session_shows_the_bookings_without_write_controls(
    city: Municipality,
) -> None:
    with schema_context(city.schema_name):
        reservation = book(city, SlotFactory.create(day=TOMORROW, at=time(9, 0)))
    vendor, console = vendor_support()
    browser = entered(city, console, grant(city, supervisor_of(city), vendor).pk)
    page = browser.get(day_url(TOMORROW)).content.decode()
    assert reservation.code in page
    assert "印刷用の一覧" in page  # reading stays
    for control in WRITE_CONTROLS:
        assert control not in page, control
    assert 'name="language"' not in page  # the language switch is a POST too
    home = browser.get("/staff/").content.decode()
    assert "すべての端末からログアウト" not in home
    assert "ログアウト" in home  # signing out is the one thing a support session may send
    # The city's own staff still have every control on the same page.
    staff_page = role_client(city, Role.STAFF).get(day_url(TOMORROW)).content.decode()
    for control in WRITE_CONTROLS:
        assert control in staff_page, control
