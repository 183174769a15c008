"""Placeholder: the keyed audit hash and the recorded chain head (filled by the audit work)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("security", "0004_counter")]

    operations: list[migrations.operations.base.Operation] = []
