"""A support session: read-only, from the vendor's networks, re-checked on every request, every page audited."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import AllowedNetwork
from apps.security.network import forget_allowed_networks
from console.support.models import SupportGrant
from console.support.tests.support_cast import entered, grant, signed_in, supervisor_of, vendor_support
from tenants.models import Municipality

DAY = "/staff/booking/day/"
VENDOR_OFFICE = "192.0.2.10"  # TEST-NET-1: the vendor's office, not one of ageo's networks
LOOPBACK = ["127.0.0.0/8", "::1/128"]


def test_writes_are_refused_and_signing_out_is_not(city: Municipality) -> None:
    vendor, console = vendor_support()
    browser = entered(city, console, grant(city, supervisor_of(city), vendor).pk)
    refused = browser.post("/staff/booking/day/book/", {"slot": "1"})
    assert refused.status_code == 403
    assert "閲覧のみ" in refused.content.decode()
    assert browser.post("/staff/account/logout-everywhere/").status_code == 403
    assert browser.get(DAY).status_code == 200  # still signed in
    assert browser.post("/accounts/logout/").status_code == 302
    assert browser.get(DAY).status_code == 302  # to the login page


def test_an_ended_grant_signs_the_session_out_on_its_next_request(city: Municipality) -> None:
    vendor, console = vendor_support()
    boss = supervisor_of(city)
    given = grant(city, boss, vendor)
    browser = entered(city, console, given.pk)
    assert browser.get(DAY).status_code == 200
    assert signed_in(city, boss).post(f"/staff/vendor/support/{given.pk}/end/").status_code == 302
    ended = browser.get(DAY)
    assert ended.status_code == 403
    assert "サポートアクセスは終了しました" in ended.content.decode()
    assert browser.get(DAY).status_code == 302  # signed out: the login page next


def test_a_grant_past_its_end_signs_the_session_out(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    browser = entered(city, console, given.pk)
    # The hour has passed (the grant's clock moved back rather than sleeping through it).
    past = timezone.now() - timedelta(hours=2)
    SupportGrant.objects.filter(pk=given.pk).update(starts_at=past, ends_at=past + timedelta(hours=1))
    assert browser.get(DAY).status_code == 403
    assert browser.get(DAY).status_code == 302


def test_every_page_seen_is_in_both_logs_with_its_path_only(city: Municipality) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    browser = entered(city, console, given.pk)
    browser.get(DAY, {"date": "2026-12-07"})
    browser.get("/staff/")
    target = f"SupportGrant:{given.pk}"
    for schema, who in (("ageo", "support.vsup"), ("public", "vsup")):
        with schema_context(schema):
            uses = list(AuditEvent.objects.filter(action="support.used", target=target).order_by("sequence"))
        assert [u.summary.removeprefix("ageo: ") for u in uses] == [DAY, "/staff/"]
        assert {u.actor_username for u in uses} == {who}


def test_a_support_session_from_outside_the_vendors_networks_is_refused(city: Municipality) -> None:
    vendor, console = vendor_support()
    browser = entered(city, console, grant(city, supervisor_of(city), vendor).pk)
    with schema_context("ageo"):
        AllowedNetwork.objects.create(cidr="198.51.100.0/24", label="庁舎")
        forget_allowed_networks()
    response = browser.get(DAY, REMOTE_ADDR="198.51.100.7")  # the city's network, not the vendor's
    assert response.status_code == 403
    assert "この接続元からは利用できません" in response.content.decode()


@override_settings(VENDOR_ALLOWED_NETWORKS=[*LOOPBACK, "192.0.2.0/24"])
def test_from_the_vendors_office_only_a_support_session_passes_the_citys_network_gate(
    city: Municipality,
) -> None:
    vendor, console = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    anonymous = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=VENDOR_OFFICE)
    assert "この接続元からは利用できません" in anonymous.get("/accounts/login/").content.decode()
    boss = signed_in(city, supervisor_of(city, "ageo-boss2"), REMOTE_ADDR=VENDOR_OFFICE)
    assert boss.get("/staff/").status_code == 403  # a city account from the vendor's office: refused
    browser = entered(city, console, given.pk, REMOTE_ADDR=VENDOR_OFFICE)
    assert browser.get(DAY).status_code == 200
    assert browser.get("/accounts/login/").status_code in (200, 302)


def test_a_session_of_ageo_does_not_open_okegawa(city: Municipality, other_city: Municipality) -> None:
    vendor, console = vendor_support()
    browser = entered(city, console, grant(city, supervisor_of(city), vendor).pk)
    browser.defaults["HTTP_HOST"] = "okegawa.localhost"
    assert browser.get(DAY).status_code == 302  # to okegawa's login page: no session there
