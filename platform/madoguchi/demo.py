"""Demo data for `make run`: the vendor tenant, two cities and their staff logins. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.booking.calendar.services import appearance_update, slots_sync
from apps.security.actors import Actor
from apps.security.models import AllowedNetwork, Role, User
from apps.security.services import network_add, staff_user_ensure
from console.access import VendorRole
from console.vendor_users import vendor_groups_ensure
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create, public_tenant_ensure

DEMO_PASSWORD = "madoguchi-demo-2026"  # noqa: S105 (printed on start; demo machines only)


@dataclass(frozen=True)
class DemoCity:
    data: MunicipalityInput
    color: str
    phone: str


DEMO_CITIES = [
    DemoCity(
        MunicipalityInput(
            slug="ageo",
            lg_code="112194",
            name_ja="上尾市",
            name_en="Ageo City",
            prefecture="埼玉県",
            contact_phone="048-775-5111",
        ),
        "#1B6B3A",
        "048-775-5111",
    ),
    DemoCity(
        MunicipalityInput(
            slug="okegawa",
            lg_code="112216",
            name_ja="桶川市",
            name_en="Okegawa City",
            prefecture="埼玉県",
            contact_phone="048-786-3211",
        ),
        "#24508F",
        "048-786-3211",
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    host: str
    username: str
    role: str
    totp_secret: str = ""
    recovery_codes: tuple[str, ...] = ()


def _second_factor(user: User) -> tuple[str, tuple[str, ...]]:
    """An authenticator-app secret and recovery codes, made once and shown again on every start."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from allauth.mfa.utils import decrypt

    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    secret = decrypt(totp.data["secret"]) if totp else ""
    if not totp:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    codes = Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).first()
    recovery = RecoveryCodes(codes) if codes else RecoveryCodes.activate(user)
    return secret, tuple(recovery.get_unused_codes()[:3])


def _vendor_role_user(domain: str, role: VendorRole) -> DemoLogin:
    """`vendor-operator` / `vendor-support`: a console role each (console.access), with a second factor."""
    groups = vendor_groups_ensure()
    username = f"vendor-{role.value}"
    user = User.objects.filter(username=username).first() or User(username=username)
    user.email = f"{username}@madoguchi.example"
    user.is_active = True
    user.set_password(DEMO_PASSWORD)
    user.save()
    user.groups.set([groups[role]])
    return DemoLogin(domain, username, f"vendor {role.value} (console)", *_second_factor(user))


def demo_setup() -> list[DemoLogin]:
    domain = settings.MADOGUCHI_DOMAIN
    public_tenant_ensure(domains=[domain, "127.0.0.1"])
    logins = [DemoLogin(domain, "vendor", "vendor superuser")]
    with schema_context("public"):
        vendor = User.objects.filter(username="vendor").first() or User(username="vendor")
        vendor.email = "vendor@madoguchi.example"
        vendor.is_staff = vendor.is_superuser = True
        vendor.set_password(DEMO_PASSWORD)
        vendor.save()
        secret, codes = _second_factor(vendor)
        logins[0] = DemoLogin(domain, "vendor", "vendor superuser", secret, codes)
        logins.extend(_vendor_role_user(domain, role) for role in (VendorRole.OPERATOR, VendorRole.SUPPORT))
    for city in DEMO_CITIES:
        host = f"{city.data.slug}.{domain}"
        municipality = Municipality.objects.filter(slug=city.data.slug).first()
        if municipality is None:
            municipality = municipality_create(data=city.data, domains=[host])
        with schema_context(municipality.schema_name):
            appearance_update(primary_color=city.color, phone=city.phone)
            slots_sync(today=timezone.localdate())  # the booking window's open slots
            # The demo is reached from this machine only.
            for cidr in ("127.0.0.0/8", "::1/128"):
                if not AllowedNetwork.objects.filter(cidr=cidr).exists():
                    network_add(cidr=cidr, label="このマシン (demo)", actor=Actor.system("demo"))
            for role in (Role.SUPERVISOR, Role.STAFF):
                username = f"{city.data.slug}-{role.value}"
                user = staff_user_ensure(
                    username=username,
                    email=f"{username}@example.jp",
                    password=DEMO_PASSWORD,
                    role=role,
                    display_name=f"{city.data.name_ja} {role.label}",
                )
                logins.append(DemoLogin(host, username, str(role.label), *_second_factor(user)))
    use_public_schema()
    return logins
