"""`make run`'s demo data: two cities with a supervisor and a counter staff login each, the same on every re-run."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.booking.models import SiteAppearance
from apps.security.models import User
from madoguchi.demo import DEMO_PASSWORD
from tenants.models import Domain, Municipality


def _counts() -> dict[str, int]:
    counts = {"cities": Municipality.objects.count(), "domains": Domain.objects.count()}
    for slug in ("ageo", "okegawa"):
        with schema_context(slug):
            counts[f"{slug}-users"] = User.objects.count()
            counts[f"{slug}-appearance"] = SiteAppearance.objects.count()
    return counts


def test_bootstrap_demo_is_idempotent_and_prints_the_logins(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("bootstrap", "--demo")
    first = _counts()
    out = capsys.readouterr().out
    assert "ageo-supervisor" in out
    assert "okegawa-staff" in out
    assert DEMO_PASSWORD in out
    call_command("bootstrap", "--demo")
    assert _counts() == first
    assert first["ageo-users"] == first["okegawa-users"] == 2
    with schema_context("ageo"):
        assert SiteAppearance.objects.get().primary_color == "#1B6B3A"
        supervisor = User.objects.get(username="ageo-supervisor")
        assert list(supervisor.groups.values_list("name", flat=True)) == ["supervisor"]
        assert list(Group.objects.get(name="staff").user_set.values_list("username", flat=True)) == [
            "ageo-staff"
        ]


def test_demo_staff_login_works_at_ageo_and_fails_at_okegawa(db: None) -> None:
    call_command("bootstrap", "--demo")
    ageo, okegawa = Client(HTTP_HOST="ageo.localhost"), Client(HTTP_HOST="okegawa.localhost")
    credentials = {"login": "ageo-staff", "password": DEMO_PASSWORD}
    assert ageo.post("/accounts/login/", credentials).status_code == 302
    refused = okegawa.post("/accounts/login/", credentials)
    assert refused.status_code == 200
    assert not refused.wsgi_request.user.is_authenticated
