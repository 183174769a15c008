"""TOTP secrets and recovery-code seeds encrypted at rest (apps.security.mfa.MFAAdapter), in every schema.

Secrets stored in clear before this are encrypted under the current key; run again (or reversed and re-applied)
it also moves secrets under a fallback key to the current one. Reversing decrypts them, for code that does not
know the adapter yet.
"""

from typing import Any

from django.db import migrations

from apps.security.mfa import authenticators_convert, secret_decrypt, secret_reencrypt


def encrypt(apps: Any, schema_editor: Any) -> None:
    authenticator = apps.get_model("mfa", "Authenticator")
    authenticators_convert(
        authenticator.objects.using(schema_editor.connection.alias).iterator(), secret_reencrypt
    )


def decrypt(apps: Any, schema_editor: Any) -> None:
    authenticator = apps.get_model("mfa", "Authenticator")
    authenticators_convert(
        authenticator.objects.using(schema_editor.connection.alias).iterator(), secret_decrypt
    )


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0005_audit_keyed_hash"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt, decrypt, elidable=False)]
