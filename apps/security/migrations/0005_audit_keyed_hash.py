"""The keyed audit hash (hash_version) and the recorded chain head (AuditHead), in every schema.

Existing rows get hash_version 1 through the column's default: adding a column does not fire the append-only
trigger (no row is updated), and nothing here updates a row. New rows get 2 (the model's default). The head is
initialised at the chain's current end, with `keyed_from` just after it: from here on, an unkeyed row is a downgrade.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models

# Same value as apps.security.audit.AUDIT_CHAIN_LOCK: the head is read and written under the chain's lock.
AUDIT_CHAIN_LOCK = 7_100_010


def _head_mac(schema: str, *, keyed_from: int, sequence: int, hash: str) -> str:
    # The version-2 derivation of apps.security.audit_keys, copied so that this migration keeps its meaning.
    master = str(settings.AUDIT_KEY).encode("utf-8")
    key = hmac.new(master, ("madoguchi-audit:v2:" + schema).encode("utf-8"), hashlib.sha256).digest()
    message = f"madoguchi-audit-head:v2:{keyed_from}:{sequence}:{hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_initialise(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    schema = getattr(connection, "schema_name", "public")
    AuditEvent = apps.get_model("security", "AuditEvent")
    AuditHead = apps.get_model("security", "AuditHead")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [AUDIT_CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    sequence, hash = last if last else (0, "0" * 64)
    AuditHead.objects.update_or_create(
        id=1,
        defaults={
            "keyed_from": sequence + 1,
            "sequence": sequence,
            "hash": hash,
            "mac": _head_mac(schema, keyed_from=sequence + 1, sequence=sequence, hash=hash),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("security", "0004_counter")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("keyed_from", models.BigIntegerField()),
                ("sequence", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="security_audithead_one_row")
                ],
            },
        ),
        migrations.RunPython(head_initialise, migrations.RunPython.noop),
    ]
