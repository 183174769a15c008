"""Issue 10, item 9: a supervisor may not allow 0.0.0.0/0 (or any range that is not one organisation's).

Ranges broader than IPv4 /8 or IPv6 /32 are refused wherever one is added: the staff page, the model's validation
and the vendor's `allowed_networks` command (apps.security.ranges explains the limits). A broad range saved before
this rule opens nothing.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.security.models import AllowedNetwork, Role
from apps.security.network import forget_allowed_networks
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality
from tests.factories import AllowedNetworkFactory, role_client

NETWORKS = "/staff/security/networks/"
TOO_BROAD = "範囲が広すぎます"


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    client: Client = role_client(city, Role.SUPERVISOR)
    return client


@pytest.mark.parametrize(
    "cidr", ["0.0.0.0/0", "::/0", "0/0", "10.0.0.0/7", "128.0.0.0/1", "2001:db8::/31", "::ffff:0:0/96"]
)
def test_the_staff_page_refuses_a_range_that_is_too_broad(
    city: Municipality, supervisor: Client, cidr: str
) -> None:
    response = supervisor.post(NETWORKS, {"cidr": cidr, "label": "全部"})
    assert response.status_code == 400
    body = response.content.decode()
    assert TOO_BROAD in body or "IPアドレスの範囲として読めません" in body
    with schema_context(city.schema_name):
        assert not AllowedNetwork.objects.filter(label="全部").exists()


def test_zero_slash_zero_is_explained_as_too_broad(supervisor: Client) -> None:
    response = supervisor.post(NETWORKS, {"cidr": "0.0.0.0/0", "label": "全部"})
    assert TOO_BROAD in response.content.decode()


@pytest.mark.parametrize(
    ("cidr", "stored"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),  # the broadest accepted: a large city's own private network
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:198.51.100.0/120", "198.51.100.0/24"),  # IPv4-mapped: stored as the IPv4 range it names
    ],
)
def test_the_broadest_accepted_ranges(city: Municipality, supervisor: Client, cidr: str, stored: str) -> None:
    assert supervisor.post(NETWORKS, {"cidr": cidr, "label": "庁内"}).status_code == 302
    with schema_context(city.schema_name):
        assert AllowedNetwork.objects.filter(cidr=stored).exists()


def test_the_model_refuses_it(city: Municipality) -> None:
    with schema_context(city.schema_name):
        network = AllowedNetwork(cidr="0.0.0.0/0", label="全部")
        with pytest.raises(ValidationError) as refused:
            network.full_clean()
    assert TOO_BROAD in str(refused.value)


def test_the_vendors_command_refuses_it(city: Municipality) -> None:
    with pytest.raises(CommandError, match=TOO_BROAD):
        call_command("allowed_networks", "ageo", "--add", "0.0.0.0/0", "--label", "全部")
    with schema_context(city.schema_name):
        assert not AllowedNetwork.objects.filter(cidr="0.0.0.0/0").exists()


def test_a_broad_range_saved_earlier_opens_nothing_and_can_be_removed(city: Municipality) -> None:
    with schema_context(city.schema_name):
        AllowedNetworkFactory.create(
            cidr="0.0.0.0/0", label="以前の設定"
        )  # bypasses validation, as old data did
        forget_allowed_networks()
    assert (
        Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS).get("/accounts/login/").status_code
        == 403
    )
    call_command("allowed_networks", "ageo", "--remove", "0.0.0.0/0")
    with schema_context(city.schema_name):
        assert not AllowedNetwork.objects.filter(cidr="0.0.0.0/0").exists()


@override_settings(VENDOR_ALLOWED_NETWORKS=["0.0.0.0/0", "::/0"])
def test_allow_all_vendor_networks_open_nothing(db: None) -> None:
    # Secure mode refuses to start with them (test_attack_insecure_production_settings.py); elsewhere they are ignored.
    assert Client(HTTP_HOST="localhost", REMOTE_ADDR=OUTSIDE_ADDRESS).get("/console/").status_code == 403
