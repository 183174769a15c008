"""Issue 10, item 3: client addresses behind a trusted proxy fail closed.

No proxy runs here: the test client's own address (127.0.0.1) is made the trusted proxy, and each request carries
the X-Forwarded-For value a proxy (or an attacker behind it) could send. What is asserted is what an attacker
notices: the staff login page (200) or the refusal (403), and the address the city's audit log records.

上尾市 allows 198.51.100.0/24 and 2001:db8:1::/48 (its offices) plus loopback (conftest); 203.0.113.9 is outside.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from apps.security.network import address_buckets, forget_allowed_networks
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality
from tests.factories import AllowedNetworkFactory, UserFactory, login_as, with_totp

LOGIN = "/accounts/login/"
OFFICE = "198.51.100.7"
OFFICE_V6 = "2001:db8:1::7"

pytestmark = pytest.mark.usefixtures("offices")


@pytest.fixture
def offices(city: Municipality) -> None:
    with schema_context(city.schema_name):
        AllowedNetworkFactory.create(cidr="198.51.100.0/24", label="本庁舎")
        AllowedNetworkFactory.create(cidr="2001:db8:1::/48", label="支所")
        forget_allowed_networks()


def _via_proxy(forwarded_for: str | None) -> Client:
    extra = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    return Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.1", **extra)


def _refusals(city: Municipality) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(AuditEvent.objects.filter(action="network.refused").order_by("sequence"))


def _recorded_address(city: Municipality, client: Client) -> str:
    """The address the audit log records for this client's next staff action (a supervisor adds a range)."""
    with schema_context(city.schema_name):
        user = UserFactory(role=Role.SUPERVISOR)
        with_totp(user)
    login_as(client, user, city.schema_name)
    response = client.post("/staff/security/networks/", {"cidr": "192.0.2.0/24", "label": "出張所"})
    assert response.status_code == 302
    with schema_context(city.schema_name):
        event = AuditEvent.objects.filter(action="network.added").order_by("-sequence").first()
    assert event is not None
    return event.address


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
@pytest.mark.parametrize(
    "forwarded_for",
    [
        None,  # the proxy sent no header
        "",  # an empty header
        "   ",
        "garbage",
        "unknown",  # what some proxies write when they cannot tell
        f"{OFFICE}, not-an-address",  # the hop our proxy appended is unreadable: the office hop is not believed
        f"{OFFICE}, ",  # an empty hop where our proxy's should be
        f"{OFFICE}:http",  # a port that is not a number
        f"[{OFFICE_V6}",  # an unclosed bracket
    ],
)
def test_an_unreadable_forwarded_chain_is_refused_not_taken_as_the_proxy(
    city: Municipality, forwarded_for: str | None
) -> None:
    # Before: the proxy's own 127.0.0.1 was taken as the client, and loopback is in the city's list.
    response = _via_proxy(forwarded_for).get(LOGIN)
    assert response.status_code == 403
    assert 'type="password"' not in response.content.decode()
    [event] = _refusals(city)
    assert event.address == ""  # unknown, never 127.0.0.1
    assert "不明な接続元" in event.summary


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_an_unknown_client_is_one_bucket_for_per_address_limits() -> None:
    assert address_buckets("") == ["unknown"]


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
@pytest.mark.parametrize(
    ("forwarded_for", "recorded"),
    [
        (OFFICE, OFFICE),
        (f"{OFFICE}:5555", OFFICE),  # a port is stripped
        (f"[{OFFICE_V6}]:443", OFFICE_V6),
        (OFFICE_V6, OFFICE_V6),
        (f"::ffff:{OFFICE}", OFFICE),  # IPv4-mapped IPv6 is folded
        # Several headers arrive joined by commas; the right-most untrusted hop is the client, whatever is left of it.
        (f"{OUTSIDE_ADDRESS}, {OFFICE}", OFFICE),
        (f"garbage, {OFFICE}", OFFICE),
        (f"{OFFICE}, 127.0.0.1", OFFICE),  # a second trusted proxy in the chain is skipped
        ("127.0.0.1", "127.0.0.1"),  # every hop trusted: the left-most (a browser on the proxy's machine)
    ],
)
def test_a_readable_chain_names_the_client_and_the_audit_log_records_it(
    city: Municipality, forwarded_for: str, recorded: str
) -> None:
    client = _via_proxy(forwarded_for)
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert 'type="password"' in page.content.decode()
    assert _recorded_address(city, client) == recorded


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
@pytest.mark.parametrize(
    ("forwarded_for", "recorded"),
    [
        # An attacker puts the office (or loopback) first; our proxy appends the address it really saw.
        (f"{OFFICE}, {OUTSIDE_ADDRESS}", OUTSIDE_ADDRESS),
        (f"127.0.0.1, {OUTSIDE_ADDRESS}", OUTSIDE_ADDRESS),
        (f"{OFFICE},{OUTSIDE_ADDRESS}:61000", OUTSIDE_ADDRESS),
        (f"{OUTSIDE_ADDRESS}:1234", OUTSIDE_ADDRESS),
    ],
)
def test_a_spoofed_left_most_value_is_not_believed(
    city: Municipality, forwarded_for: str, recorded: str
) -> None:
    response = _via_proxy(forwarded_for).get(LOGIN)
    assert response.status_code == 403
    [event] = _refusals(city)
    assert event.address == recorded


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32", "10.0.0.0/8"])
def test_when_every_hop_is_trusted_the_left_most_decides_not_the_proxy(city: Municipality) -> None:
    # 10.0.0.7 (an internal proxy's address, not in the city's list) reached our nginx at 127.0.0.1.
    response = _via_proxy("10.0.0.7, 127.0.0.1").get(LOGIN)
    assert response.status_code == 403
    [event] = _refusals(city)
    assert event.address == "10.0.0.7"


def test_without_trusted_proxies_the_header_is_ignored(city: Municipality) -> None:
    outside = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS, HTTP_X_FORWARDED_FOR=OFFICE)
    assert outside.get(LOGIN).status_code == 403
    assert _refusals(city)[0].address == OUTSIDE_ADDRESS


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_direct_client_that_is_not_the_proxy_is_itself(city: Municipality) -> None:
    # A peer outside the trusted proxies is the client, whatever it forwards.
    direct = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=f"{OFFICE}", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert direct.get(LOGIN).status_code == 200
    assert _recorded_address(city, direct) == OFFICE


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_the_vendor_console_refuses_an_unknown_client(db: None) -> None:
    # The vendor's networks are loopback in development: the proxy's own address must not open them.
    assert Client(HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.1").get("/console/").status_code == 403
    spoofed = Client(
        HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, garbage"
    )
    assert spoofed.get("/console/").status_code == 403
