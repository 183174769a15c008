"""What tests/security/ attacks: every route of both URLconfs (walked), and the forms listed in FORMS.

How later work adds its pages:
- A page without parameters (`path("booking/", ...)`) is found by the URL walk the day it is added: every GET
  check (clickjacking, query-string SQL injection and XSS, header injection) reaches it with no change here.
- A route with parameters gets an example: `<int:pk>`, `<slug:x>`, `<path:x>`, `<uuid:x>` and plain `<x>` are
  filled in automatically; a regex route needs an entry in ROUTE_EXAMPLES (test_targets.py fails, naming
  the route, until it has one).
- A form gets a FormTarget in FORMS: its path, a plausible submission, the fields a person types into, and who
  may use it. The SQL injection, OS command injection, XSS, CSRF and buffer-overflow modules then send their
  payloads into it (a GET form, such as a search, gets them in its query string).
- Staff pages are walked signed out and signed in as a supervisor (the role that reaches the most pages).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.http import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from apps.security.models import User
from tests.factories import PASSWORD, UserFactory, staff_user, supervisor_user

Host = Literal["city", "public"]
Role = Literal["staff", "supervisor"]
HOSTS: tuple[Host, ...] = ("city", "public")
CITY_HOST = "ageo.localhost"  # conftest.py's `city`
PUBLIC_HOST = "localhost"
URLCONFS: dict[Host, str] = {"city": "madoguchi.urls_tenant", "public": "madoguchi.urls_public"}
STAFF_LOGIN = "tanaka"
STAFF_EMAIL = "tanaka@city.ageo.example"
SUPERVISOR_LOGIN = "sato"
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32, a test value
NEW_PASSWORD = "a-new-Passphrase-2026"


@dataclass(frozen=True)
class FormTarget:
    name: str
    path: str
    data: Mapping[str, str]  # a plausible submission; attacks replace one text field at a time
    text_fields: tuple[str, ...]  # what a person types into: each gets every payload
    hosts: tuple[Host, ...] = HOSTS
    signed_in: bool = False  # the form needs a signed-in staff member (see sign_in)
    role: Role = "staff"  # who signs in, when signed_in
    method: Literal["post", "get"] = "post"
    shown_at: str | None = None  # the page that shows the form, when it is not `path`
    # Statuses a correct handling of a bad value may answer with (a re-rendered form, a redirect, a refusal).
    ok_statuses: frozenset[int] = field(default_factory=lambda: frozenset({200, 302, 400, 403, 404, 405}))


FORMS: list[FormTarget] = [
    FormTarget(
        "login",
        "/accounts/login/",
        {"login": STAFF_LOGIN, "password": PASSWORD},
        ("login", "password"),
    ),
    FormTarget("password reset", "/accounts/password/reset/", {"email": STAFF_EMAIL}, ("email",)),
    FormTarget(
        "password change",
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        ("oldpassword", "password1", "password2"),
        signed_in=True,
    ),
    # The password reauthentication page (/accounts/reauthenticate/) is not a target: for an account with a second
    # factor, which every account here has, it sends to the code's page below (a password never stands in for it).
    FormTarget(
        "add email",
        "/accounts/email/",
        {"email": "second@city.ageo.example", "action_add": ""},
        ("email",),
        signed_in=True,
    ),
    FormTarget(
        "reauthenticate with a second factor",
        "/accounts/2fa/reauthenticate/",
        {"code": "123456"},
        ("code",),
        signed_in=True,
    ),
    FormTarget(
        "language switch",
        "/i18n/setlang/",
        {"language": "en", "next": "/"},
        ("language", "next"),
        shown_at="/",
    ),
    FormTarget(
        "allowed network",
        "/staff/security/networks/",
        {"cidr": "192.0.2.0/24", "label": "本庁舎 市民課"},
        ("cidr", "label"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "security policy",
        "/staff/security/policy/",
        {"mfa_required_for_staff": "on", "idle_timeout_minutes": "30", "absolute_timeout_hours": "12"},
        ("idle_timeout_minutes", "absolute_timeout_hours"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "announcement",
        "/staff/booking/announcements/new/",
        {
            "title_ja": "臨時休業のお知らせ",
            "title_en": "Closed",
            "body_ja": "<p>本文</p>",
            "body_en": "",
            "starts_at": "2026-01-05T09:00",
            "ends_at": "",
        },
        ("title_ja", "title_en", "body_ja", "body_en"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "email text",
        "/staff/booking/mail-texts/booked/ja/",
        {"subject": "予約 {code}", "body": "{city} {date}", "action": "preview"},
        ("subject", "body"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "audit log filter",
        "/staff/audit/",
        {"from": "", "to": "", "action": "", "actor": STAFF_LOGIN, "address": ""},
        ("from", "to", "action", "actor", "address"),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "maintenance proposal",
        "/console/maintenance/new/",
        {
            "cities": "1",
            "modules": "issuance",
            "window_start": "2036-01-06T02:00",
            "window_end": "2036-01-06T03:00",
            "title_ja": "サーバー更新",
            "title_en": "Server update",
            "body_ja": "更新のため停止します",
            "body_en": "",
        },
        ("title_ja", "title_en", "body_ja", "body_en"),
        hosts=("public",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "incident",
        "/console/availability/incidents/new/",
        {
            "title": "予約画面が表示されない",
            "received_at": "2026-12-05T09:12",
            "received_via": "phone",
            "severity": "s2",
            "status": "open",
            "cities": "ageo",
            "modules": "booking",
            "cause": "調査中",
            "resolution": "",
            "resolved_at": "",
        },
        ("title", "cities", "cause", "resolution"),
        hosts=("public",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "availability report",
        "/console/availability/",
        {"city": "ageo", "month": "2026-11"},
        ("city", "month"),
        hosts=("public",),
        signed_in=True,
        role="supervisor",
        method="get",
    ),
    FormTarget(
        "log out everywhere",
        "/staff/account/logout-everywhere/",
        {},
        (),
        hosts=("city",),
        signed_in=True,
        shown_at="/staff/",
    ),
]

# Routes the walk cannot fill in by itself (regular expressions), keyed by the route as the walk spells it.
ROUTE_EXAMPLES: dict[str, str] = {
    r"accounts/^confirm-email/(?P<key>[-:\w]+)/$": "accounts/confirm-email/no-such-key/",
    r"accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "accounts/password/reset/key/1-no-such-key/",
    r"console/admin/^(?P<app_label>tenants|auth|account|mfa|security)/$": "console/admin/auth/",
    r"console/admin/(?P<url>.*)$": "console/admin/no-such-page/",
}
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?\w+>")
_CONVERTER_EXAMPLES = {
    "int": "1",
    "slug": "example",
    "path": "1",
    "str": "1",
    "uuid": "00000000-0000-0000-0000-000000000001",
}


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def routes(host: Host) -> list[str]:
    """Every route of the host's URLconf, as the walk spells it (route syntax or regex, prefixes joined)."""
    return list(dict.fromkeys(_routes(get_resolver(URLCONFS[host]))))


def example_path(route: str) -> str | None:
    """A concrete path for `route` ("/..."), or None when a regex route has no entry in ROUTE_EXAMPLES."""
    if route in ROUTE_EXAMPLES:
        return "/" + ROUTE_EXAMPLES[route]
    if any(ch in route for ch in "^$()[]?*+\\"):
        return None
    filled = _CONVERTER.sub(lambda m: _CONVERTER_EXAMPLES.get(m.group("kind") or "str", "1"), route)
    return "/" + filled


def paths(host: Host) -> list[str]:
    """A concrete path for every route of the host that has one."""
    found = (example_path(route) for route in routes(host))
    return list(dict.fromkeys(p for p in found if p is not None))


def client_for(host: Host, **defaults: str) -> Client:
    return Client(HTTP_HOST=CITY_HOST if host == "city" else PUBLIC_HOST, **defaults)


def schema_of(host: Host) -> str:
    return "ageo" if host == "city" else "public"


def make_staff(host: Host, role: Role = "staff") -> User:
    """The person the attacks sign in as, with an authenticator app (staff accounts need a second factor).

    City: a counter staff member or a supervisor. Public host: a vendor employee (a superuser when `role` is
    "supervisor", as the vendor's console staff are). Idempotent.
    """
    username = STAFF_LOGIN if role == "staff" else SUPERVISOR_LOGIN
    email = f"{username}@city.ageo.example"
    with schema_context(schema_of(host)):
        if host == "city":
            make = staff_user if role == "staff" else supervisor_user
            user = make(username=username, email=email)
        else:
            user = UserFactory(
                username=username, email=email, is_staff=True, is_superuser=role == "supervisor"
            )
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, STAFF_TOTP_SECRET)
    return user


def current_totp_code(secret: str = STAFF_TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def sign_in(client: Client, host: Host, user: User | None = None, role: Role = "staff") -> User:
    """Sign `client` in through the real login: password, then the authenticator code.

    allauth refuses a code used twice, so sign each user in at most once per test.
    """
    user = user or make_staff(host, role)
    response = client.post("/accounts/login/", {"login": user.get_username(), "password": PASSWORD})
    if response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/"):
        response = client.post("/accounts/2fa/authenticate/", {"code": current_totp_code()})
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    assert response.wsgi_request.user.is_authenticated
    return user


def prepare(client: Client, host: Host, form: FormTarget) -> User:
    """Sign in as the form needs, or at least create the account its data names; returns that user."""
    return sign_in(client, host, role=form.role) if form.signed_in else make_staff(host, form.role)


def submit(client: Client, form: FormTarget, data: Mapping[str, str]) -> HttpResponseBase:
    if form.method == "get":
        return client.get(form.path, data)
    response = client.post(form.path, data)
    if response.status_code == 303:
        # A search posted and shown at an opaque id (apps/security/searches.py): the page that shows what was
        # searched for is the one to attack.
        response = client.get(response["Location"])
    return response


# Issuance's forms, one module per area (each defines FORMS), so parallel work does not edit one list.
AREA_FORM_MODULES = (
    "tests.security.forms_cards",
    "tests.security.forms_import",
    "tests.security.forms_notices",
    "tests.security.forms_counter",
    "tests.security.forms_reports",
)


def all_forms() -> list[FormTarget]:
    import importlib

    extra = [form for name in AREA_FORM_MODULES for form in importlib.import_module(name).FORMS]
    return [*FORMS, *extra]


def forms_for(host: Host) -> list[FormTarget]:
    return [form for form in all_forms() if host in form.hosts]


def form_cases(method: str | None = None) -> list[tuple[Host, FormTarget]]:
    """(host, form) pairs for pytest.mark.parametrize, with readable ids through `case_id`."""
    return [
        (host, form) for host in HOSTS for form in forms_for(host) if method is None or form.method == method
    ]


def case_id(value: object) -> str:
    if isinstance(value, FormTarget):
        return value.name.replace(" ", "-")
    return str(value)


# Password hashing is not what these modules test, and at full strength it would make hundreds of login attempts
# take minutes.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def relax_for_attacks(settings: Any) -> None:
    """For the attack modules (call from an autouse fixture with pytest-django's `settings`): fast password hashing
    and a lockout that never triggers. The lockout has its own tests; here it would hide the attacks, since the
    sixth payload posted into a login would meet a locked account instead of the code under test."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.LOCKOUT_ACCOUNT_FAILURES = 1_000_000
    settings.LOCKOUT_ADDRESS_FAILURES = 1_000_000
