"""The console's cities: who may do what, create, suspend and resume, hosts, usage, settings; all audited."""

from __future__ import annotations

from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import AllowedNetwork, User
from console.access import VendorRole
from console.tests.vendor import vendor_client
from tenants.models import Domain, Municipality
from tests.factories import UserFactory

NEW_CITY = {
    "slug": "kitamoto",
    "lg_code": "112330",
    "name_ja": "北本市",
    "name_en": "Kitamoto City",
    "prefecture": "埼玉県",
    "contact_email": "",
    "contact_phone": "048-591-1111",
    "host": "kitamoto.localhost",
    "network_cidr": "192.0.2.0/24",
    "network_label": "本庁舎 市民課",
    "supervisor_username": "kitamoto-boss",
    "supervisor_email": "boss@city.kitamoto.example",
    "supervisor_name": "市民課 北本",
}
INDIVIDUAL_NUMBER = "123456789018"  # passes the check digit (base.mynumber)


def _events(action: str) -> list[AuditEvent]:
    with schema_context("public"):
        return list(AuditEvent.objects.filter(action=action))


def test_support_reads_the_list_and_a_citys_page(city: Municipality) -> None:
    client = vendor_client(VendorRole.SUPPORT)
    listing = client.get("/console/cities/")
    assert listing.status_code == 200
    assert "上尾市" in listing.content.decode()
    assert "自治体を登録する" not in listing.content.decode()
    page = client.get("/console/cities/ageo/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "利用状況" in html
    assert "設定の概要" in html
    assert "状態を変更する" not in html  # support only reads


def test_support_is_refused_every_write(city: Municipality) -> None:
    client = vendor_client(VendorRole.SUPPORT)
    assert client.get("/console/cities/new/").status_code == 403
    assert (
        client.post("/console/cities/ageo/status/", {"status": "suspended", "reason": "x"}).status_code == 403
    )
    assert (
        client.post("/console/cities/ageo/domains/", {"host": "a.example.jp", "kind": "resident"}).status_code
        == 403
    )
    assert client.get("/console/vendor-users/").status_code == 403
    with schema_context("public"):
        assert Municipality.objects.get(slug="ageo").status == "active"


def test_the_list_is_filtered_by_text_and_status(city: Municipality) -> None:
    client = vendor_client(VendorRole.SUPPORT)
    response = client.get("/console/cities/", {"q": "桶川"})
    html = response.content.decode()
    assert "桶川市" in html
    assert "上尾市" not in html.split("<tbody>")[1]
    assert (
        "上尾市"
        not in client.get("/console/cities/", {"status": "suspended"}).content.decode().split("<tbody>")[1]
    )


def test_an_operator_suspends_and_resumes_a_city(city: Municipality, city_client: Client) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    response = client.post(
        "/console/cities/ageo/status/", {"status": "suspended", "reason": "契約の一時停止"}
    )
    assert response.status_code == 302
    assert city_client.get("/").status_code == 503
    events = _events("city.status_changed")
    assert events[-1].after == {"status": "suspended", "reason": "契約の一時停止"}
    assert events[-1].actor_username == "vendor-operator"
    assert (
        client.post("/console/cities/ageo/status/", {"status": "active", "reason": "再開"}).status_code == 302
    )
    assert city_client.get("/").status_code == 200


def test_a_status_change_needs_a_reason_and_refuses_a_number(city: Municipality) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    assert (
        client.post("/console/cities/ageo/status/", {"status": "suspended", "reason": ""}).status_code == 400
    )
    refused = client.post(
        "/console/cities/ageo/status/", {"status": "suspended", "reason": INDIVIDUAL_NUMBER}
    )
    assert refused.status_code == 400
    assert (
        client.post("/console/cities/ageo/status/", {"status": "nonsense", "reason": "x"}).status_code == 400
    )
    assert client.post("/console/cities/ageo/status/", {"status": "active", "reason": "x"}).status_code == 400
    with schema_context("public"):
        assert Municipality.objects.get(slug="ageo").status == "active"
    assert _events("city.status_changed") == []


def test_an_operator_creates_a_city_with_its_network_and_supervisor(db: None) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    assert client.get("/console/cities/new/").status_code == 200
    response = client.post("/console/cities/new/", NEW_CITY)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/console/cities/kitamoto/"
    with schema_context("public"):
        kitamoto = Municipality.objects.get(slug="kitamoto")
        assert Domain.objects.filter(tenant=kitamoto, domain="kitamoto.localhost").exists()
    with schema_context("kitamoto"):
        assert list(AllowedNetwork.objects.values_list("cidr", flat=True)) == ["192.0.2.0/24"]
        boss = User.objects.get(username="kitamoto-boss")
        assert not boss.has_usable_password()
        assert {g.name for g in boss.groups.all()} == {"supervisor"}
        assert AuditEvent.objects.filter(action="staff.invited").exists()  # the city's own log
    assert [m.to for m in mail.outbox] == [["boss@city.kitamoto.example"]]
    assert "kitamoto.localhost" in mail.outbox[0].body
    created = _events("city.created")
    assert created[-1].after["supervisor"] == "kitamoto-boss"
    assert created[-1].actor_username == "vendor-operator"


def test_bad_input_creates_nothing(city: Municipality) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    before = Municipality.objects.count()
    for field, value in (
        ("slug", "ageo"),  # taken
        ("slug", "Bad Slug"),
        ("lg_code", "12"),
        ("host", "ageo.localhost"),  # taken
        ("host", "not a host"),
        ("network_cidr", "0.0.0.0/0"),  # everyone
        ("network_cidr", "nonsense"),
        ("supervisor_email", "not-an-address"),
        ("name_ja", INDIVIDUAL_NUMBER),
    ):
        response = client.post("/console/cities/new/", {**NEW_CITY, field: value})
        assert response.status_code == 400, (field, value)
        assert (
            'class="field__errors"' in response.content.decode()
            or "notice--error" in response.content.decode()
        )
    assert Municipality.objects.count() == before
    assert mail.outbox == []
    assert _events("city.created") == []


def test_an_operator_adds_and_removes_a_host(city: Municipality) -> None:
    client = vendor_client(VendorRole.OPERATOR)
    added = client.post(
        "/console/cities/ageo/domains/", {"host": "Yoyaku.City.Ageo.example", "kind": "resident"}
    )
    assert added.status_code == 302
    with schema_context("public"):
        domain = Domain.objects.get(domain="yoyaku.city.ageo.example")
    assert domain.kind == "resident"
    assert Client(HTTP_HOST="yoyaku.city.ageo.example").get("/").status_code == 200
    duplicate = client.post(
        "/console/cities/ageo/domains/", {"host": "okegawa.localhost", "kind": "resident"}
    )
    assert duplicate.status_code == 400
    primary = Domain.objects.get(domain="ageo.localhost")
    assert client.post(f"/console/cities/ageo/domains/{primary.pk}/remove/").status_code == 400
    other = Domain.objects.get(domain="okegawa.localhost")
    assert client.post(f"/console/cities/ageo/domains/{other.pk}/remove/").status_code == 400  # not ageo's
    assert client.post(f"/console/cities/ageo/domains/{domain.pk}/remove/").status_code == 302
    assert not Domain.objects.filter(pk=domain.pk).exists()
    assert [e.action for e in _events("city.domain_added") + _events("city.domain_removed")] == [
        "city.domain_added",
        "city.domain_removed",
    ]


def test_usage_counts_only_the_citys_own_rows(city: Municipality, other_city: Municipality) -> None:
    with schema_context("okegawa"):
        for n in range(3):
            UserFactory(username=f"okegawa-{n}")
    with schema_context("ageo"):
        ageo_staff = User.objects.filter(is_active=True).count()
    page = vendor_client(VendorRole.SUPPORT).get("/console/cities/ageo/")
    usage = page.context["usage"]
    assert usage.staff_users == ageo_staff
    other = vendor_client(VendorRole.SUPPORT, "support-2").get("/console/cities/okegawa/").context["usage"]
    assert other.staff_users >= 3


def test_an_admin_sets_a_vendor_users_role(db: None) -> None:
    admin = vendor_client(VendorRole.ADMIN)
    support_client = vendor_client(VendorRole.SUPPORT)
    with schema_context("public"):
        support = User.objects.get(username="vendor-support")
    assert (
        support_client.post(
            "/console/cities/ageo/status/", {"status": "suspended", "reason": "x"}
        ).status_code
        == 403
    )
    page = admin.get("/console/vendor-users/")
    assert page.status_code == 200
    assert "vendor-support" in page.content.decode()
    assert admin.post("/console/vendor-users/", {"user": support.pk, "role": "operator"}).status_code == 302
    assert support_client.get("/console/cities/new/").status_code == 200
    assert admin.post("/console/vendor-users/", {"user": support.pk, "role": "king"}).status_code == 400
    with schema_context("public"):
        me = User.objects.get(username="vendor-admin")
    assert admin.post("/console/vendor-users/", {"user": me.pk, "role": ""}).status_code == 400
    assert _events("console.vendor_role_changed")[-1].after == {"role": "operator"}
