"""Placeholder: TOTP secrets encrypted at rest (filled by the MFA work)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("security", "0005_audit_keyed_hash")]

    operations: list[migrations.operations.base.Operation] = []
