"""Attack: removing the newest audit events (a shorter chain is still a valid chain), then hiding that.

The recorded head (`AuditHead`: sequence and hash under a MAC with the city's key) is moved with every event in the
same transaction; `audit_verify` compares the chain's end with it. Without the key, the head cannot be moved back.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_chain import audit_verify
from apps.security.audit_models import AuditEvent, AuditHead
from apps.security.tasks import audit_verify_daily
from tenants.models import Municipality


@pytest.fixture(autouse=True)
def _superuser(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("the intruder switches triggers off: the test database user must be a superuser")


def _record(schema: str, count: int) -> list[AuditEvent]:
    with schema_context(schema):
        return [
            audit_record(action="policy.changed", actor=SYSTEM, summary=f"event {n}") for n in range(count)
        ]


def _delete_newest(schema: str, after: int) -> None:
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # skips the append-only triggers
        cursor.execute("DELETE FROM security_auditevent WHERE sequence > %s", [after])
        cursor.execute("SET LOCAL session_replication_role = origin")


def _broken(schema: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match=f"audit chain broken in: {schema}"):
        call_command("audit_verify", "--schema", schema, stdout=out)
    return out.getvalue()


def test_deleting_the_newest_events_is_reported_as_truncated(city: Municipality) -> None:
    _record(city.schema_name, 5)
    _delete_newest(city.schema_name, 3)
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason, result.last_sequence, result.head_sequence) == (
        4,
        "truncated",
        3,
        5,
    )
    output = _broken(city.schema_name)
    assert "ageo: BROKEN at sequence 4: the newest rows are missing" in output
    assert "rows after sequence 3 are missing, the head records 5" in output


@override_settings(VENDOR_ALERT_EMAILS=["soc@vendor.example"])
def test_the_daily_check_mails_the_vendor_about_a_truncated_chain(city: Municipality) -> None:
    _record(city.schema_name, 3)
    _delete_newest(city.schema_name, 1)
    assert audit_verify_daily() == ["ageo: sequence 2 (truncated)"]
    assert len(mail.outbox) == 1
    assert "ageo: sequence 2 (truncated): the newest rows are missing" in mail.outbox[0].body


def test_moving_the_head_back_without_the_key_is_reported_as_forged(city: Municipality) -> None:
    events = _record(city.schema_name, 5)
    _delete_newest(city.schema_name, 3)
    with schema_context(city.schema_name):
        # The intruder points the head at the new end; a MAC needs the key, so any value they can write is wrong.
        AuditHead.objects.update(sequence=3, hash=events[2].hash, mac="0" * 64)
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason) == (3, "head forged")
    assert "the recorded head's MAC does not verify" in _broken(city.schema_name)


def test_deleting_the_head_as_well_is_reported(city: Municipality) -> None:
    _record(city.schema_name, 3)
    _delete_newest(city.schema_name, 0)
    with schema_context(city.schema_name):
        AuditHead.objects.all().delete()
    assert audit_verify(city.schema_name).reason == "head missing"


def test_events_recorded_after_a_truncation_keep_the_gap_visible(city: Municipality) -> None:
    _record(city.schema_name, 5)
    _delete_newest(city.schema_name, 3)
    # The application goes on writing: it continues after the head, not after the shortened end.
    (event,) = _record(city.schema_name, 1)
    assert event.sequence == 6
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason) == (4, "missing")


def test_a_forged_head_is_not_replaced_by_the_next_event(city: Municipality) -> None:
    events = _record(city.schema_name, 4)
    _delete_newest(city.schema_name, 2)
    with schema_context(city.schema_name):
        AuditHead.objects.update(sequence=2, hash=events[1].hash, mac="f" * 64)
    _record(city.schema_name, 1)  # would otherwise write a fresh, valid head over the evidence
    assert audit_verify(city.schema_name).reason == "head forged"


def test_the_head_is_updated_with_every_event(city: Municipality) -> None:
    events = _record(city.schema_name, 3)
    with schema_context(city.schema_name):
        head = AuditHead.objects.get()
    assert (head.sequence, head.hash) == (events[-1].sequence, events[-1].hash)
    # An event rolled back takes its head move with it.
    with schema_context(city.schema_name):
        with pytest.raises(RuntimeError):
            _record_then_fail()
        assert AuditHead.objects.get().sequence == events[-1].sequence
    assert audit_verify(city.schema_name).ok


def _record_then_fail() -> None:
    with transaction.atomic():
        audit_record(action="policy.changed", actor=SYSTEM)
        raise RuntimeError("the service failed")
