"""Issue 10, item 9: TOTP secrets were stored in clear, so a copy of the database (a backup, a dump) gave every
staff member's codes. Now the secret and the recovery-code seed are encrypted under a key that is not in the
database (apps/security/mfa.py), and the secrets stored before are encrypted by migration 0006."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.security.mfa import (
    ENCRYPTED_PREFIX,
    UnreadableSecretError,
    authenticators_encrypt,
    secret_decrypt,
    secret_encrypt,
)
from apps.security.models import Role, User
from tenants.models import Municipality
from tests.factories import PASSWORD, UserFactory, totp_code, with_totp


@pytest.fixture
def staff(city: Municipality) -> User:
    with schema_context(city.schema_name):
        return UserFactory.create(username="ikeda", role=Role.STAFF)


def _stored(city: Municipality, user: User) -> str:
    """The row as a dump shows it: raw text from the table, no adapter in between."""
    with schema_context(city.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM mfa_authenticator WHERE user_id = %s ORDER BY type", [user.pk])
        return " ".join(row[0] for row in cursor.fetchall())


def _login(client: Client, username: str, code: str) -> int:
    client.post("/accounts/login/", {"login": username, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": code})
    return client.get("/staff/").status_code


def test_the_stored_secret_is_not_the_secret_and_its_code_still_logs_in(
    city: Municipality, staff: User
) -> None:
    with schema_context(city.schema_name):
        secret = with_totp(staff)
        seed = RecoveryCodes.activate(staff).instance.data["seed"]
    stored = _stored(city, staff)
    assert secret not in stored
    assert secret_decrypt(seed) not in stored
    assert stored.count(ENCRYPTED_PREFIX) == 2  # the TOTP secret and the recovery-code seed
    assert _login(Client(HTTP_HOST="ageo.localhost"), "ikeda", totp_code(secret)) == 200


def test_secrets_stored_in_clear_before_are_read_then_encrypted(city: Municipality, staff: User) -> None:
    secret = generate_totp_secret()
    with schema_context(city.schema_name):
        # As rows written before migration 0006 look: no adapter, the secret as it is.
        Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": secret})
    assert secret in _stored(city, staff)
    assert secret_decrypt(secret) == secret  # read as it is until the migration has run

    with schema_context(city.schema_name):
        assert authenticators_encrypt(Authenticator.objects.all()) == 1
        assert authenticators_encrypt(Authenticator.objects.all()) == 1  # a new token, the same secret
    assert secret not in _stored(city, staff)
    # (A code is accepted once: this is the first login with it.)
    assert _login(Client(HTTP_HOST="ageo.localhost"), "ikeda", totp_code(secret)) == 200


def test_the_migration_encrypts_every_schema(city: Municipality, other_city: Municipality) -> None:
    from django.apps import apps as live_apps

    migration = __import__("apps.security.migrations.0006_totp_encrypted", fromlist=["encrypt"])
    secrets = {}
    for municipality in (city, other_city):
        with schema_context(municipality.schema_name):
            user = UserFactory(username="clear", role=Role.STAFF)
            secrets[municipality.slug] = generate_totp_secret()
            Authenticator.objects.create(
                user=user, type=Authenticator.Type.TOTP, data={"secret": secrets[municipality.slug]}
            )
            migration.encrypt(live_apps, connection.schema_editor())
    for municipality in (city, other_city):
        with schema_context(municipality.schema_name):
            stored = Authenticator.objects.get(user__username="clear").data["secret"]
            assert stored.startswith(ENCRYPTED_PREFIX)
            assert secret_decrypt(stored) == secrets[municipality.slug]


def test_a_rotated_secret_key_keeps_the_secrets_readable_only_with_the_old_key_as_fallback() -> None:
    with override_settings(SECRET_KEY="old-key-" + "x" * 50):
        token = secret_encrypt("JBSWY3DPEHPK3PXP")
    with override_settings(SECRET_KEY="new-key-" + "y" * 50, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 50]):
        assert secret_decrypt(token) == "JBSWY3DPEHPK3PXP"
    with override_settings(SECRET_KEY="new-key-" + "y" * 50), pytest.raises(UnreadableSecretError):
        secret_decrypt(token)  # never a guessable stand-in secret


def test_totp_code_command_prints_the_current_code(city: Municipality, staff: User) -> None:
    with schema_context(city.schema_name):
        secret = with_totp(staff)
    out = StringIO()
    call_command("totp_code", "ageo", "ikeda", stdout=out)
    assert out.getvalue().strip() == totp_code(secret)


def test_the_demo_prints_a_usable_secret(db: None) -> None:
    from madoguchi.demo import demo_setup

    vendor = next(login for login in demo_setup() if login.username == "vendor")
    assert vendor.totp_secret
    assert not vendor.totp_secret.startswith(ENCRYPTED_PREFIX)
    client = Client(HTTP_HOST="localhost")
    client.post("/accounts/login/", {"login": "vendor", "password": _demo_password()})
    assert (
        client.post("/accounts/2fa/authenticate/", {"code": totp_code(vendor.totp_secret)}).status_code == 302
    )
    assert client.get("/console/").status_code == 200
    with schema_context("public"):
        assert User.objects.get(username="vendor").is_superuser


def _demo_password() -> str:
    from madoguchi.demo import DEMO_PASSWORD

    return DEMO_PASSWORD


def test_a_secret_key_rotation_ends_with_mfa_reencrypt_in_every_schema(
    city: Municipality, other_city: Municipality
) -> None:
    old, new = "old-key-" + "x" * 50, "new-key-" + "y" * 50
    secrets = {}
    with override_settings(SECRET_KEY=old, SECRET_KEY_FALLBACKS=[]):
        for municipality in (city, other_city):
            with schema_context(municipality.schema_name):
                user = UserFactory.create(username="rotating", role=Role.STAFF)
                secrets[municipality.slug] = with_totp(user)
    # The new key with the old one as fallback: the command re-encrypts every city's secrets.
    out = StringIO()
    with override_settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[old]):
        call_command("mfa_reencrypt", stdout=out)
    assert f"{city.schema_name}: 1 re-encrypted" in out.getvalue()
    assert f"{other_city.schema_name}: 1 re-encrypted" in out.getvalue()
    # The old key removed: every secret still opens under the new key alone.
    with override_settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[]):
        for municipality in (city, other_city):
            with schema_context(municipality.schema_name):
                stored = Authenticator.objects.get(user__username="rotating").data["secret"]
                assert secret_decrypt(stored) == secrets[municipality.slug]
    # And under the old key alone they no longer open: they really moved.
    with override_settings(SECRET_KEY=old, SECRET_KEY_FALLBACKS=[]), schema_context(city.schema_name):
        stored = Authenticator.objects.get(user__username="rotating").data["secret"]
        with pytest.raises(UnreadableSecretError):
            secret_decrypt(stored)
