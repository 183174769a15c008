"""A city's announcements: published by supervisors, sanitised, shown in their window, never seen by another city."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.content.selectors import announcements_current
from apps.booking.models import Announcement
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import AnnouncementFactory, role_client

HOSTILE = (
    '<p>受付時間の変更</p><script>alert(1)</script><img src=x onerror="alert(2)">'
    '<a href="javascript:alert(3)">click</a><a href="https://www.city.ageo.lg.jp/">市のページ</a>'
)


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def staff(city: Municipality) -> Client:
    return role_client(city, Role.STAFF)


def _announce(
    title: str, *, start: timedelta = timedelta(hours=-1), end: timedelta | None = None
) -> Announcement:
    now = timezone.now()
    return AnnouncementFactory.create(
        title_ja=title,
        title_en=f"{title} (en)",
        body_ja=f"<p>{title}の本文</p>",
        starts_at=now + start,
        ends_at=now + end if end is not None else None,
    )


def _form(title: str, body: str = "<p>本文</p>", **extra: str) -> dict[str, str]:
    start = timezone.localtime() - timedelta(hours=1)
    return {
        "title_ja": title,
        "title_en": "",
        "body_ja": body,
        "body_en": "",
        "starts_at": f"{start:%Y-%m-%dT%H:%M}",
        "ends_at": "",
        **extra,
    }


def test_counter_staff_cannot_manage_announcements_but_supervisors_can(
    city: Municipality, staff: Client, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        announcement = _announce("臨時休業")
    for url in [
        "/staff/booking/announcements/",
        "/staff/booking/announcements/new/",
        f"/staff/booking/announcements/{announcement.pk}/edit/",
    ]:
        assert staff.get(url).status_code == 403, url
        assert supervisor.get(url).status_code == 200, url
    assert staff.post(f"/staff/booking/announcements/{announcement.pk}/delete/").status_code == 403
    with schema_context(city.schema_name):
        assert Announcement.objects.filter(pk=announcement.pk).exists()


def test_a_supervisor_publishes_edits_and_deletes_and_each_write_is_audited(
    city: Municipality, supervisor: Client, city_client: Client
) -> None:
    response = supervisor.post("/staff/booking/announcements/new/", _form("年末年始の窓口"))
    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context(city.schema_name):
        announcement = Announcement.objects.get()
    assert "年末年始の窓口" in city_client.get("/").content.decode()
    assert "年末年始の窓口" in city_client.get("/book/").content.decode()

    edit = supervisor.post(
        f"/staff/booking/announcements/{announcement.pk}/edit/", _form("年末年始の窓口（訂正）")
    )
    assert edit.status_code == 302
    delete = supervisor.post(f"/staff/booking/announcements/{announcement.pk}/delete/")
    assert delete.status_code == 302
    with schema_context(city.schema_name):
        assert not Announcement.objects.exists()
        actions = list(
            AuditEvent.objects.filter(action__startswith="booking.announcement_").order_by("sequence")
        )
    assert [e.action for e in actions] == [
        "booking.announcement_created",
        "booking.announcement_updated",
        "booking.announcement_deleted",
    ]
    assert actions[1].before["title_ja"] == "年末年始の窓口"
    assert actions[1].after["title_ja"] == "年末年始の窓口（訂正）"
    assert actions[0].actor_username == "ageo-supervisor"
    assert "年末年始の窓口" not in city_client.get("/").content.decode()


def test_an_end_before_the_start_is_refused_with_the_input_kept(supervisor: Client) -> None:
    start = timezone.localtime()
    data = _form(
        "期間の誤り",
        starts_at=f"{start:%Y-%m-%dT%H:%M}",
        ends_at=f"{start - timedelta(days=1):%Y-%m-%dT%H:%M}",
    )
    response = supervisor.post("/staff/booking/announcements/new/", data)
    assert response.status_code == 400
    assert "掲載終了は掲載開始より後にしてください" in response.content.decode()
    assert "期間の誤り" in response.content.decode()


def test_rich_text_is_sanitised_on_save_and_on_render(in_city: Municipality, city_client: Client) -> None:
    announcement = _announce("お知らせ")
    announcement.body_ja = HOSTILE
    announcement.save()
    announcement.refresh_from_db()
    for text in (announcement.body_ja, city_client.get("/").content.decode()):
        assert "<script" not in text
        assert "alert(1)" not in text
        assert "onerror" not in text
        assert "javascript:" not in text
        assert "受付時間の変更" in text
        assert 'href="https://www.city.ageo.lg.jp/"' in text
    # A row written behind the model's back (an update, a migration) is still cleaned on the way out.
    Announcement.objects.filter(pk=announcement.pk).update(body_ja=HOSTILE)
    page = city_client.get("/book/").content.decode()
    assert "<script" not in page
    assert "onerror" not in page
    assert "受付時間の変更" in page


def test_only_announcements_inside_their_window_are_shown(in_city: Municipality, city_client: Client) -> None:
    _announce("掲載中", start=timedelta(days=-1), end=timedelta(days=1))
    _announce("終了なし", start=timedelta(days=-1))
    _announce("まだ先", start=timedelta(days=1))
    _announce("終わった", start=timedelta(days=-3), end=timedelta(days=-1))
    titles = {a.title_ja for a in announcements_current(timezone.now())}
    assert titles == {"掲載中", "終了なし"}
    home = city_client.get("/").content.decode()
    assert "掲載中" in home
    assert "終了なし" in home
    assert "まだ先" not in home
    assert "終わった" not in home
    assert "現在、お知らせはありません" not in home


def test_english_pages_show_the_english_title(in_city: Municipality, city_client: Client) -> None:
    _announce("臨時休業")
    city_client.cookies["django_language"] = "en"
    assert "臨時休業 (en)" in city_client.get("/").content.decode()


def test_another_city_never_sees_the_announcements(
    city: Municipality, other_city: Municipality, city_client: Client, other_city_client: Client
) -> None:
    with schema_context(city.schema_name):
        _announce("上尾市からのお知らせ")
    assert "上尾市からのお知らせ" in city_client.get("/").content.decode()
    other_home = other_city_client.get("/").content.decode()
    assert "上尾市からのお知らせ" not in other_home
    assert "現在、お知らせはありません" in other_home
    assert "上尾市からのお知らせ" not in other_city_client.get("/book/").content.decode()
    with schema_context(other_city.schema_name):
        assert not Announcement.objects.exists()


def test_the_top_page_costs_a_fixed_number_of_queries(
    in_city: Municipality, city_client: Client, django_assert_max_num_queries: object
) -> None:
    for n in range(5):
        _announce(f"お知らせ{n}")
    city_client.get("/")  # warm the maintenance banner's cache
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        assert city_client.get("/").status_code == 200
