"""The daily chain check tells the vendor when a city's audit log was tampered with."""

from __future__ import annotations

from django.core import mail
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.tasks import audit_verify_daily
from tenants.models import Municipality


@override_settings(VENDOR_ALERT_EMAILS=["soc@vendor.example"])
def test_a_clean_chain_sends_nothing(city: Municipality) -> None:
    with schema_context(city.schema_name):
        audit_record(action="policy.changed", actor=SYSTEM, summary="ok")
    assert audit_verify_daily() == []
    assert mail.outbox == []


@override_settings(VENDOR_ALERT_EMAILS=["soc@vendor.example"])
def test_a_changed_row_is_mailed_to_the_vendor(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        for index in range(3):
            audit_record(action="policy.changed", actor=SYSTEM, summary=f"change {index}")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # bypass the append-only trigger
        cursor.execute("UPDATE ageo.security_auditevent SET summary = 'rewritten' WHERE sequence = 2")
        cursor.execute("SET LOCAL session_replication_role = origin")
    lines = audit_verify_daily()
    assert len(lines) == 1
    assert lines[0].startswith("ageo: sequence 2")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["soc@vendor.example"]
    assert "ageo" in mail.outbox[0].body
