"""The issuance settings pages: the card policy, identity documents and proxy reasons (supervisors only, audited)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.cards.services import defaults_ensure
from apps.issuance.models import IdentityDocument, IssuanceSettings, ProxyReason
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from base.mynumber import check_digit
from tenants.models import Municipality
from tests.factories import ProxyReasonFactory, role_client

SETTINGS_URL = "/staff/cards/settings/"
INDIVIDUAL_NUMBER = "12345678901" + str(check_digit("12345678901"))


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    with schema_context(city.schema_name):
        defaults_ensure()
    return role_client(city, Role.SUPERVISOR)


def text(response: Any) -> str:
    return str(response.content.decode())


def test_the_settings_page_shows_the_policy_documents_and_reasons(
    city: Municipality, supervisor: Client
) -> None:
    body = text(supervisor.get(SETTINGS_URL))
    for shown in [
        "再通知までの週数",
        "保管期間（月）",
        "取込ファイルの保管日数",
        "運転免許証",
        "資格確認書",
        "病気・けが",
    ]:
        assert shown in body


def test_changing_the_policy_is_saved_and_audited_with_before_and_after(
    city: Municipality, supervisor: Client
) -> None:
    response = supervisor.post(
        SETTINGS_URL,
        {"reminder_after_weeks": "6", "retention_months": "3", "upload_keep_days": "14"},
        follow=True,
    )
    assert "交付の設定を保存しました" in text(response)
    with schema_context(city.schema_name):
        row = IssuanceSettings.objects.get()
        assert (row.reminder_after_weeks, row.retention_months, row.upload_keep_days) == (6, 3, 14)
        event = AuditEvent.objects.get(action="issuance.settings_changed")
        assert event.before == {"reminder_after_weeks": 8, "retention_months": 6, "upload_keep_days": 7}
        assert event.after == {"reminder_after_weeks": 6, "retention_months": 3, "upload_keep_days": 14}


def test_an_out_of_range_policy_is_refused_and_the_input_kept(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(
        SETTINGS_URL, {"reminder_after_weeks": "0", "retention_months": "30", "upload_keep_days": "7"}
    )
    assert response.status_code == 400
    assert 'value="30"' in text(response)
    with schema_context(city.schema_name):
        assert IssuanceSettings.objects.get().retention_months == 6
        assert not AuditEvent.objects.filter(action="issuance.settings_changed").exists()


def test_a_document_is_added_edited_reordered_and_deactivated(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(
        "/staff/cards/settings/documents/add/",
        {
            "kind": "a",
            "name_ja": "マイナ免許証",
            "name_en": "Licence on the card",
            "order": "1",
            "active": "on",
        },
        follow=True,
    )
    assert "本人確認書類を保存しました" in text(response)
    with schema_context(city.schema_name):
        document = IdentityDocument.objects.get(name_ja="マイナ免許証")
        assert list(IdentityDocument.objects.filter(kind="a").values_list("name_ja", flat=True))[:3] == [
            "運転免許証",
            "運転経歴証明書",
            "マイナ免許証",
        ]  # order 0, 1, then 1 again by id
    supervisor.post(
        f"/staff/cards/settings/documents/{document.pk}/",
        {
            "kind": "a",
            "name_ja": "マイナ免許証",
            "name_en": "Licence on the card",
            "order": "0",
            "active": "on",
        },
    )
    supervisor.post(f"/staff/cards/settings/documents/{document.pk}/active/", {"active": "0"})
    with schema_context(city.schema_name):
        document.refresh_from_db()
        assert (document.order, document.active) == (0, False)
        changes = AuditEvent.objects.filter(
            action="issuance.document_saved", target=f"IdentityDocument:{document.pk}"
        )
        assert changes.count() == 3
        last = changes.order_by("-sequence")[0]
        assert (last.before["active"], last.after["active"]) == (True, False)
    body = text(supervisor.get(SETTINGS_URL))
    assert "マイナ免許証 を使用中に戻す" in body


def test_the_same_document_twice_is_refused_in_japanese(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(
        "/staff/cards/settings/documents/add/",
        {"kind": "a", "name_ja": "運転免許証", "name_en": "Driving licence", "order": "5", "active": "on"},
    )
    assert response.status_code == 400
    assert "既に存在します" in text(response)
    with schema_context(city.schema_name):
        assert IdentityDocument.objects.filter(name_ja="運転免許証").count() == 1


def test_a_proxy_reason_is_added_and_deactivated(city: Municipality, supervisor: Client) -> None:
    supervisor.post(
        "/staff/cards/settings/reasons/add/",
        {"name_ja": "海外在住", "name_en": "Living abroad", "order": "9", "active": "on"},
    )
    with schema_context(city.schema_name):
        reason = ProxyReason.objects.get(name_ja="海外在住")
    response = supervisor.post(
        f"/staff/cards/settings/reasons/{reason.pk}/active/", {"active": "0"}, follow=True
    )
    assert "「海外在住」を使用停止にしました" in text(response)
    with schema_context(city.schema_name):
        reason.refresh_from_db()
        assert not reason.active
        assert AuditEvent.objects.filter(action="issuance.proxy_reason_saved").count() == 2


def test_a_12_digit_individual_number_in_a_name_is_refused(city: Municipality, supervisor: Client) -> None:
    response = supervisor.post(
        "/staff/cards/settings/reasons/add/",
        {"name_ja": f"番号 {INDIVIDUAL_NUMBER}", "name_en": "x", "order": "9", "active": "on"},
    )
    assert response.status_code == 400
    assert "個人番号（マイナンバー）は入力しないでください" in text(response)
    with schema_context(city.schema_name):
        assert not ProxyReason.objects.filter(name_ja__contains=INDIVIDUAL_NUMBER).exists()


def test_only_supervisors_reach_the_settings(city: Municipality, supervisor: Client) -> None:
    staff = role_client(city, Role.STAFF)
    with schema_context(city.schema_name):
        document = IdentityDocument.objects.first()
        assert document is not None
    for url in (
        SETTINGS_URL,
        "/staff/cards/settings/documents/add/",
        f"/staff/cards/settings/documents/{document.pk}/",
    ):
        assert staff.get(url).status_code == 403
        assert supervisor.get(url).status_code == 200
    assert (
        staff.post(f"/staff/cards/settings/documents/{document.pk}/active/", {"active": "0"}).status_code
        == 403
    )
    with schema_context(city.schema_name):
        document.refresh_from_db()
        assert document.active


def test_another_city_cannot_edit_this_citys_lists(
    city: Municipality, other_city: Municipality, supervisor: Client
) -> None:
    with schema_context(city.schema_name):
        reason = ProxyReasonFactory.create(name_ja="上尾だけの理由", name_en="Ageo only", order=99)
    okegawa = role_client(other_city, Role.SUPERVISOR, "okegawa-boss")
    assert "上尾だけの理由" not in text(okegawa.get(SETTINGS_URL))
    okegawa.post(f"/staff/cards/settings/reasons/{reason.pk}/active/", {"active": "0"})
    with schema_context(city.schema_name):
        reason.refresh_from_db()
        assert reason.active


def test_names_come_back_escaped_on_the_settings_page(city: Municipality, supervisor: Client) -> None:
    payload = '"><script>alert(1)</script>'
    supervisor.post(
        "/staff/cards/settings/reasons/add/",
        {"name_ja": payload, "name_en": payload, "order": "1", "active": "on"},
    )
    body = text(supervisor.get(SETTINGS_URL))
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert" not in body
