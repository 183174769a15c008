"""Incidents: recorded by operators in the console (audited), read by the affected cities only."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from console.access import VendorRole
from console.availability.models import Incident
from console.tests.vendor import vendor_client
from tenants.models import Municipality
from tests.factories import role_client

NEW = "/console/availability/incidents/new/"
LIST = "/console/availability/incidents/"
CITY_LIST = "/staff/vendor/incidents/"
FORM = {
    "title": "予約画面が表示されない",
    "received_at": "2026-12-05T09:12",
    "received_via": "phone",
    "severity": "s2",
    "status": "open",
    "cities": "ageo",
    "modules": ["booking"],
    "cause": "",
    "resolution": "",
    "resolved_at": "",
}


def _record(client: Client | None = None, **changes: object) -> Incident:
    answer = (client or vendor_client(VendorRole.OPERATOR)).post(NEW, {**FORM, **changes})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    return Incident.objects.latest("pk")


def test_an_operator_records_an_incident_and_it_is_audited(city: Municipality) -> None:
    incident = _record()
    assert list(incident.municipalities.values_list("slug", flat=True)) == ["ageo"]
    assert incident.received_at == datetime(2026, 12, 5, 9, 12, tzinfo=TOKYO)
    with schema_context("public"):
        event = AuditEvent.objects.get(action="incident.recorded")
    assert event.actor_username == "vendor-operator"
    assert event.target == f"incident:{incident.pk}"


def test_timeline_and_resolution_are_added_and_audited(city: Municipality) -> None:
    incident = _record()
    client = vendor_client(VendorRole.OPERATOR, "operator2")
    base = f"/console/availability/incidents/{incident.pk}/"
    assert (
        client.post(base + "timeline/", {"at": "2026-12-05T09:30", "text": "DBの接続数を調査"}).status_code
        == 302
    )
    resolved = {**FORM, "status": "resolved", "cause": "接続の枯渇", "resolved_at": "2026-12-05T10:00"}
    assert client.post(base + "edit/", resolved).status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.cause) == ("resolved", "接続の枯渇")
    assert [e.text for e in incident.entries.all()] == ["DBの接続数を調査"]
    with schema_context("public"):
        assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
            "incident.entry_added",
            "incident.updated",
        }


def test_resolved_without_a_time_or_an_unknown_city_is_refused_and_nothing_written(
    city: Municipality,
) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    assert client.post(NEW, {**FORM, "status": "resolved"}).status_code == 400
    answer = client.post(NEW, {**FORM, "cities": "ageo nowhere"})
    assert answer.status_code == 400
    assert "nowhere" in answer.content.decode()
    assert client.post(NEW, {**FORM, "title": "番号 123456789018 の件"}).status_code == 400
    assert not Incident.objects.exists()


def test_support_reads_but_may_not_record(city: Municipality) -> None:
    client = vendor_client(VendorRole.SUPPORT)
    assert client.post(NEW, FORM).status_code == 403
    assert client.get("/console/availability/incidents/").status_code == 200
    assert not Incident.objects.exists()


def test_only_the_affected_city_sees_the_incident(city: Municipality, other_city: Municipality) -> None:
    incident = _record()
    ageo = role_client(city, Role.SUPERVISOR)
    okegawa = role_client(other_city, Role.SUPERVISOR)
    assert "予約画面が表示されない" in ageo.get("/staff/vendor/incidents/").content.decode()
    assert ageo.get(f"/staff/vendor/incidents/{incident.pk}/").status_code == 200
    listing = okegawa.get("/staff/vendor/incidents/").content.decode()
    assert "予約画面が表示されない" not in listing
    assert "記録された障害はありません" in listing
    assert okegawa.get(f"/staff/vendor/incidents/{incident.pk}/").status_code == 404


def test_a_city_never_sees_which_other_cities_were_affected(
    city: Municipality, other_city: Municipality
) -> None:
    incident = _record(cities="ageo okegawa")
    page = (
        role_client(other_city, Role.SUPERVISOR)
        .get(f"/staff/vendor/incidents/{incident.pk}/")
        .content.decode()
    )
    assert "予約画面が表示されない" in page
    assert "上尾市" not in page


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_queries_for_one_incident_or_many(
    city: Municipality, other_city: Municipality
) -> None:
    _record(cities="ageo okegawa")
    console = vendor_client(VendorRole.SUPPORT)
    ageo = role_client(city, Role.SUPERVISOR)
    _queries(console, LIST), _queries(ageo, CITY_LIST)  # the first page of a session also fills caches
    one = (_queries(console, LIST), _queries(ageo, CITY_LIST))
    operator = vendor_client(VendorRole.OPERATOR, "operator-many")
    for n in range(4):
        _record(operator, title=f"障害 {n}", cities="ageo okegawa")
    assert (_queries(console, LIST), _queries(ageo, CITY_LIST)) == one
