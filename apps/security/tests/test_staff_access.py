"""A leaked password alone opens nothing: networks per city, the second factor, lockouts; all audited."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import AccountLock, AllowedNetwork, Role, SecurityPolicy, User
from apps.security.network import client_ip
from apps.security.policy import forget_policy
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality
from tests.factories import PASSWORD, AllowedNetworkFactory, UserFactory, login_as, totp_code, with_totp

LOGIN = "/accounts/login/"


def _user(city: Municipality, username: str, role: Role, mfa: bool = True) -> tuple[User, str]:
    with schema_context(city.schema_name):
        user = UserFactory(username=username, role=role)
        secret = with_totp(user) if mfa else ""
    return user, secret


def _events(city: Municipality, action: str) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(AuditEvent.objects.filter(action=action))


# --- networks ------------------------------------------------------------------------------------------------------


def test_correct_password_from_outside_gets_only_a_refusal(city: Municipality) -> None:
    _user(city, "kato", Role.STAFF)
    outside = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    page = outside.get(LOGIN)
    assert page.status_code == 403
    body = page.content.decode()
    assert "この接続元からは利用できません" in body
    assert 'type="password"' not in body  # no login form at all
    attempt = outside.post(LOGIN, {"login": "kato", "password": PASSWORD})
    assert attempt.status_code == 403
    assert "sessionid" not in attempt.cookies  # no session, not even a half-finished login
    # Both refusals are counted; only the first of the window is audited, as a sample (issue 10, item 8).
    refused = _events(city, "network.refused")
    assert len(refused) == 1
    assert refused[0].address == OUTSIDE_ADDRESS


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(city: Municipality) -> None:
    outside = Client(
        HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS, HTTP_X_FORWARDED_FOR="127.0.0.1"
    )
    assert outside.get(LOGIN).status_code == 403


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_through_a_trusted_proxy_the_forwarded_client_decides(city: Municipality) -> None:
    # The same login, through our own proxy at 127.0.0.1, from a client outside and then inside the list.
    via_proxy_outside = Client(HTTP_HOST="ageo.localhost", HTTP_X_FORWARDED_FOR=OUTSIDE_ADDRESS)
    assert via_proxy_outside.get(LOGIN).status_code == 403
    # A client may prepend anything; the hop our proxy appended (127.0.0.5, inside the list) is what counts.
    via_proxy_inside = Client(
        HTTP_HOST="ageo.localhost", HTTP_X_FORWARDED_FOR=f"{OUTSIDE_ADDRESS}, 127.0.0.5"
    )
    assert via_proxy_inside.get(LOGIN).status_code == 200


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_client_ip_walks_the_chain_from_the_right() -> None:
    factory = RequestFactory()
    request = factory.get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1, 10.0.0.9"
    )
    assert client_ip(request) == "203.0.113.1"  # the first hop our proxies did not add
    direct = factory.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert client_ip(direct) == "198.51.100.7"
    v6 = factory.get("/", REMOTE_ADDR="::ffff:192.0.2.1")
    assert client_ip(v6) == "192.0.2.1"


def test_ipv6_ranges_work(city: Municipality) -> None:
    assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="::1").get(LOGIN).status_code == 200
    assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="2001:db8::5").get(LOGIN).status_code == 403


def test_a_new_city_has_no_staff_access_until_the_vendor_adds_a_range(db: None) -> None:
    from django.core.management import call_command

    from tenants.services import MunicipalityInput, municipality_create

    municipality_create(
        data=MunicipalityInput(
            slug="kitamoto", lg_code="112330", name_ja="北本市", name_en="Kitamoto", prefecture="埼玉県"
        ),
        domains=["kitamoto.localhost"],
    )
    client = Client(HTTP_HOST="kitamoto.localhost")
    assert client.get(LOGIN).status_code == 403
    assert client.get("/").status_code == 200  # residents are not affected
    call_command("allowed_networks", "kitamoto", "--add", "127.0.0.0/8", "--label", "庁内LAN")
    assert client.get(LOGIN).status_code == 200


def test_resident_pages_are_public(city: Municipality) -> None:
    assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS).get("/").status_code == 200


def test_one_citys_networks_do_not_open_another(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        AllowedNetworkFactory.create(cidr="198.51.100.0/24", label="上尾市役所")
    from apps.security.network import forget_allowed_networks

    with schema_context(city.schema_name):
        forget_allowed_networks()
    assert Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="198.51.100.4").get(LOGIN).status_code == 200
    assert Client(HTTP_HOST="okegawa.localhost", REMOTE_ADDR="198.51.100.4").get(LOGIN).status_code == 403
    with schema_context(other_city.schema_name):
        assert not AllowedNetwork.objects.filter(cidr="198.51.100.0/24").exists()


# --- the network list page -----------------------------------------------------------------------------------------


@pytest.fixture
def supervisor_client(city: Municipality) -> Client:
    user, _secret = _user(city, "yamada", Role.SUPERVISOR)
    client = Client(HTTP_HOST="ageo.localhost")
    login_as(client, user, "ageo")
    return client


def test_supervisor_adds_a_range_and_it_is_audited(city: Municipality, supervisor_client: Client) -> None:
    response = supervisor_client.post("/staff/security/networks/", {"cidr": "192.0.2.7/24", "label": "支所"})
    assert response.status_code == 302
    with schema_context(city.schema_name):
        assert AllowedNetwork.objects.filter(cidr="192.0.2.0/24", label="支所").exists()
    event = _events(city, "network.added")[0]
    assert event.actor_username == "yamada"
    assert "192.0.2.0/24" in event.after["networks"]
    assert "192.0.2.0/24" not in event.before["networks"]


def test_a_bad_range_is_explained_and_the_input_kept(supervisor_client: Client) -> None:
    response = supervisor_client.post(
        "/staff/security/networks/", {"cidr": "192.0.2.300/24", "label": "支所"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "IPアドレスの範囲として読めません" in body
    assert 'value="192.0.2.300/24"' in body
    assert 'value="支所"' in body


def test_removing_ones_own_range_needs_confirmation(city: Municipality, supervisor_client: Client) -> None:
    with schema_context(city.schema_name):
        loopback = AllowedNetwork.objects.get(cidr="127.0.0.0/8")
    url = f"/staff/security/networks/{loopback.pk}/remove/"
    first = supervisor_client.post(url)
    assert first.status_code == 409
    assert "あなた自身が利用できなくなります" in first.content.decode()
    with schema_context(city.schema_name):
        assert AllowedNetwork.objects.filter(pk=loopback.pk).exists()
    confirmed = supervisor_client.post(url, {"confirm_self_exclusion": "on"})
    assert confirmed.status_code == 302
    with schema_context(city.schema_name):
        assert not AllowedNetwork.objects.filter(pk=loopback.pk).exists()
    assert supervisor_client.get("/staff/").status_code == 403  # locked out, as confirmed


def test_counter_staff_cannot_change_networks(city: Municipality) -> None:
    user, _secret = _user(city, "ito", Role.STAFF)
    client = Client(HTTP_HOST="ageo.localhost")
    login_as(client, user, "ageo")
    assert client.post("/staff/security/networks/", {"cidr": "0.0.0.0/0", "label": "all"}).status_code == 403
    with schema_context(city.schema_name):
        assert not AllowedNetwork.objects.filter(cidr="0.0.0.0/0").exists()


# --- the second factor ---------------------------------------------------------------------------------------------


def test_login_asks_for_the_second_factor_and_accepts_the_app_code(city: Municipality) -> None:
    _user_obj, secret = _user(city, "mori", Role.STAFF)
    client = Client(HTTP_HOST="ageo.localhost")
    first = client.post(LOGIN, {"login": "mori", "password": PASSWORD})
    assert first.status_code == 302
    assert "/accounts/2fa/authenticate/" in first["Location"]
    assert client.get("/staff/").status_code == 302  # the password alone is not a login
    second = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert second.status_code == 302
    assert client.get("/staff/").status_code == 200


def test_a_supervisor_without_a_second_factor_must_set_one_up(city: Municipality) -> None:
    user, _secret = _user(city, "abe", Role.SUPERVISOR, mfa=False)
    client = Client(HTTP_HOST="ageo.localhost")
    login_as(client, user, "ageo")
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"


def test_a_city_may_relax_mfa_for_counter_staff_but_never_for_supervisors(city: Municipality) -> None:
    with schema_context(city.schema_name):
        SecurityPolicy.objects.filter(pk=1).update(mfa_required_for_staff=False)
        forget_policy()
    staff, _s = _user(city, "ueda", Role.STAFF, mfa=False)
    boss, _b = _user(city, "oda", Role.SUPERVISOR, mfa=False)
    staff_client, boss_client = Client(HTTP_HOST="ageo.localhost"), Client(HTTP_HOST="ageo.localhost")
    login_as(staff_client, staff, "ageo")
    login_as(boss_client, boss, "ageo")
    assert staff_client.get("/staff/").status_code == 200
    assert boss_client.get("/staff/").status_code == 302


def test_vendor_staff_always_need_mfa(public_client: Client) -> None:
    vendor = User.objects.create_superuser("ops", "ops@vendor.example", PASSWORD)
    login_as(public_client, vendor, "public")
    assert public_client.get("/console/").status_code == 302
    with_totp(vendor)
    # Having a second factor is not enough: this session has not passed it.
    assert public_client.get("/console/")["Location"].startswith("/accounts/2fa/reauthenticate/")
    login_as(public_client, vendor, "public")  # password, then the code
    assert public_client.get("/console/").status_code == 200


def test_policy_page_saves_and_audits_before_and_after(city: Municipality, supervisor_client: Client) -> None:
    response = supervisor_client.post(
        "/staff/security/policy/", {"idle_timeout_minutes": 15, "absolute_timeout_hours": 8}
    )
    assert response.status_code == 302
    with schema_context(city.schema_name):
        policy = SecurityPolicy.objects.get()
    assert (policy.mfa_required_for_staff, policy.idle_timeout_minutes, policy.absolute_timeout_hours) == (
        False,
        15,
        8,
    )
    event = _events(city, "policy.changed")[0]
    assert event.before["idle_timeout_minutes"] == 30
    assert event.after["idle_timeout_minutes"] == 15


def test_policy_refuses_out_of_range_values(supervisor_client: Client) -> None:
    response = supervisor_client.post(
        "/staff/security/policy/",
        {"mfa_required_for_staff": "on", "idle_timeout_minutes": 0, "absolute_timeout_hours": 99},
    )
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()


# --- lockout -------------------------------------------------------------------------------------------------------


def test_repeated_failures_lock_the_account_even_with_the_right_password(city: Municipality) -> None:
    _user(city, "nishi", Role.STAFF)
    client = Client(HTTP_HOST="ageo.localhost")
    for _ in range(5):
        client.post(LOGIN, {"login": "nishi", "password": "wrong-password-xyz"})
    refused = client.post(LOGIN, {"login": "nishi", "password": PASSWORD})
    assert refused.status_code == 200
    assert "一時的にロックされています" in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    assert len(_events(city, "auth.lockout")) == 1
    assert len(_events(city, "auth.login_failed")) == 5


def test_many_failures_from_one_address_lock_the_address(city: Municipality) -> None:
    client = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.77")
    for index in range(20):
        client.post(LOGIN, {"login": f"guess{index}", "password": "x-wrong-password"})
    with schema_context(city.schema_name):
        assert AccountLock.objects.filter(kind="address", key="127.0.0.77").exists()
    other_address = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.78")
    _user(city, "fuji", Role.STAFF)
    assert other_address.post(LOGIN, {"login": "fuji", "password": PASSWORD}).status_code == 302


def test_a_supervisor_releases_a_lock(city: Municipality, supervisor_client: Client) -> None:
    _user(city, "kudo", Role.STAFF)
    locked = Client(HTTP_HOST="ageo.localhost")
    for _ in range(5):
        locked.post(LOGIN, {"login": "kudo", "password": "wrong-password-xyz"})
    page = supervisor_client.get("/staff/security/locks/")
    assert "kudo" in page.content.decode()
    with schema_context(city.schema_name):
        lock = AccountLock.objects.get(key="kudo")
    assert supervisor_client.post(f"/staff/security/locks/{lock.pk}/release/").status_code == 302
    assert locked.post(LOGIN, {"login": "kudo", "password": PASSWORD}).status_code == 302
    assert _events(city, "auth.unlock")[0].actor_username == "yamada"


def test_lockouts_are_per_city(city: Municipality, other_city: Municipality) -> None:
    _user(city, "same-name", Role.STAFF)
    _user(other_city, "same-name", Role.STAFF)
    ageo = Client(HTTP_HOST="ageo.localhost")
    for _ in range(5):
        ageo.post(LOGIN, {"login": "same-name", "password": "wrong-password-xyz"})
    okegawa = Client(HTTP_HOST="okegawa.localhost")
    assert okegawa.post(LOGIN, {"login": "same-name", "password": PASSWORD}).status_code == 302
    with schema_context(other_city.schema_name):
        assert AccountLock.objects.count() == 0
