"""The report as a page, CSV and PDF, in the console (any city) and on the city's staff pages (its own only)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
from django.test import Client

from apps.security.models import Role
from console.access import VendorRole
from console.tests.vendor import vendor_client
from tenants.models import Municipality
from tests.factories import role_client

CONSOLE = "/console/availability/"
CITY = "/staff/vendor/availability/"


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
    finally:
        document.close()


def test_support_sees_any_citys_month_on_the_page(november: None, city: Municipality) -> None:
    page = vendor_client(VendorRole.SUPPORT).get(CONSOLE, {"city": "ageo", "month": "2026-11"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "99.895%" in html
    assert "99.629%" in html
    assert "2026-11-10 10:00" in html
    assert "記録なし（停止とみなす）" in html


def test_console_csv_has_the_summary_and_the_intervals(november: None) -> None:
    answer = vendor_client(VendorRole.SUPPORT).get(
        CONSOLE + "report.csv", {"city": "ageo", "month": "2026-11"}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert "availability-ageo-202611.csv" in answer["Content-Disposition"]
    text = b"".join(answer.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert lines[0].startswith("機能,区分,開始,終了,分,")
    assert "予約,月の集計,2026-11-01 00:00,2026-12-01 00:00,,43200,120,45,99.895%" in lines
    assert "予約,停止,2026-11-10 10:00,2026-11-10 10:30,30,,,," in lines


def test_console_pdf_is_a_real_pdf_with_the_figures(november: None) -> None:
    answer = vendor_client(VendorRole.SUPPORT).get(
        CONSOLE + "report.pdf", {"city": "ageo", "month": "2026-11"}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    text = pdf_text(answer.content)
    assert "稼働状況報告" in text
    assert "99.895%" in text
    assert "上尾市" in text


def test_a_bad_month_or_an_unknown_city_is_refused_with_a_message(city: Municipality) -> None:
    client = vendor_client(VendorRole.SUPPORT)
    assert client.get(CONSOLE, {"city": "ageo", "month": "2026-13"}).status_code == 400
    assert client.get(CONSOLE, {"city": "ageo", "month": "2019-01"}).status_code == 400
    assert client.get(CONSOLE + "report.pdf", {"city": "nowhere", "month": "2026-11"}).status_code == 404


def test_a_vendor_user_without_a_role_gets_403(city: Municipality) -> None:
    assert vendor_client(None).get(CONSOLE).status_code == 403


def test_a_supervisor_sees_the_citys_own_figures_only(
    november: None, city: Municipality, other_city: Municipality
) -> None:
    own = role_client(city, Role.SUPERVISOR).get(CITY, {"month": "2026-11"}).content.decode()
    other = role_client(other_city, Role.SUPERVISOR).get(CITY, {"month": "2026-11"}).content.decode()
    assert "上尾市" in own, own[own.find("<main") : own.find("<main") + 1500]
    assert "99.895%" in own
    assert "上尾市" not in other
    assert "99.895%" not in other
    assert "2026-11-11 10:00" in other  # okegawa's own hour down
    assert "2026-11-10 10:00" not in other


@pytest.mark.parametrize("suffix", ["", "report.csv", "report.pdf"])
def test_the_city_downloads_its_report_and_an_auditor_may_too(
    november: None, city: Municipality, suffix: str
) -> None:
    answer = role_client(city, Role.AUDITOR).get(CITY + suffix, {"month": "2026-11"})
    assert answer.status_code == 200
    if suffix == "report.pdf":
        assert "99.895%" in pdf_text(answer.content)


def test_counter_staff_may_not_read_the_report(city: Municipality, city_client: Client) -> None:
    assert role_client(city, Role.STAFF).get(CITY).status_code == 403
    assert city_client.get(CITY).status_code == 302  # not signed in: the login page
