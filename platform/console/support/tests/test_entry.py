"""Entering a city from the console: a one-time, 60-second ticket, bound to its grant, user and city."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit_models import AuditEvent
from conftest import OUTSIDE_ADDRESS
from console.support import services
from console.support.models import SupportTicket
from console.support.tests.support_cast import (
    actions,
    enter_path,
    entered,
    grant,
    supervisor_of,
    vendor_support,
)
from tenants.models import Municipality
from tests.factories import UserFactory

AGEO = "ageo.localhost"


def test_enter_opens_the_day_view_as_the_citys_stand_in_with_only_the_scope(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    path = enter_path(console, given.pk)
    browser = Client(HTTP_HOST=AGEO)
    response = browser.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/staff/booking/day/"
    day = browser.get("/staff/booking/day/")
    assert day.status_code == 200
    assert "サポートアクセス中です" in day.content.decode()
    assert browser.get("/staff/cards/").status_code == 403  # cards are not in this grant's scope
    assert browser.get("/staff/security/networks/").status_code == 403
    target = f"SupportGrant:{given.pk}"
    assert actions("ageo", target)[:3] == ["support.granted", "support.entered", "support.used"]
    assert actions("public", target)[:3] == ["support.granted", "support.entered", "support.used"]


def test_a_ticket_opens_once(city: Municipality) -> None:
    vendor, console = vendor_support()
    path = enter_path(console, grant(city, supervisor_of(city), vendor).pk)
    assert Client(HTTP_HOST=AGEO).get(path).status_code == 302
    again = Client(HTTP_HOST=AGEO).get(path)
    assert again.status_code == 403
    assert "このリンクは使えません" in again.content.decode()


def test_a_ticket_older_than_60_seconds_is_refused(city: Municipality) -> None:
    vendor, _console = vendor_support()
    given = grant(city, supervisor_of(city), vendor, now=timezone.now() - timedelta(minutes=5))
    token, _grant = services.ticket_issue(
        actor=Actor.of_user(vendor), grant_id=given.pk, now=timezone.now() - timedelta(seconds=61)
    )
    assert Client(HTTP_HOST=AGEO).get(f"/support/enter/{token}/").status_code == 403


def test_a_ticket_for_ageo_does_not_open_okegawa_and_is_spent_by_trying(
    city: Municipality, other_city: Municipality
) -> None:
    vendor, console = vendor_support()
    path = enter_path(console, grant(city, supervisor_of(city), vendor).pk)
    okegawa = Client(HTTP_HOST="okegawa.localhost")
    assert okegawa.get(path).status_code == 403
    assert okegawa.get("/staff/booking/day/").status_code == 302  # not signed in there
    assert Client(HTTP_HOST=AGEO).get(path).status_code == 403  # spent


def test_a_ticket_from_outside_the_vendors_networks_is_refused_and_kept(city: Municipality) -> None:
    vendor, console = vendor_support()
    path = enter_path(console, grant(city, supervisor_of(city), vendor).pk)
    outside = Client(HTTP_HOST=AGEO, REMOTE_ADDR=OUTSIDE_ADDRESS).get(path)
    assert outside.status_code == 403
    assert "運営事業者のネットワークからのみ" in outside.content.decode()
    assert SupportTicket.objects.get().used_at is None
    assert Client(HTTP_HOST=AGEO).get(path).status_code == 302


def test_no_ticket_for_an_ended_grant_nor_for_another_vendor_user(city: Municipality) -> None:
    vendor, console = vendor_support()
    _other, other_console = vendor_support("vsup2")
    given = grant(city, supervisor_of(city), vendor)
    assert other_console.post(f"/console/support/{given.pk}/enter/").status_code == 404
    given.ended_at = timezone.now()
    given.save()
    assert console.post(f"/console/support/{given.pk}/enter/").status_code == 404
    assert not SupportTicket.objects.exists()


def test_an_expired_grant_gives_no_entry(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor, now=timezone.now() - timedelta(hours=2))
    assert console.post(f"/console/support/{given.pk}/enter/").status_code == 404


def test_a_city_account_of_the_stand_ins_name_is_never_signed_in(city: Municipality) -> None:
    with schema_context("ageo"):
        UserFactory(username="support.vsup")  # a real person's account, with a password
    vendor, console = vendor_support()
    path = enter_path(console, grant(city, supervisor_of(city), vendor).pk)
    browser = Client(HTTP_HOST=AGEO)
    assert browser.get(path).status_code == 403
    assert browser.get("/staff/").status_code == 302  # not signed in
    with schema_context("ageo"):
        assert AuditEvent.objects.filter(action="support.refused", summary="name_taken").exists()


def test_entering_twice_from_the_console_works_with_a_new_ticket(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    entered(city, console, given.pk)
    entered(city, console, given.pk)
    assert SupportTicket.objects.filter(used_at__isnull=False).count() == 2


def test_the_consoles_page_lets_the_browser_follow_enter_to_the_citys_host(city: Municipality) -> None:
    # "Enter" is a form posted to the console and redirected to the city's host; a browser applies the page's
    # form-action to that redirect, so with only 'self' it silently refuses to go (seen on `make run`).
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    policy = console.get("/console/support/")["Content-Security-Policy"]
    form_action = next(part for part in policy.split(";") if part.strip().startswith("form-action"))
    assert "http://ageo.localhost" in form_action.split()
    assert "okegawa" not in policy
    given.ended_at = timezone.now()
    given.save()
    policy = console.get("/console/support/")["Content-Security-Policy"]
    assert "ageo.localhost" not in policy  # nothing to enter: the console's own origin only
