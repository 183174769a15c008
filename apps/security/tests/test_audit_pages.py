"""The audit log pages: who may see them, filters, pages, CSV export (itself audited), one city at a time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM, as_actor
from apps.security.audit import audit_record
from apps.security.audit_models import AuditEvent
from apps.security.models import Role, User
from apps.security.request_actor import request_actor
from tenants.models import Municipality
from tests.factories import UserFactory, login_as, staff_user, supervisor_user, with_totp

LIST = "/staff/audit/"
EXPORT = "/staff/audit/export.csv"


def _search_id(client: Client, query: dict[str, str]) -> str:
    """Filter as the page does: POST, answered by a 303 to an opaque id (the filter is not in the address)."""
    response = client.post(LIST, query)
    assert response.status_code == 303, response.status_code
    location = response["Location"]
    assert location.startswith(f"{LIST}?s="), location
    assert not any(len(value) >= 5 and value in location for value in query.values()), location
    return location.removeprefix(f"{LIST}?s=")


def filtered(client: Client, query: dict[str, str]) -> Any:
    response = client.post(LIST, query)
    if response.status_code != 303:
        return response  # refused: re-rendered with the errors
    return client.get(response["Location"])


def export_of(client: Client, query: dict[str, str]) -> Any:
    return client.get(EXPORT, {"s": _search_id(client, query)})


@pytest.fixture(autouse=True)
def _audit_urls(settings: object) -> None:
    settings.ROOT_URLCONF = "apps.security.tests.urls_audit"  # type: ignore[attr-defined]
    settings.PUBLIC_SCHEMA_URLCONF = "apps.security.tests.urls_audit_public"  # type: ignore[attr-defined]


def _signed_in(client: Client, schema: str, user: User) -> Client:
    with schema_context(schema):
        with_totp(user)
    return login_as(client, user, schema)


@pytest.fixture
def supervisor(city: Municipality) -> User:
    with schema_context(city.schema_name):
        return supervisor_user(username="kanri")


@pytest.fixture
def supervisor_client(city_client: Client, supervisor: User) -> Client:
    return _signed_in(city_client, "ageo", supervisor)


def _record(schema: str, count: int = 1, **kwargs: object) -> list[AuditEvent]:
    kwargs.setdefault("action", "policy.changed")
    with schema_context(schema):
        return [audit_record(actor=SYSTEM, **kwargs) for _ in range(count)]  # type: ignore[arg-type]


def _set_time(event: AuditEvent, at: datetime) -> None:
    """Move an event in time, as only a superuser can (the chain breaks; these tests look at filters only)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE security_auditevent SET at = %s WHERE id = %s", [at, event.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")


def _csv_rows(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


# --- Who may see it ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AUDITOR])
def test_supervisors_and_auditors_see_the_log(city: Municipality, city_client: Client, role: Role) -> None:
    _record("ageo", summary="監査テスト", target="SecurityPolicy:1")
    with schema_context(city.schema_name):
        user: User = UserFactory.create(username=f"{role.value}-1", role=role)
    response = _signed_in(city_client, "ageo", user).get(LIST)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>監査ログ</h1>" in body
    assert "監査テスト" in body
    assert "セキュリティ方針の変更" in body  # the action's Japanese label
    assert f'href="{EXPORT}' in body
    assert "CSVでダウンロード" in body


def test_counter_staff_is_refused(city: Municipality, city_client: Client) -> None:
    with schema_context(city.schema_name):
        staff = staff_user(username="madoguchi")
    client = _signed_in(city_client, "ageo", staff)
    assert client.get(LIST).status_code == 403
    assert client.get(EXPORT).status_code == 403
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_anonymous_visitors_are_sent_to_the_login_page(city_client: Client) -> None:
    for path in (LIST, EXPORT):
        response = city_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_filter_is_posted_and_shown_at_an_opaque_id(supervisor_client: Client) -> None:
    _search_id(supervisor_client, {"actor": "sato-hanako", "address": "192.0.2.10"})
    assert supervisor_client.put(LIST).status_code == 405


# --- What it shows -------------------------------------------------------------------------------------------------


def test_times_are_shown_in_japan_in_24_hours(supervisor_client: Client, city: Municipality) -> None:
    (event,) = _record("ageo", summary="深夜の変更")
    with schema_context(city.schema_name):
        _set_time(event, datetime(2026, 11, 1, 14, 30, 5, tzinfo=UTC))  # 23:30:05 in Japan
    assert "2026-11-01 23:30:05" in supervisor_client.get(LIST).content.decode()


def test_newest_first_fifty_per_page(supervisor_client: Client, city: Municipality) -> None:
    events = _record("ageo", 60)
    with schema_context(city.schema_name):
        total = AuditEvent.objects.count()
    first = supervisor_client.get(LIST)
    shown = [event.sequence for event in first.context["page"].object_list]
    assert len(shown) == 50
    assert shown[0] == events[-1].sequence
    assert shown == sorted(shown, reverse=True)
    second = supervisor_client.get(LIST, {"page": 2})
    assert len(second.context["page"].object_list) == total - 50
    assert "前のページ" in second.content.decode()


def test_the_list_costs_the_same_queries_however_many_rows(
    supervisor_client: Client, django_assert_num_queries: object
) -> None:
    _record("ageo", 1)
    supervisor_client.get(LIST)  # the session's first request stamps it; measure the ones after
    with CaptureQueriesContext(connection) as few:
        assert supervisor_client.get(LIST).status_code == 200
    _record("ageo", 60, target="AllowedNetwork:1")
    with django_assert_num_queries(len(few.captured_queries)):  # type: ignore[operator]
        response = supervisor_client.get(LIST)
    assert len(response.context["page"].object_list) == 50


# --- Filters -------------------------------------------------------------------------------------------------------


def test_filter_by_action(supervisor_client: Client) -> None:
    _record("ageo", action="network.added", summary="追加した")
    _record("ageo", action="network.removed", summary="削除した")
    body = filtered(supervisor_client, {"action": "network.removed"}).content.decode()
    assert "削除した" in body
    assert "追加した" not in body


def test_filter_by_actor_name_part(city: Municipality, supervisor_client: Client) -> None:
    with schema_context(city.schema_name):
        sato, ito = staff_user(username="sato-hanako"), staff_user(username="ito-jiro")
        audit_record(action="policy.changed", actor=as_actor(sato), summary="佐藤の操作")
        audit_record(action="policy.changed", actor=as_actor(ito), summary="伊藤の操作")
    body = filtered(supervisor_client, {"actor": "SATO"}).content.decode()
    assert "佐藤の操作" in body
    assert "伊藤の操作" not in body


def test_filter_by_address(city: Municipality, supervisor_client: Client, rf: object) -> None:
    with schema_context(city.schema_name):
        for address, summary in (("192.0.2.10", "窓口端末A"), ("192.0.2.11", "窓口端末B")):
            request = rf.get("/", REMOTE_ADDR=address)  # type: ignore[attr-defined]
            audit_record(action="auth.login_failed", actor=request_actor(request), summary=summary)
    body = filtered(supervisor_client, {"address": "192.0.2.10"}).content.decode()
    assert "窓口端末A" in body
    assert "窓口端末B" not in body


def test_filter_by_dates_in_japan(supervisor_client: Client, city: Municipality) -> None:
    late, early = _record("ageo", summary="一日の夜"), _record("ageo", summary="二日の朝")
    with schema_context(city.schema_name):
        _set_time(late[0], datetime(2026, 11, 1, 14, 59, tzinfo=UTC))  # 2026-11-01 23:59 in Japan
        _set_time(early[0], datetime(2026, 11, 1, 15, 1, tzinfo=UTC))  # 2026-11-02 00:01 in Japan
    second = filtered(supervisor_client, {"from": "2026-11-02", "to": "2026-11-02"}).content.decode()
    first = filtered(supervisor_client, {"from": "2026-11-01", "to": "2026-11-01"}).content.decode()
    assert "二日の朝" in second
    assert "一日の夜" not in second
    assert "一日の夜" in first
    assert "二日の朝" not in first


def test_a_bad_filter_is_explained_in_japanese(supervisor_client: Client) -> None:
    response = filtered(supervisor_client, {"from": "2026-11-30", "to": "2026-11-01", "address": "not-an-ip"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "終了日は開始日以降の日付にしてください。" in body
    assert "有効なIPv4またはIPv6アドレスを入力してください" in body


# --- CSV export ----------------------------------------------------------------------------------------------------


def test_export_is_excel_ready_filtered_and_itself_audited(
    supervisor_client: Client, supervisor: User, city: Municipality
) -> None:
    _record("ageo", action="network.added", summary="追加した", target="AllowedNetwork:3")
    _record("ageo", action="network.removed", summary="削除した")
    response = export_of(supervisor_client, {"action": "network.added"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-ageo-')
    header, *rows = _csv_rows(response)
    assert header[:6] == ["連番", "日時", "操作者", "操作者の種別", "接続元アドレス", "操作"]
    assert [(row[6], row[7], row[8]) for row in rows] == [("network.added", "AllowedNetwork:3", "追加した")]
    assert rows[0][5] == "許可ネットワークの追加"
    with schema_context(city.schema_name):
        exported = AuditEvent.objects.filter(action="audit.exported").get()
    assert exported.actor_username == supervisor.username
    assert exported.address == "127.0.0.1"
    assert "action=network.added" in exported.summary


def test_export_keeps_the_list_filters(supervisor_client: Client) -> None:
    _record("ageo", action="network.added")
    body = filtered(supervisor_client, {"action": "network.added", "actor": "nobody"}).content.decode()
    assert f'href="{EXPORT}?s=' in body  # the same kept search: the CSV has the list's rows
    assert "actor=nobody" not in body
    assert "条件に合う記録はありません。" in body


def test_export_cells_never_become_excel_formulas(
    supervisor_client: Client, rf: object, city: Municipality
) -> None:
    with schema_context(city.schema_name):
        request = rf.get("/")  # type: ignore[attr-defined]
        audit_record(
            action="auth.login_failed", actor=request_actor(request), target='=HYPERLINK("http://x")'
        )
    _header, *rows = _csv_rows(export_of(supervisor_client, {"action": "auth.login_failed"}))
    assert rows[0][7] == '\'=HYPERLINK("http://x")'


# --- One city at a time --------------------------------------------------------------------------------------------


def test_another_citys_supervisor_sees_only_their_own_citys_log(
    city: Municipality, other_city: Municipality, other_city_client: Client
) -> None:
    _record("ageo", summary="上尾の記録")
    _record("okegawa", summary="桶川の記録")
    with schema_context(other_city.schema_name):
        okegawa_supervisor = supervisor_user(username="okegawa-kanri")
    client = _signed_in(other_city_client, "okegawa", okegawa_supervisor)
    body = client.get(LIST).content.decode()
    assert "桶川の記録" in body
    assert "上尾の記録" not in body
    _header, *rows = _csv_rows(client.get(EXPORT))
    summaries = {row[8] for row in rows}
    assert "桶川の記録" in summaries
    assert "上尾の記録" not in summaries
    with schema_context(city.schema_name):
        assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_the_vendor_sees_the_vendors_own_log_on_its_host(city: Municipality, public_client: Client) -> None:
    _record("ageo", summary="上尾の記録")
    _record("public", summary="運営の記録")
    with schema_context("public"):
        vendor = User.objects.create_superuser("vendor-admin", "admin@vendor.example", "x-Unused-Passw0rd")
    body = _signed_in(public_client, "public", vendor).get(LIST).content.decode()
    assert "運営の記録" in body
    assert "上尾の記録" not in body
