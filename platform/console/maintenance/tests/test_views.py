"""The console's maintenance pages (roles, propose, overlap warning, cancel) and the city's approval pages
(supervisors only, this city's windows only), driven through HTTP as the operators and supervisors use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from console.access import VendorRole
from console.maintenance.models import MaintenanceApproval, MaintenanceProposal
from console.maintenance.tests.helpers import propose
from console.tests.vendor import vendor_client
from tenants.models import Municipality
from tests.factories import role_client


def _form(city: Municipality, *, start: str, end: str, modules: list[str], **extra: str) -> dict[str, object]:
    return {
        "cities": [str(city.pk)],
        "modules": modules,
        "window_start": start,
        "window_end": end,
        "title_ja": "サーバー更新",
        "body_ja": "OSの更新のため停止します。",
        **extra,
    }


def _night(days: int = 10) -> tuple[str, str]:
    day = (timezone.now().astimezone(TOKYO) + timedelta(days=days)).date()
    return f"{day:%Y-%m-%d}T02:00", f"{day:%Y-%m-%d}T04:00"


def test_support_sees_the_list_but_only_an_operator_proposes(city: Municipality) -> None:
    support = vendor_client(VendorRole.SUPPORT)
    assert support.get("/console/maintenance/").status_code == 200
    assert support.get("/console/maintenance/new/").status_code == 403
    operator = vendor_client(VendorRole.OPERATOR)
    page = operator.get("/console/maintenance/new/")
    assert page.status_code == 200
    assert "上尾市" in page.content.decode()


def test_an_issuance_window_at_night_is_proposed_without_a_warning(city: Municipality) -> None:
    operator = vendor_client(VendorRole.OPERATOR)
    start, end = _night()
    response = operator.post(
        "/console/maintenance/new/", _form(city, start=start, end=end, modules=["issuance"])
    )
    assert response.status_code == 302
    with schema_context("public"):
        proposal = MaintenanceProposal.objects.get()
        assert proposal.modules == ["issuance"]
        assert MaintenanceApproval.objects.get().status == MaintenanceApproval.Status.PENDING
    listing = operator.get("/console/maintenance/").content.decode()
    assert "サーバー更新" in listing
    assert "承認待ち" in listing


def test_overlapping_the_committed_hours_needs_a_confirmation(city: Municipality) -> None:
    operator = vendor_client(VendorRole.OPERATOR)
    start, end = _night()
    booking = operator.post(
        "/console/maintenance/new/", _form(city, start=start, end=end, modules=["booking"])
    )
    assert booking.status_code == 400  # booking is committed all day: always a warning
    assert "提供時間に重なります" in booking.content.decode()
    # Issuance on a weekday morning: the counters' opening hours (demo hours: weekdays from 8:30).
    day = (timezone.now().astimezone(TOKYO) + timedelta(days=10)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    opening = _form(city, start=f"{day:%Y-%m-%d}T09:00", end=f"{day:%Y-%m-%d}T11:00", modules=["issuance"])
    from apps.booking.calendar.hours import is_national_holiday

    if not is_national_holiday(day):
        warned = operator.post("/console/maintenance/new/", opening)
        assert warned.status_code == 400
        assert "開庁時間に重なります" in warned.content.decode()
    with schema_context("public"):
        assert not MaintenanceProposal.objects.exists()
    confirmed = operator.post(
        "/console/maintenance/new/",
        _form(city, start=start, end=end, modules=["booking"], confirm_overlap="on"),
    )
    assert confirmed.status_code == 302
    with schema_context("public"):
        assert MaintenanceProposal.objects.count() == 1


def test_bad_input_is_a_400_and_writes_nothing(city: Municipality) -> None:
    operator = vendor_client(VendorRole.OPERATOR)
    start, end = _night()
    for data in (
        _form(city, start=end, end=start, modules=["issuance"]),  # ends before it starts
        _form(city, start=start, end=end, modules=[]),
        {**_form(city, start=start, end=end, modules=["issuance"]), "cities": []},
        _form(city, start=start, end=end, modules=["issuance"], title_ja="123456789018"),  # a 個人番号
        _form(city, start="2020-01-01T02:00", end="2020-01-01T03:00", modules=["issuance"]),  # in the past
    ):
        assert operator.post("/console/maintenance/new/", data).status_code == 400, data
    with schema_context("public"):
        assert not MaintenanceProposal.objects.exists()


def test_an_operator_cancels(city: Municipality) -> None:
    proposal = propose([city])
    assert (
        vendor_client(VendorRole.SUPPORT).post(f"/console/maintenance/{proposal.pk}/cancel/").status_code
        == 403
    )
    operator = vendor_client(VendorRole.OPERATOR)
    assert operator.post(f"/console/maintenance/{proposal.pk}/cancel/").status_code == 302
    with schema_context("public"):
        assert MaintenanceProposal.objects.get().cancelled_at is not None
        assert AuditEvent.objects.filter(action="maintenance.cancelled").exists()


def test_a_supervisor_approves_in_the_citys_pages(city: Municipality) -> None:
    proposal = propose([city])
    with schema_context("public"):
        approval = MaintenanceApproval.objects.get(proposal=proposal)
    supervisor = role_client(city, Role.SUPERVISOR)
    page = supervisor.get("/staff/vendor/maintenance/")
    assert page.status_code == 200
    assert "システム更新" in page.content.decode()
    assert "メンテナンスの承認" in supervisor.get("/staff/").content.decode()  # the staff menu links it
    response = supervisor.post(
        f"/staff/vendor/maintenance/{approval.pk}/", {"decision": "approve", "comment": "了解しました"}
    )
    assert response.status_code == 302
    with schema_context("public"):
        approval.refresh_from_db()
    assert approval.status == MaintenanceApproval.Status.APPROVED
    assert approval.comment == "了解しました"
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="maintenance.approved").exists()
    assert supervisor.post(f"/staff/vendor/maintenance/{approval.pk}/", {}).status_code == 400  # no decision
    bad = supervisor.post(
        f"/staff/vendor/maintenance/{approval.pk}/", {"decision": "reject", "comment": "123456789018"}
    )
    assert bad.status_code == 400


@pytest.mark.parametrize("role", [Role.STAFF, Role.AUDITOR])
def test_other_staff_cannot_open_the_approvals(city: Municipality, role: Role) -> None:
    proposal = propose([city])
    with schema_context("public"):
        approval = MaintenanceApproval.objects.get(proposal=proposal)
    client = role_client(city, role)
    assert client.get("/staff/vendor/maintenance/").status_code == 403
    assert (
        client.post(f"/staff/vendor/maintenance/{approval.pk}/", {"decision": "approve"}).status_code == 403
    )


def test_okegawas_supervisor_neither_sees_nor_answers_ageos_window(
    city: Municipality, other_city: Municipality
) -> None:
    proposal = propose([city], title="上尾市だけの作業")
    with schema_context("public"):
        approval = MaintenanceApproval.objects.get(proposal=proposal)
    okegawa = role_client(other_city, Role.SUPERVISOR)
    assert "上尾市だけの作業" not in okegawa.get("/staff/vendor/maintenance/").content.decode()
    assert (
        okegawa.post(f"/staff/vendor/maintenance/{approval.pk}/", {"decision": "reject"}).status_code == 404
    )
    with schema_context("public"):
        approval.refresh_from_db()
    assert approval.status == MaintenanceApproval.Status.PENDING


def test_the_approval_page_stays_up_during_a_booking_window(city: Municipality, city_client: Client) -> None:
    from console.maintenance.tests.helpers import decide, move_window

    proposal = propose([city], modules=["booking", "issuance"])
    decide(city, proposal)
    move_window(proposal, timezone.now() - timedelta(minutes=5))
    supervisor = role_client(city, Role.SUPERVISOR, username="sup-during")
    assert supervisor.get("/staff/vendor/maintenance/").status_code == 200
    assert supervisor.get("/staff/").status_code == 200
    assert supervisor.get("/staff/booking/").status_code == 503
    assert supervisor.get("/staff/cards/").status_code == 503
