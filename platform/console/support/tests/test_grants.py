"""A city's supervisor grants, lists and ends support access; another city never sees or ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.models import Role
from console.support.models import SupportGrant
from console.support.selectors import active_grant
from console.support.tests.support_cast import actions, grant, signed_in, supervisor_of, vendor_support
from console.tests.vendor import vendor_user
from tenants.models import Municipality
from tests.factories import role_client

PAGE = "/staff/vendor/support/"


def test_the_supervisor_grants_a_vendor_support_user_for_an_hour_and_both_logs_say_so(
    city: Municipality,
) -> None:
    boss = supervisor_of(city)
    vendor, _client = vendor_support()
    vendor_user(None, "no-role-vendor")
    client = signed_in(city, boss)
    page = client.get(PAGE).content.decode()
    assert "vsup" in page
    assert "no-role-vendor" not in page  # only the support role or above may be picked

    response = client.post(
        PAGE, {"grantee": vendor.pk, "scope": "booking", "duration": 60, "reason": "問い合わせ 123"}
    )
    assert response.status_code == 302
    created = SupportGrant.objects.get(municipality=city)
    assert (created.grantee_username, created.scope, created.granted_by) == ("vsup", "booking", "ageo-boss")
    assert created.ends_at - created.starts_at == timedelta(hours=1)
    target = f"SupportGrant:{created.pk}"
    assert actions("ageo", target) == ["support.granted"]
    assert actions("public", target) == ["support.granted"]
    listed = client.get(PAGE).content.decode()
    assert "問い合わせ 123" in listed
    assert "vsup のサポートアクセスを終了" in listed


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "個人番号 123456789018 の件"), ("duration", "600"), ("grantee", "999999"), ("scope", "all")],
)
def test_a_bad_grant_is_refused_with_a_message_and_nothing_is_written(
    city: Municipality, field: str, value: str
) -> None:
    vendor, _client = vendor_support()
    data = {"grantee": str(vendor.pk), "scope": "booking", "duration": "60", "reason": "調査", field: value}
    response = signed_in(city, supervisor_of(city)).post(PAGE, data)
    assert response.status_code == 400
    assert "入力内容を確認してください" in response.content.decode()
    assert not SupportGrant.objects.exists()


def test_the_database_refuses_a_grant_longer_than_8_hours(city: Municipality) -> None:
    vendor, _client = vendor_support()
    with pytest.raises(ValidationError):
        grant(city, supervisor_of(city), vendor, minutes=8 * 60 + 1)
    assert not SupportGrant.objects.exists()


def test_counter_staff_cannot_grant(city: Municipality) -> None:
    assert role_client(city, Role.STAFF).get(PAGE).status_code == 403


def test_a_grant_is_active_from_its_start_until_its_end_or_until_ended(city: Municipality) -> None:
    vendor, _client = vendor_support()
    boss = supervisor_of(city)
    now = timezone.now()
    given = grant(city, boss, vendor, minutes=60, now=now)
    assert active_grant(city.pk, vendor.pk, now) == given
    assert active_grant(city.pk, vendor.pk, now + timedelta(minutes=59)) == given
    assert active_grant(city.pk, vendor.pk, now + timedelta(minutes=60)) is None  # ends by itself
    assert active_grant(city.pk, vendor.pk, now - timedelta(seconds=1)) is None

    response = signed_in(city, boss).post(f"{PAGE}{given.pk}/end/")
    assert response.status_code == 302
    given.refresh_from_db()
    assert given.ended_by == "ageo-boss"
    assert given.ended_at is not None
    assert active_grant(city.pk, vendor.pk, timezone.now()) is None
    assert actions("ageo", f"SupportGrant:{given.pk}") == ["support.granted", "support.ended"]
    assert actions("public", f"SupportGrant:{given.pk}") == ["support.granted", "support.ended"]
    assert "終了" in signed_in(city, boss).get(PAGE).content.decode()


def test_okegawas_supervisor_never_sees_nor_ends_ageos_grants(
    city: Municipality, other_city: Municipality
) -> None:
    vendor, _client = vendor_support()
    given = grant(city, supervisor_of(city), vendor)
    okegawa = signed_in(other_city, supervisor_of(other_city))
    page = okegawa.get(PAGE).content.decode()
    assert "問い合わせ 123 の調査" not in page
    assert "許可はまだありません" in page
    assert okegawa.post(f"{PAGE}{given.pk}/end/").status_code == 404
    given.refresh_from_db()
    assert given.ended_at is None
    assert active_grant(other_city.pk, vendor.pk, timezone.now()) is None
    with schema_context("okegawa"):
        assert actions("okegawa", f"SupportGrant:{given.pk}") == []


def test_the_vendor_user_sees_only_their_own_grants_on_the_console(city: Municipality) -> None:
    vendor, client = vendor_support()
    _other, other_client = vendor_support("vsup2")
    grant(city, supervisor_of(city), vendor)
    assert "上尾市 に入る" in client.get("/console/support/").content.decode()
    assert "あなたへの許可はありません" in other_client.get("/console/support/").content.decode()
    assert other_client.get("/console/support/").status_code == 200


def test_both_lists_cost_the_same_queries_for_one_grant_or_many(city: Municipality) -> None:
    vendor, console = vendor_support()
    boss = supervisor_of(city)
    city_page = signed_in(city, boss)
    grant(city, boss, vendor)
    counts = []
    for _round in range(2):
        for client, path in ((city_page, PAGE), (console, "/console/support/")):
            client.get(path)  # warm the per-process caches (policy, networks)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200
            counts.append(len(queries))
        grant(city, boss, vendor)
        grant(city, boss, vendor)
    assert counts[:2] == counts[2:]
